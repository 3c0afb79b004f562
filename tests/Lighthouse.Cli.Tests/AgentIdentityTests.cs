using System.Diagnostics;
using Lighthouse.Mount.Testing;
using Lighthouse.Store;
using static Lighthouse.Cli.Tests.MountShell;

namespace Lighthouse.Cli.Tests;

/// <summary>
/// Issue 13 items 1 and 2 on a real mount: two agents of one uid started by `lighthouse run` are each credited with their
/// own changes — a shell redirection, `sed -i`, `git`, a grandchild started with an empty environment — and a process
/// outside both with the fallback; a token identifies a process outside any run, and forged, expired, revoked and other
/// projects' tokens are refused (the mount says so) and fall through to the next rule; one agent cannot start another,
/// and another user needs the agent's token.
/// </summary>
public sealed class AgentIdentityTests
{
    [Fact]
    public void Two_agents_of_one_uid_are_each_credited_with_their_own_edits_and_an_outsider_gets_the_fallback()
    {
        using var m = new LighthouseMountFixture();
        var builder = Lh(m, $"run --agent builder --role builder -C {m.Project} -- /bin/sh -c " + Quote(
            $"cd {m.Current} && echo one > b.txt && sed -i s/one/uno/ b.txt && env -i /bin/sh -c 'echo grandchild >> b.txt' " +
            "&& git init -q repo && cd repo && echo x > f && git add f && git -c user.name=t -c user.email=t@e commit -qm first && echo $LIGHTHOUSE_AGENT"));
        Assert.True(builder.Code == 0, builder.Output);
        Assert.Contains("builder", builder.Output);
        var reviewer = Lh(m, $"run --agent reviewer --role reviewer -C {m.Project} -- /bin/sh -c " + Quote($"echo looks-good > {m.Current}/review.txt"));
        Assert.True(reviewer.Code == 0, reviewer.Output);
        LighthouseMountFixture.MustRun("/bin/sh", $"-c \"echo outside > {m.Current}/outside.txt\"");
        MountControl.WaitUntilIdle(m.Project);

        var all = Events(m);
        // The runs' agents and tokens, added by the mount as the owner's runs asked: said in the log by id, never by text.
        var registry = string.Join("\n", all.Where(e => e.Op == EventOp.Agents).Select(e => e.Detail));
        Assert.Contains("added agent 'builder' (role builder)", registry);
        Assert.Contains("added agent 'reviewer' (role reviewer)", registry);
        Assert.Matches("token [0-9a-f]+ issued for 'builder' until .* \\(lighthouse run, pid \\d+\\)", registry);
        var events = all.Where(e => e.Op is not (EventOp.Init or EventOp.Baseline or EventOp.Agents)).ToList();
        string Show() => string.Join("\n", events.Select(e => $"@{e.Seq} {e.Agent} ({e.AgentVia}) {EventOpNames.Name(e.Op)} {e.Path} {e.Path2}"));
        bool About(StoreEvent e, string path) => e.Path == path || e.Path2 == path || e.Path.StartsWith(path + "/") || e.Path2?.StartsWith(path + "/") == true;
        var byBuilder = events.Where(e => About(e, "b.txt") || About(e, "repo") || e.Path.StartsWith("sed")).ToList();
        Assert.True(byBuilder.Count >= 8, Show());
        Assert.Contains(byBuilder, e => e.Path.StartsWith("repo/.git/objects/"));          // git's own writes
        Assert.Contains(byBuilder, e => e.Op == EventOp.Rename && e.Path2 == "b.txt");     // sed -i's atomic save
        Assert.All(byBuilder, e => Assert.True(e is { Agent: "builder", AgentVia: AgentVia.Ancestor }, Show()));
        var byReviewer = events.Where(e => About(e, "review.txt")).ToList();
        Assert.NotEmpty(byReviewer);
        Assert.All(byReviewer, e => Assert.True(e is { Agent: "reviewer", AgentVia: AgentVia.Ancestor }, Show()));
        var outside = events.Where(e => About(e, "outside.txt")).ToList();
        Assert.NotEmpty(outside);
        Assert.All(outside, e => Assert.True(e is { Agent: "root/sh", AgentVia: AgentVia.Fallback }, Show()));
        // Nothing else: every event is one of the three.
        Assert.Equal(events.Count, byBuilder.Count + byReviewer.Count + outside.Count);
        // The grandchild with an empty environment appended to b.txt: its write is the builder's too.
        Assert.Equal("uno\ngrandchild\n", File.ReadAllText(Path.Combine(m.Current, "b.txt")));
    }

    [Fact]
    public void A_token_identifies_a_process_outside_any_run_and_forged_expired_revoked_and_foreign_tokens_are_refused()
    {
        using var m = new LighthouseMountFixture();
        Assert.Equal(0, Lh(m, $"agent add builder --role builder -C {m.Project}").Code);
        var token = Lh(m, $"agent token builder --expires 1h -C {m.Project}").Stdout.Trim();
        var shortLived = Lh(m, $"agent token builder --expires 1s -C {m.Project}").Stdout.Trim();
        var revoked = Lh(m, $"agent token builder -C {m.Project}").Stdout.Trim();
        Assert.Equal(0, Lh(m, $"agent revoke {revoked} -C {m.Project}").Code);
        var other = Path.Combine(m.Root, "other");
        Directory.CreateDirectory(other);
        Assert.Equal(0, Lh(m, $"init {other}").Code);
        Assert.Equal(0, Lh(m, $"agent add builder -C {other}").Code);
        var foreign = Lh(m, $"agent token builder -C {other}").Stdout.Trim();
        var forged = token[..^4] + (token[^4] == 'A' ? "BBBB" : "AAAA");
        Thread.Sleep(1500); // the short-lived token expires; the mount has re-read the registry

        void WriteWith(string file, string tokenText) =>
            Assert.Equal(0, Sh($"echo x > {m.Current}/{file}", new() { ["LIGHTHOUSE_TOKEN"] = tokenText }).Code);
        WriteWith("valid.txt", token);
        WriteWith("forged.txt", forged);
        WriteWith("expired.txt", shortLived);
        WriteWith("revoked.txt", revoked);
        WriteWith("foreign.txt", foreign);
        MountControl.WaitUntilIdle(m.Project);

        var events = Events(m);
        StoreEvent Created(string path) => events.Single(e => e.Op == EventOp.Create && e.Path == path);
        Assert.Equal(("builder", AgentVia.Token), (Created("valid.txt").Agent, Created("valid.txt").AgentVia));
        foreach (var refused in new[] { "forged.txt", "expired.txt", "revoked.txt", "foreign.txt" })
            Assert.Equal(("root/sh", AgentVia.Fallback), (Created(refused).Agent, Created(refused).AgentVia));
        var log = m.Log;
        Assert.Contains("bad signature (forged, or issued for another project)", log);
        Assert.Contains("): expired;", log);
        Assert.Contains("): revoked;", log);
        Assert.Equal(2, log.Split("bad signature").Length - 1); // forged and foreign, each said once
    }

    [Fact]
    public void An_agent_cannot_start_another_and_another_user_needs_the_agent_s_token()
    {
        const string User = "lhtest_a";
        ConfidentialityTests.EnsureUser(User);
        using var m = new LighthouseMountFixture();
        File.SetUnixFileMode(m.Current, (UnixFileMode)Convert.ToInt32("777", 8));
        var nested = Lh(m, $"run --agent builder -C {m.Project} -- dotnet {CliDll(m)} run --agent owner -C {m.Project} -- true");
        Assert.NotEqual(0, nested.Code);
        Assert.Contains("already runs as agent 'builder'", nested.Output);

        var token = Lh(m, $"agent token builder -C {m.Project}").Stdout.Trim();
        string AsUser(string args) => $"DOTNET_CLI_HOME=/tmp DOTNET_NOLOGO=1 dotnet {CliDll(m)} {args}";
        var without = ConfidentialityTests.As(User, AsUser($"run --agent builder -C {m.Project} -- true"));
        Assert.NotEqual(0, without.Code);
        Assert.Contains("only the mount's owner", without.All);
        var otherRole = ConfidentialityTests.As(User, AsUser($"run --agent builder --role owner --token {token} -C {m.Project} -- true"));
        Assert.NotEqual(0, otherRole.Code);
        Assert.Contains("only the mount's owner may run it with another", otherRole.All);
        var with = ConfidentialityTests.As(User, AsUser($"run --agent builder --token {token} -C {m.Project} -- /bin/sh -c 'echo hi > {m.Current}/by-user.txt'"));
        Assert.True(with.Code == 0, with.ToString());
        MountControl.WaitUntilIdle(m.Project);
        var created = Events(m).Single(e => e.Op == EventOp.Create && e.Path == "by-user.txt");
        Assert.Equal(("builder", AgentVia.Ancestor), (created.Agent, created.AgentVia));
    }
}
