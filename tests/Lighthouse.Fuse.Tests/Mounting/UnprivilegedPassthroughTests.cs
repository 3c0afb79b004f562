using System.Diagnostics;
using System.Text;
using Lighthouse.Fuse.Mounting;

namespace Lighthouse.Fuse.Tests.Mounting;

/// <summary>
/// End to end as a normal user (nobody): `lighthouse passthrough &lt;src&gt; &lt;mnt&gt; --mount-method …`
/// mounts through a helper, the user creates and reads files through the mount, SIGTERM unmounts.
/// The CLI is built by `./lighthouse --help` (as root) and copied where the user can read it.
/// </summary>
[Collection(MountingCollection.Name)]
public sealed class UnprivilegedPassthroughTests
{
    private static readonly Lazy<string> s_cliDll = new(CopyCli);

    public UnprivilegedPassthroughTests()
    {
        if (MountEnv.WhyCannotMount() is not null) return;
        UserAccess.EnsureDeviceUsableByUsers();
    }

    private static void PassthroughAsUser(string expectedMethod, params string[] methodArgs)
    {
        MountEnv.RequireMounting();
        using MountPointScope mp = MountEnv.NewMountPoint(MountEnv.UserId, MountEnv.GroupId);
        string src = mp.Path + "-src";
        Directory.CreateDirectory(src);
        File.WriteAllText(Path.Combine(src, "existing.txt"), "from the source\n");
        MountEnv.Chown(src, MountEnv.UserId, MountEnv.GroupId);
        MountEnv.Chown(Path.Combine(src, "existing.txt"), MountEnv.UserId, MountEnv.GroupId);

        var output = new StringBuilder();
        var mounted = new ManualResetEventSlim();
        Process daemon = StartAsUser([MountEnv.Dotnet(), s_cliDll.Value, "passthrough", src, mp.Path, .. methodArgs]);
        DataReceivedEventHandler onLine = (_, e) =>
        {
            if (e.Data is null) return;
            lock (output) output.AppendLine(e.Data);
            if (e.Data.Contains("lighthouse: mounted", StringComparison.Ordinal)) mounted.Set();
        };
        daemon.OutputDataReceived += onLine;
        daemon.ErrorDataReceived += onLine;
        daemon.BeginOutputReadLine();
        daemon.BeginErrorReadLine();
        try
        {
            Assert.True(WaitHandle.WaitAny([mounted.WaitHandle, ExitHandle(daemon)], TimeSpan.FromSeconds(90)) == 0,
                $"lighthouse passthrough did not report a mount: {Text(output)}");
            Assert.Contains($"({expectedMethod})", Text(output));
            MountInfoEntry e = MountInfo.Find(mp.Path) ?? throw new Xunit.Sdk.XunitException($"{mp.Path} not in mountinfo");
            Assert.Contains($"user_id={MountEnv.UserId}", e.SuperOptions.Split(','));

            // Through the mount, as the user: read a file, create one, read it back, list.
            (int code, string stdout, string stderr) = RunAsUser(
                "sh", "-c", "set -e; cd \"$1\"; cat existing.txt; printf 'made through the mount\\n' > created.txt; cat created.txt; ls",
                "sh", mp.Path);
            Assert.True(code == 0, $"file operations through the mount failed ({code}): {stderr}");
            Assert.Equal("from the source\nmade through the mount\ncreated.txt\nexisting.txt\n", stdout);
            Assert.Equal("made through the mount\n", File.ReadAllText(Path.Combine(src, "created.txt")));

            MountEnv.Run("kill", ["-TERM", daemon.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)], TimeSpan.FromSeconds(10));
            Assert.True(daemon.WaitForExit(TimeSpan.FromSeconds(60)), $"lighthouse did not exit on SIGTERM: {Text(output)}");
            daemon.WaitForExit();
            Assert.Equal(0, daemon.ExitCode);
            Assert.False(FuseMounter.IsMounted(mp.Path), $"still mounted after SIGTERM: {Text(output)}");
        }
        finally
        {
            if (!daemon.HasExited) daemon.Kill(entireProcessTree: true);
            daemon.Dispose();
            MountEnv.DetachAll(mp.Path);
            try { Directory.Delete(src, true); } catch (IOException) { }
        }
    }

    [MountFact]
    public void Passthrough_AsUser_ThroughFusermount3_CreatesAndReadsFiles()
    {
        MountEnv.RequireMounting();
        PassthroughAsUser("Fusermount3", "--mount-method", "fusermount3");
    }

    [MountFact]
    public void Passthrough_AsUser_ThroughFuse2Fusermount_CreatesAndReadsFiles()
    {
        MountEnv.RequireMounting();
        PassthroughAsUser("Fusermount", "--mount-method", "fusermount", "--fusermount", MountEnv.Fusermount2);
    }

    private static string Text(StringBuilder sb)
    {
        lock (sb) return sb.ToString();
    }

    private static WaitHandle ExitHandle(Process p)
    {
        var ev = new ManualResetEvent(false);
        Task.Run(() => { p.WaitForExit(); ev.Set(); });
        return ev;
    }

    private static Dictionary<string, string> UserEnv()
    {
        string home = Path.Combine(MountEnv.Root, "home-nobody");
        Directory.CreateDirectory(home);
        MountEnv.Chown(home, MountEnv.UserId, MountEnv.GroupId);
        return new Dictionary<string, string>
        {
            ["HOME"] = home, ["DOTNET_CLI_HOME"] = home, ["DOTNET_NOLOGO"] = "1",
            ["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1", ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1", ["USER"] = "nobody",
        };
    }

    private static string[] AsUser(IEnumerable<string> command) =>
        [$"--reuid={MountEnv.UserId}", $"--regid={MountEnv.GroupId}", "--clear-groups", "--", .. command];

    private static Process StartAsUser(string[] command)
    {
        var psi = new ProcessStartInfo("setpriv")
        {
            UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true,
            WorkingDirectory = "/",
        };
        foreach (string a in AsUser(command)) psi.ArgumentList.Add(a);
        foreach (var kv in UserEnv()) psi.Environment[kv.Key] = kv.Value;
        return Process.Start(psi)!;
    }

    private static (int, string, string) RunAsUser(params string[] command) =>
        MountEnv.Run("setpriv", AsUser(command), TimeSpan.FromSeconds(60), UserEnv());

    /// <summary>Builds the CLI (./lighthouse builds on first use) and copies it where the user can read it.</summary>
    private static string CopyCli()
    {
        string repo = MountEnv.RepoRoot();
        (int code, string stdout, string stderr) = MountEnv.Run(Path.Combine(repo, "lighthouse"), ["--help"], TimeSpan.FromMinutes(10));
        if (code != 0) throw new InvalidOperationException($"./lighthouse --help failed ({code}): {stderr}\n{stdout}");

        string dest = Path.Combine(MountEnv.RunDir, "cli");
        Directory.CreateDirectory(MountEnv.RunDir);
        // Under the launcher's own lock, so a rebuild started by someone else cannot change files mid-copy.
        (code, stdout, stderr) = MountEnv.Run("flock",
            [Path.Combine(repo, ".build", ".lock"), "cp", "-r", Path.Combine(repo, ".build", "cli"), dest], TimeSpan.FromMinutes(5));
        if (code != 0) throw new InvalidOperationException($"copying the CLI failed: {stderr}");
        MountEnv.Run("chmod", ["-R", "a+rX", dest], TimeSpan.FromMinutes(1));
        foreach (string d in new[] { MountEnv.Root, MountEnv.RunDir }) File.SetUnixFileMode(d, (UnixFileMode)0x1ED);
        return Path.Combine(dest, "lighthouse.dll");
    }
}
