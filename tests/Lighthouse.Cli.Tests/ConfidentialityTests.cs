using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Lighthouse.Cli.Control;
using Lighthouse.Mount.Testing;

namespace Lighthouse.Cli.Tests;

/// <summary>
/// Issue 12 item 1, tried as two real unprivileged users on a project mounted by root with current/ world-writable:
/// user A keeps a secret in a 0600 file (two versions) and in a file inside a 0700 directory; user B tries every route
/// to it — the state directory, the objects, history/, and the CLI's log, history, diff --patch, restore, snapshot
/// (which, for anyone but the store's owner, ask the mount over its public socket) — and gets none of its bytes; A reads
/// its own old versions through history/ and through the CLI. When the project is not mounted, B is told the history is
/// its owner's. The users are created here (useradd, idempotent); the tests run as root with /dev/fuse, as CI does.
/// </summary>
public sealed class ConfidentialityTests
{
    private const string UserA = "lhtest_a", UserB = "lhtest_b";
    private const string Secret1 = "password=SECRET-ONE-7f3a", Secret2 = "password=SECRET-TWO-91c4", Secret3 = "password=SECRET-DIR-5e2b";
    private static readonly string[] Secrets = [Secret1, Secret2, Secret3, "SECRET-"];

    [Fact]
    public void Another_user_reaches_no_content_it_may_not_read_by_any_route_and_the_owner_of_a_file_reads_its_old_versions()
    {
        EnsureUser(UserA);
        EnsureUser(UserB);
        using var m = new LighthouseMountFixture();
        var cli = Path.Combine(m.RepoRoot, ".build", "cli", "lighthouse.dll");
        Assert.True(File.Exists(cli), $"{cli} was not built by the mount fixture");
        var state = Path.Combine(m.Project, ".lighthouse");

        // The scenario of the issue: current/ world-writable (its root directory 0777, as root made it).
        File.SetUnixFileMode(m.Current, (UnixFileMode)Convert.ToInt32("777", 8));
        Must(As(UserA, $"umask 077 && cd {m.Current} && printf '{Secret1}\\n' > secret && mkdir private && printf '{Secret3}\\n' > private/notes"));
        Must(As(UserA, $"cd {m.Current} && printf '{Secret2}\\n' > secret && stat -c '%a %U' secret private"));
        MountControl.WaitUntilIdle(m.Project);
        var last = m.LastSeq;
        var secretVersions = m.Events().Where(e => e.Path == "secret" && e.Op == "write").Select(e => e.Seq).ToList();
        Assert.True(secretVersions.Count >= 2, string.Join("\n", m.Events().Select(e => $"@{e.Seq} {e.Agent} {e.Op} {e.Path}")));
        var hashes = new[] { Secret1, Secret2, Secret3 }.Select(s => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(s + "\n")))).ToArray();

        // The state directory and everything in it: the mount's owner's alone.
        Assert.Equal("700", Mode(state));
        foreach (var f in new[] { "lighthouse.db", "lighthouse.db-wal", "lighthouse.db-shm", "lock", "mount.json" })
            Assert.Equal("600", Mode(Path.Combine(state, f)));
        // The public registry: an entry (no content) and a socket anyone may connect to.
        var entry = MountRegistry.EntryPath(m.Project);
        Assert.Equal("644", Mode(entry));
        Assert.Equal("666", Mode(MountRegistry.SocketPath(m.Project)));
        Assert.Contains($"\"pid\":{m.Pid}", File.ReadAllText(entry));

        var routes = new List<(string What, Result R)>
        {
            ("list the state directory", As(UserB, $"ls -la {state}")),
            ("read the database", As(UserB, $"cat {state}/lighthouse.db {state}/lighthouse.db-wal")),
            ("read the objects", As(UserB, $"cat {state}/objects/*/* ; find {state} -type f -exec cat {{}} +")),
            ("read mount.json", As(UserB, $"cat {state}/mount.json")),
            ("read current/", As(UserB, $"cat {m.Current}/secret {m.Current}/private/notes")),
        };
        foreach (var (what, r) in routes)
            Assert.True(r.Code != 0 && r.All.Contains("Permission denied"), $"{UserB} could {what}: {r}");
        for (long n = 1; n <= last; n++)
        {
            var r = As(UserB, $"cat {m.History}/@{n}/secret {m.History}/@{n}/private/notes 2>&1; ls {m.History}/@{n}/private 2>&1");
            routes.Add(($"read history/@{n}", r));
            if (secretVersions.Contains(n)) Assert.Contains("Permission denied", r.All);
        }

        string Lh(string args) => $"DOTNET_CLI_HOME=/tmp DOTNET_NOLOGO=1 dotnet {cli} {args}";
        var log = As(UserB, Lh($"log -C {m.Project} -n 1000"));
        Assert.True(log.Code == 0, log.ToString());
        Assert.Contains(" secret", log.Out);                                // paths in readable directories: shown
        Assert.DoesNotContain("private/notes", log.Out);                   // in the 0700 directory: withheld
        Assert.Contains("withheld: no read permission as of @", log.Out);
        routes.Add(("lighthouse log", log));
        var logJson = As(UserB, Lh($"log -C {m.Project} -n 1000 --json"));
        Assert.True(logJson.Code == 0, logJson.ToString());
        Assert.Contains("\"path\":\"secret\"", logJson.Out);
        routes.Add(("lighthouse log --json", logJson));
        var logByMountPoint = As(UserB, $"cd {m.Current} && " + Lh("log -n 1000 --path private"));
        Assert.True(logByMountPoint.Code == 0, logByMountPoint.ToString()); // found from inside current/, nothing under private/
        Assert.DoesNotContain("private/", logByMountPoint.Out);
        routes.Add(("lighthouse log --path private (from current/)", logByMountPoint));

        var history = As(UserB, Lh($"history secret -C {m.Project}"));
        Assert.True(history.Code == 0, history.ToString());
        Assert.Contains("withheld (no read permission)", history.Out);
        routes.Add(("lighthouse history secret", history));
        var historyJson = As(UserB, Lh($"history secret --json -C {m.Project}"));
        routes.Add(("lighthouse history --json", historyJson));
        var hidden = As(UserB, Lh($"history private/notes -C {m.Project}"));
        Assert.Equal(2, hidden.Code);
        Assert.Contains("has no version you may see", hidden.Err);
        routes.Add(("lighthouse history private/notes", hidden));

        var diff = As(UserB, Lh($"diff @1 --patch -C {m.Project}"));
        Assert.True(diff.Code == 0, diff.ToString());
        Assert.Contains("withheld: no read permission as of @", diff.Out);
        Assert.DoesNotContain("private/notes", diff.Out);
        routes.Add(("lighthouse diff --patch", diff));
        var diffSteps = As(UserB, Lh($"diff @{secretVersions[0]} @{secretVersions[^1]} --patch --json -C {m.Project}"));
        Assert.True(diffSteps.Code == 0, diffSteps.ToString());
        routes.Add(("lighthouse diff --patch between the versions", diffSteps));

        var restore = As(UserB, Lh($"restore secret --at @{secretVersions[0]} -C {m.Project}"));
        Assert.Equal(1, restore.Code);
        Assert.Contains("readable only by its owner (uid 0); run it as the owner", restore.Err);
        routes.Add(("lighthouse restore", restore));
        var snapshot = As(UserB, Lh($"snapshot create mine -C {m.Project}"));
        Assert.Equal(1, snapshot.Code);
        Assert.Contains("only the mount's owner (uid 0) and root may create snapshots", snapshot.Err);
        routes.Add(("lighthouse snapshot create", snapshot));
        var snapshots = As(UserB, Lh($"snapshot list -C {m.Project}"));
        Assert.True(snapshots.Code == 0, snapshots.ToString());
        var status = As(UserB, Lh($"status -C {m.Project}"));
        Assert.True(status.Code == 0 && status.Out.Contains($"yes, on {m.MountPoint}"), status.ToString());
        routes.Add(("lighthouse status", status));

        foreach (var (what, r) in routes)
        {
            foreach (var s in Secrets) Assert.False(r.All.Contains(s), $"{UserB} read the secret through {what}: {r}");
            foreach (var h in hashes) Assert.False(r.All.Contains(h), $"{UserB} got the secret's content hash through {what}: {r}");
        }

        // The owner of the file reads its own old versions: through history/ and through the CLI (which asks the mount).
        Assert.Equal(Secret1 + "\n", Must(As(UserA, $"cat {m.History}/@{secretVersions[0]}/secret")).Out);
        Assert.Equal(Secret3 + "\n", Must(As(UserA, $"cat {m.History}/@{last}/private/notes")).Out);
        var own = Must(As(UserA, Lh($"history secret -C {m.Project}")));
        Assert.DoesNotContain("withheld", own.Out);
        Assert.Contains("captured", own.Out);
        var ownDiff = Must(As(UserA, Lh($"diff @{secretVersions[0]} @{secretVersions[^1]} --patch -C {m.Project}")));
        Assert.Contains("-" + Secret1, ownDiff.Out);
        Assert.Contains("+" + Secret2, ownDiff.Out);
        Assert.Contains("private/notes", Must(As(UserA, Lh($"log -C {m.Project} -n 1000"))).Out);

        // Not mounted: the history is the owner's, and the CLI says how to get it.
        Assert.Equal(0, m.Stop());
        Assert.False(File.Exists(entry), "the registry entry outlived the mount");
        var unmounted = As(UserB, Lh($"log -C {m.Project}"));
        Assert.Equal(1, unmounted.Code);
        Assert.Contains($"the history of {m.Project} is readable only by its owner (uid 0); run `lighthouse log` as the owner " +
                        "or while the project is mounted (then the mount answers what you may read)", unmounted.Err);
        var unmountedDiff = As(UserB, Lh($"diff @1 --patch -C {m.Project}"));
        Assert.Equal(1, unmountedDiff.Code);
        foreach (var s in Secrets) Assert.DoesNotContain(s, unmountedDiff.All);
    }

    internal sealed record Result(int Code, string Out, string Err)
    {
        public string All => Out + Err;
        public override string ToString() => $"exit {Code}\n--- stdout\n{Out}\n--- stderr\n{Err}";
    }

    private static Result Must(Result r)
    {
        Assert.True(r.Code == 0, r.ToString());
        return r;
    }

    /// <summary>Runs a shell command as another user (its own uid, gid and groups; nothing of root's).</summary>
    internal static Result As(string user, string command)
    {
        var psi = new ProcessStartInfo("setpriv", ["--reuid=" + user, "--regid=" + user, "--init-groups", "--reset-env", "/bin/sh", "-c", command])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = "/",
        };
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(120_000)) { p.Kill(true); throw new TimeoutException($"`{command}` as {user} did not finish"); }
        return new Result(p.ExitCode, stdout.Result, stderr.Result);
    }

    private static string Mode(string path) => Convert.ToString((int)File.GetUnixFileMode(path), 8);

    /// <summary>Creates an unprivileged system user without a home, unless it exists.</summary>
    internal static void EnsureUser(string name)
    {
        var (code, _) = LighthouseMountFixture.Run("id", $"-u {name}");
        if (code == 0) return;
        var (added, output) = LighthouseMountFixture.Run("useradd", $"--system --no-create-home --shell /usr/sbin/nologin {name}");
        // Another test run may have added it meanwhile (9: the name is taken).
        Assert.True(added is 0 or 9, $"useradd {name} failed with {added}: {output}");
    }
}
