using System.Diagnostics;
using System.Text.Json.Nodes;
using Lighthouse.Interop;
using Lighthouse.Mount.Testing;
using static Lighthouse.Cli.Tests.ConfidentialityTests;

namespace Lighthouse.Cli.Tests;

/// <summary>
/// Issue 13 item 5: one normal user, several agents, no root. A system user mounts a project it owns through the setuid
/// fusermount3 of a stock Debian host (no user_allow_other in /etc/fuse.conf: the test makes sure of it and puts the file
/// back), runs two agents, reads the record and an old version, and unmounts — all as that user. The mount serves only
/// that user (the kernel refuses root too), serves file data itself (kernel passthrough needs CAP_SYS_ADMIN) and cannot
/// publish itself in root's /run/lighthouse. Both tests are in one class: they share /etc/fuse.conf and must not overlap.
/// </summary>
public sealed class UnprivilegedMountTests
{
    private const string User = "lhtest_u";
    private const string FuseConf = "/etc/fuse.conf";

    [Fact]
    public void A_normal_user_mounts_runs_two_agents_reads_the_record_and_history_and_unmounts_without_root()
    {
        using var setup = new UserProject();
        var (p, m) = (setup.Project, setup.MountPoint);
        var current = Path.Combine(m, "current");

        var mount = As(User, setup.Lh($"mount {p} {m} --background"));
        Assert.True(mount.Code == 0, mount + "\n--- mount.log\n" + setup.MountLog);
        Assert.Contains($"lighthouse: serving only {User}: other users cannot enter the mount; --allow-other lets them, " +
                        "which needs user_allow_other in /etc/fuse.conf", mount.Err);
        var line = File.ReadAllLines("/proc/self/mounts").Single(l => l.Split(' ')[1] == m);
        Assert.Equal("fuse.lighthouse", line.Split(' ')[2]);
        Assert.Contains($"user_id={Must(As(User, "id -u")).Out.Trim()}", line);
        Assert.DoesNotContain("allow_other", line);

        // Kernel passthrough is off from the start and said once; the registry refusal is a warning, not a failure.
        var log = setup.MountLog;
        Assert.Single(log.Split('\n'), l => l.Contains("kernel passthrough off: not privileged: registering backing files needs CAP_SYS_ADMIN in the initial user namespace"));
        Assert.Contains("kernel passthrough off, events so far", log);
        Assert.DoesNotContain("refused kernel passthrough", log);
        Assert.Contains("other users cannot ask this mount for the history they may read", log);

        // Writes as the user (its fallback identity), then two agents; `lighthouse run` finds the project from inside
        // current/ through the mount table (there is no registry entry). The big file's data goes through the daemon.
        Must(As(User, $"cd {current} && printf 'v1\\n' > notes.txt && dd if=/dev/urandom of=big bs=1M count=3 status=none"));
        Must(As(User, $"cd {current} && " + setup.Lh("run --agent a1 -- sh -c 'printf \"v2\\n\" > notes.txt; printf a1 > a1.txt'")));
        Must(As(User, $"cd {current} && " + setup.Lh("run --agent a2 -- sh -c 'mkdir docs && printf a2 > docs/a2.txt && mv a1.txt a1-moved.txt'")));
        Assert.Equal(Sha256(Path.Combine(p, "big")), Must(As(User, $"sha256sum {current}/big")).Out.Split(' ')[0]);
        Assert.Equal("v2\n", File.ReadAllText(Path.Combine(p, "notes.txt")));

        var events = WaitForEvents(setup, e => Op(e) == "rename");
        string Who(string op, string path) =>
            events.Where(e => Op(e) == op && PathOf(e) == path).Select(e => $"{e["agent"]}/{e["agentVia"]}").LastOrDefault() ?? "none";
        var all = string.Join("\n", events.Select(e => e.ToJsonString()));
        Assert.True(Who("create", "a1.txt") == "a1/ancestor", all);
        Assert.True(Who("write", "a1.txt") == "a1/ancestor", all);
        Assert.True(events.Where(e => Op(e) == "write" && PathOf(e) == "notes.txt").Select(e => $"{e["agent"]}/{e["agentVia"]}").Last() == "a1/ancestor", all);
        Assert.True(Who("mkdir", "docs") == "a2/ancestor", all);
        Assert.True(Who("create", "docs/a2.txt") == "a2/ancestor", all);
        Assert.True(Who("rename", "a1.txt") == "a2/ancestor", all);
        Assert.StartsWith($"{User}/", Who("create", "notes.txt"));

        // history/: notes.txt as the user left it before the agents ran, through the mount, as the user.
        var v1 = events.Where(e => PathOf(e) == "notes.txt" && ((string)e["agent"]!).StartsWith($"{User}/", StringComparison.Ordinal))
            .Select(e => (long)e["seq"]!).Last();
        Assert.Equal("v1\n", Must(As(User, $"cat {m}/history/@{v1}/notes.txt")).Out);

        // Status, as the user: passthrough off and why, and who is served.
        var status = Must(As(User, setup.Lh($"status -C {p}")));
        Assert.Contains("passthrough:             off (not privileged: registering backing files needs CAP_SYS_ADMIN in the initial user namespace; data goes through the mount process)", status.Out);
        Assert.Contains("(no allow_other: the kernel refuses everyone else)", status.Out);
        var statusJson = JsonNode.Parse(Must(As(User, setup.Lh($"status -C {p} --json"))).Out)!;
        Assert.False((bool)statusJson["kernelPassthrough"]!);
        Assert.False((bool)statusJson["live"]!["mount"]!["allowOther"]!);

        // Nobody else enters, root included (unless the fuse module lets CAP_SYS_ADMIN in: allow_sys_admin_access).
        EnsureUser("lhtest_a");
        var other = As("lhtest_a", $"ls {current}");
        Assert.True(other.Code != 0 && other.Err.Contains("Permission denied"), other.ToString());
        var (rootCode, rootOut) = LighthouseMountFixture.Run("stat", $"-c %U {current}");
        if (File.ReadAllText("/sys/module/fuse/parameters/allow_sys_admin_access").Trim() == "Y")
            Assert.True(rootCode == 0, rootOut);
        else
            Assert.True(rootCode != 0 && rootOut.Contains("Permission denied"), $"root: exit {rootCode}: {rootOut}");

        var unmount = Must(As(User, setup.Lh($"unmount {m}")));
        Assert.Contains($"unmounted {m}", unmount.Out);
        Assert.Contains("has exited", unmount.Out);
        Assert.DoesNotContain(File.ReadAllLines("/proc/self/mounts"), l => l.Split(' ')[1] == m);
    }

    [Fact]
    public void Allow_other_without_user_allow_other_in_fuse_conf_fails_with_a_message_naming_the_file_and_the_line()
    {
        using var setup = new UserProject();
        var r = As(User, setup.Lh($"mount {setup.Project} {setup.MountPoint} --allow-other"));
        Assert.Equal(1, r.Code);
        Assert.Contains($"lighthouse: cannot mount with --allow-other as {User}: {FuseConf} does not let users other than root ask for " +
                        $"allow_other. Add the line\n    user_allow_other\nto {FuseConf}", r.Err);
        Assert.Contains($"or mount without --allow-other (then only {User} can enter the mount)", r.Err);
        Assert.DoesNotContain("fusermount3:", r.Err); // ours, not the helper's words
        Assert.DoesNotContain(File.ReadAllLines("/proc/self/mounts"), l => l.Split(' ')[1] == setup.MountPoint);
    }

    private static Result Must(Result r)
    {
        Assert.True(r.Code == 0, r.ToString());
        return r;
    }

    private static string Op(JsonNode e) => (string)e["op"]!;
    private static string PathOf(JsonNode e) => (string?)e["path"] ?? "";

    /// <summary>The log as the user reads it (`lighthouse log --json`), once an event matching <paramref name="last"/> is in it.</summary>
    private static List<JsonNode> WaitForEvents(UserProject setup, Func<JsonNode, bool> last)
    {
        var sw = Stopwatch.StartNew();
        while (true)
        {
            var r = Must(As(User, setup.Lh($"log -C {setup.Project} -n 1000 --json")));
            var events = r.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!).ToList();
            if (events.Any(last)) return events;
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(30), "the last change was not recorded in 30 s:\n" + r.Out);
            Thread.Sleep(200);
        }
    }

    private static string Sha256(string path) =>
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(path)));

    /// <summary>
    /// The stage: fuse3 installed (as the repository's install-deps does), /etc/fuse.conf without user_allow_other (put
    /// back as it was on dispose), the user, and a project, mount point and home of its own under the tests' directory.
    /// Dispose unmounts whatever is left (as the user, else lazily as root) and stops the mount process it started.
    /// </summary>
    private sealed class UserProject : IDisposable
    {
        private readonly string? _fuseConf;

        public UserProject()
        {
            if (LighthouseMountFixture.Run("sh", "-c \"command -v fusermount3\"").Code != 0)
                LighthouseMountFixture.MustRun("sh", "-c \"DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fuse3\"");
            var helper = LighthouseMountFixture.MustRun("sh", "-c \"command -v fusermount3\"").Trim();
            Assert.True((File.GetUnixFileMode(helper) & UnixFileMode.SetUser) != 0, $"{helper} is not setuid root: a normal user cannot mount");

            if (File.Exists(FuseConf))
            {
                var text = File.ReadAllText(FuseConf);
                var lines = text.Split('\n');
                if (lines.Any(l => l.Trim() == "user_allow_other"))
                {
                    _fuseConf = text;
                    File.WriteAllText(FuseConf, string.Join('\n', lines.Select(l => l.Trim() == "user_allow_other" ? "#" + l : l)));
                }
            }

            EnsureUser(User);
            Root = Path.Combine(LighthouseMountFixture.TempBase, "unpriv-" + Guid.NewGuid().ToString("N")[..10]);
            Project = Path.Combine(Root, "project");
            MountPoint = Path.Combine(Root, "mnt");
            Home = Path.Combine(Root, "home");
            foreach (var d in new[] { Project, MountPoint, Home }) Directory.CreateDirectory(d);
            File.WriteAllText(Path.Combine(Project, "README.md"), "a project of a normal user\n");
            LighthouseMountFixture.MustRun("chown", $"-R {User}: {Root}");
            Cli = Path.Combine(LighthouseMountFixture.FindRepoRoot(), ".build", "cli", "lighthouse.dll");
            Assert.True(File.Exists(Cli), $"{Cli} is missing: run ./lighthouse --help first");
        }

        public string Root { get; }
        public string Project { get; }
        public string MountPoint { get; }
        public string Home { get; }
        public string Cli { get; }

        public string MountLog
        {
            get
            {
                var log = Path.Combine(Project, ".lighthouse", "mount.log");
                return File.Exists(log) ? File.ReadAllText(log) : "";
            }
        }

        /// <summary>A shell command running the CLI as the user would, with a home of its own for dotnet.</summary>
        public string Lh(string args) =>
            $"HOME={Home} DOTNET_CLI_HOME={Home} DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 dotnet {Cli} {args}";

        private bool Mounted => File.ReadAllLines("/proc/self/mounts").Any(l => l.Split(' ')[1] == MountPoint);

        public void Dispose()
        {
            try
            {
                if (Mounted) As(User, Lh($"unmount {MountPoint}"));
                if (Mounted) LighthouseMountFixture.Run("umount", $"-l {MountPoint}");
                var pidFile = Path.Combine(Project, ".lighthouse", "mount.pid");
                if (File.Exists(pidFile) && int.TryParse(File.ReadAllText(pidFile).Trim(), out var pid) && pid > 0
                    && File.Exists($"/proc/{pid}/cmdline") && File.ReadAllText($"/proc/{pid}/cmdline").Contains(Project))
                    Libc.Kill(pid, Libc.SIGTERM);
            }
            finally
            {
                if (_fuseConf is not null) File.WriteAllText(FuseConf, _fuseConf);
                try { Directory.Delete(Root, true); } catch (IOException) { }
            }
        }
    }
}
