using System.Diagnostics;
using System.Text;
using Lighthouse.Mount.Testing;
using Lighthouse.Store;
using static Lighthouse.Cli.Tests.MountShell;

namespace Lighthouse.Cli.Tests;

/// <summary>
/// Issue 13 items 3 and 4 on a real mount: three agents of one uid (roles owner, builder, reviewer, started by
/// `lighthouse run`) try every operation on allowed, hidden, read-only and role-denied paths of current/ and
/// history/; each result must equal the policy, and every refusal must be a 'deny' event of that agent. Then the
/// escapes: hard links, symlinks, renames out of a hidden directory, `..`, another agent's cached names, and a command
/// line rule (`rm -rf`).
/// </summary>
public sealed class PolicyEnforcementTests
{
    private const string Policy = """
        mode: enforce
        rules:
          - name: owners see secrets
            paths: ["secrets/"]
            roles: [owner]
            effect: allow
          - name: secrets are hidden
            paths: ["secrets/"]
            effect: hide
          - name: vendor is read-only
            path: /vendor/
            effect: read-only
          - name: reviewers do not change sources
            paths: ["src/"]
            ops: [write, create, delete, rename, meta]
            roles: [reviewer]
            effect: deny
          - name: builders do not wipe trees
            ops: [delete, write]
            roles: [builder]
            commands: ["rm -rf *", "rm -fr *"]
            effect: deny
        """;

    private static readonly string[] Roles = ["owner", "builder", "reviewer"];
    private static readonly string[] Areas = ["src", "secrets", "vendor", "docs"];
    private static readonly string[] Operations = ["read", "list", "write", "create", "meta", "rename", "delete"];

    /// <summary>What the policy above says: "ok", or the errno name a refusal gives.</summary>
    private static string Expected(string role, string area, string operation) => area switch
    {
        "secrets" => role == "owner" ? "ok" : "ENOENT",
        "vendor" => operation is "read" or "list" ? "ok" : "EROFS",
        "src" => role == "reviewer" && operation is not ("read" or "list") ? "EACCES" : "ok",
        _ => "ok",
    };

    /// <summary>The path a refusal is recorded under: the name asked for, or the hidden directory the walk stopped at.</summary>
    private static string DeniedPath(string role, string area, string operation) => area == "secrets" ? "secrets" : operation switch
    {
        "create" => $"{area}/new-{role}",
        "rename" => $"{area}/ren-{role}",
        "delete" => $"{area}/del-{role}",
        "list" => area,
        _ => $"{area}/{FileOf(area)}",
    };

    private static string FileOf(string area) => area switch { "src" => "main.c", "secrets" => "key.pem", "vendor" => "lib.c", _ => "guide.md" };

    [Fact]
    public void Every_role_gets_what_the_policy_says_on_every_path_of_current_and_history_and_every_refusal_is_logged()
    {
        using var m = new LighthouseMountFixture();
        var c = m.Current;
        // The tree, made by an outsider before the policy exists: one file per area, and per role a file to rename and one to delete.
        var setup = new StringBuilder($"set -e; cd {c}; mkdir -p secrets vendor docs; echo key > secrets/key.pem; echo lib > vendor/lib.c; echo guide > docs/guide.md;");
        foreach (var area in Areas)
            foreach (var role in Roles)
                setup.Append($" echo r > {area}/ren-{role}; echo d > {area}/del-{role};");
        setup.Append(" mkdir -p docs/tree/a && echo t > docs/tree/a/t.txt");
        Sh(setup.ToString()).Must();
        MountControl.WaitUntilIdle(m.Project);
        var point = m.LastSeq;
        File.WriteAllText(Path.Combine(m.Project, ".lighthouse", "policy.yaml"), Policy);
        WaitForPolicy(m);

        var failures = new List<string>();
        var denials = new List<(string Agent, string Path, string What)>();
        foreach (var role in Roles)
        {
            var agent = $"{role}-1";
            var script = new StringBuilder("t() { label=$1; shift; if out=$(\"$@\" 2>&1); then echo \"$label ok\"; else echo \"$label FAIL $out\" | tr '\\n' ' '; echo; fi; }\n");
            foreach (var area in Areas)
            {
                var file = $"{c}/{area}/{FileOf(area)}";
                script.Append($"t '{area} read' cat {file}\n");
                script.Append($"t '{area} list' ls {c}/{area}\n");
                script.Append($"t '{area} write' sh -c 'echo more >> {file}'\n");
                script.Append($"t '{area} create' touch {c}/{area}/new-{role}\n");
                script.Append($"t '{area} meta' chmod 644 {file}\n");
                script.Append($"t '{area} rename' mv {c}/{area}/ren-{role} {c}/{area}/ren-{role}.2\n");
                script.Append($"t '{area} delete' rm {c}/{area}/del-{role}\n");
            }
            // history/: reading and listing the same paths as of the point before the policy.
            script.Append($"t 'history-secrets read' cat {m.History}/@{point}/secrets/key.pem\n");
            script.Append($"t 'history-src read' cat {m.History}/@{point}/src/main.c\n");
            script.Append($"echo \"history-root list ok $(ls {m.History}/@{point} | tr '\\n' ' ')\"\n");
            var run = Lh(m, $"run --agent {agent} --role {role} -C {m.Project} -- /bin/sh -c {Quote(script.ToString())}");
            Assert.True(run.Code == 0, run.Output);
            var results = run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(l => l.Split(' ', 4)).ToDictionary(p => $"{p[0]} {p[1]}", p => (Outcome: p[2], Text: p.Length > 3 ? p[3] : ""));
            foreach (var area in Areas)
                foreach (var operation in Operations)
                {
                    var (outcome, text) = results[$"{area} {operation}"];
                    var got = outcome == "ok" ? "ok" : Errno(text);
                    var expected = Expected(role, area, operation);
                    if (got != expected) failures.Add($"{role} {operation} {area}: expected {expected}, got {got} ({text})");
                    else if (expected != "ok") denials.Add((agent, DeniedPath(role, area, operation), $"{role} {operation} {area}"));
                }
            Assert.Equal(role == "owner" ? "ok" : "FAIL", results["history-secrets read"].Outcome);
            if (role != "owner") Assert.Equal("ENOENT", Errno(results["history-secrets read"].Text));
            Assert.Equal("ok", results["history-src read"].Outcome);
            Assert.Contains("src", results["history-root list"].Text);
            Assert.Equal(role == "owner", results["history-root list"].Text.Contains("secrets"));
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));

        MountControl.WaitUntilIdle(m.Project);
        var denied = Events(m).Where(e => e.Op == EventOp.Deny).ToList();
        var missing = denials.Where(d => !denied.Any(e => e.Agent == d.Agent && (e.Path == d.Path || e.Path2 == d.Path))).ToList();
        Assert.True(missing.Count == 0, "refusals without a deny event:\n" + string.Join("\n", missing.Select(d => $"{d.What} ({d.Agent} {d.Path})")) +
            "\ndeny events:\n" + string.Join("\n", denied.Select(e => $"@{e.Seq} {e.Agent} {e.Path} {e.Detail}")));
        Assert.All(denied, e => Assert.Equal(AgentVia.Ancestor, e.AgentVia));
        Assert.Contains(denied, e => e.Detail!.Contains("\"rule\":\"rule 4 'reviewers do not change sources'"));
        // The policy's arrival is itself in the log.
        Assert.Contains(Events(m), e => e.Op == EventOp.Policy && e.Detail!.Contains("\"outcome\":\"loaded\""));
    }

    [Fact]
    public void No_escape_through_hard_links_symlinks_renames_dot_dot_cached_names_or_a_forbidden_command()
    {
        using var m = new LighthouseMountFixture();
        var c = m.Current;
        Sh($"set -e; cd {c}; mkdir -p secrets vendor docs/tree/a; echo key > secrets/key.pem; echo lib > vendor/lib.c; echo t > docs/tree/a/t.txt").Must();
        MountControl.WaitUntilIdle(m.Project);
        var point = m.LastSeq;
        // Before there is a policy the builder reads the secret, in current/ and history/: the kernel caches those names
        // (for everyone), and the policy that comes next must not be answered from that cache.
        var before = Lh(m, $"run --agent bob --role builder -C {m.Project} -- /bin/sh -c {Quote($"cat {c}/secrets/key.pem {m.History}/@{point}/secrets/key.pem && ls {m.History}/@{point}/secrets")}");
        Assert.True(before.Code == 0 && before.Stdout.StartsWith("key\nkey\n"), before.Output);
        File.WriteAllText(Path.Combine(m.Project, ".lighthouse", "policy.yaml"), Policy);
        WaitForPolicy(m);

        string[] attempts =
        [
            $"cat {c}/secrets/key.pem",                           // right after the owner: no cached name serves it
            $"stat {c}/secrets/key.pem",
            $"cat {c}/docs/../secrets/key.pem",                   // ..
            $"ln {c}/secrets/key.pem {c}/docs/k",                  // hard link out of a hidden directory
            $"mv {c}/secrets/key.pem {c}/docs/key.pem",            // rename out of it
            $"mv {c}/secrets {c}/docs/s",                          // the directory itself
            $"sh -c 'ln -s ../secrets/key.pem {c}/docs/link && cat {c}/docs/link'", // a symlink into it
            $"ln {c}/vendor/lib.c {c}/docs/lib",                   // hard link of a read-only file: a writable name for it
            // The same process, its command line changed by exec: the shell's own write (a truncation) has its command
            // line read first, then `rm -rf` runs in its place.
            $"sh -c 'echo x > {c}/docs/f.txt && echo y > {c}/docs/f.txt && exec rm -rf {c}/docs/tree'",
            $"rm -rf {c}/docs/tree",                               // the command line rule
            $"cat {m.History}/@1/../latest/secrets/key.pem",
            $"cat {m.History}/@{point}/secrets/key.pem",          // cached before the policy came
            $"ls {m.History}/@{point}/secrets",
            $"sh -c 'ls {m.History}/@{point} | grep -x secrets'",  // a listing cached before the policy
        ];
        var script = string.Join("\n", attempts.Select((a, i) => $"if out=$({a} 2>&1); then echo \"{i} ESCAPED $out\" | tr '\\n' ' '; echo; else echo \"{i} refused $out\" | tr '\\n' ' '; echo; fi"));
        // Right after the policy came (names cached before it must be gone), then after the owner read the secret (its
        // names must not serve the builder).
        Outcome builder = null!;
        foreach (var round in new[] { "after the policy came", "after the owner" })
        {
            if (round == "after the owner")
            {
                var owner = Lh(m, $"run --agent boss --role owner -C {m.Project} -- /bin/sh -c {Quote($"cat {c}/secrets/key.pem && stat -c %s {c}/secrets/key.pem && ls {c}/secrets {m.History}/@{point}/secrets")}");
                Assert.True(owner.Code == 0, owner.Output);
                Assert.Contains("key.pem", owner.Stdout);
            }
            builder = Lh(m, $"run --agent bob --role builder -C {m.Project} -- /bin/sh -c {Quote(script)}");
            Assert.True(builder.Code == 0, builder.Output);
            var escaped = builder.Stdout.Split('\n').Where(l => l.Contains(" ESCAPED")).ToList();
            Assert.True(escaped.Count == 0, $"escapes {round}:\n" + string.Join("\n", escaped.Select(l => attempts[int.Parse(l.Split(' ')[0])] + " -> " + l)));
        }
        Assert.DoesNotContain("key\n", builder.Stdout);
        Assert.True(File.Exists(Path.Combine(m.Project, "secrets", "key.pem")));
        Assert.True(File.Exists(Path.Combine(m.Project, "docs", "tree", "a", "t.txt")));
        // The builder may still remove a file one by one: the rule is about the command, not the path.
        var rm = Lh(m, $"run --agent bob --role builder -C {m.Project} -- rm {c}/docs/tree/a/t.txt");
        Assert.True(rm.Code == 0, rm.Output);
        MountControl.WaitUntilIdle(m.Project);
        var denied = Events(m).Where(e => e.Op == EventOp.Deny && e.Agent == "bob").ToList();
        Assert.Contains(denied, e => e.Path == "secrets");
        Assert.Contains(denied, e => e.Path == "vendor/lib.c");
        Assert.Contains(denied, e => e.Path.StartsWith("docs/tree") && e.Detail!.Contains("\"command\":\"rm -rf"));
    }

    /// <summary>Waits until the mount has loaded the policy (it re-reads the file within a second).</summary>
    private static void WaitForPolicy(LighthouseMountFixture m)
    {
        var sw = Stopwatch.StartNew();
        while (!Events(m).Any(e => e.Op == EventOp.Policy))
        {
            if (sw.Elapsed > TimeSpan.FromSeconds(15)) throw new TimeoutException("the mount did not load the policy:\n" + m.Log);
            Thread.Sleep(100);
        }
    }

    private static string Errno(string message) =>
        message.Contains("No such file or directory") || message.Contains("Directory nonexistent") ? "ENOENT"
        : message.Contains("Permission denied") ? "EACCES"
        : message.Contains("Read-only file system") ? "EROFS"
        : "other: " + message;
}
