using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using Lighthouse.Fuse.Mounting;
using Lighthouse.Interop;

namespace Lighthouse.Fuse.Tests.Mounting;

/// <summary>
/// A test that mounts: needs root and /dev/fuse. Elsewhere it is skipped with the reason, except in
/// CI (CI=true), where it runs and fails with that reason: CI must run the mount tests, not skip them.
/// </summary>
public sealed class MountFactAttribute : FactAttribute
{
    public MountFactAttribute()
    {
        if (MountEnv.WhyCannotMount() is { } why && !MountEnv.InCi) Skip = why;
    }
}

[CollectionDefinition(Name)]
public sealed class MountingCollection : ICollectionFixture<MountingFixture>
{
    public const string Name = "Mounting";
}

/// <summary>
/// Once per test run: first clears what earlier (crashed) runs left mounted under the test folder,
/// and at the end detaches and removes this run's folder.
/// </summary>
public sealed class MountingFixture : IDisposable
{
    public MountingFixture()
    {
        if (MountEnv.WhyCannotMount() is null) MountEnv.CleanUpLeftovers();
    }

    public void Dispose()
    {
        if (MountEnv.WhyCannotMount() is not null || !Directory.Exists(MountEnv.RunDir)) return;
        MountEnv.DetachAll(MountEnv.RunDir);
        if (MountEnv.MountsUnder(MountEnv.RunDir).Count == 0)
        {
            try { Directory.Delete(MountEnv.RunDir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }
}

internal static class MountEnv
{
    /// <summary>Every mount point of these tests lives under here: /tmp/lighthouse-mount-tests/run-&lt;pid&gt;-&lt;n&gt;/…</summary>
    public const string Root = "/tmp/lighthouse-mount-tests";
    public const uint UserId = 65534;   // nobody
    public const uint GroupId = 65534;  // nogroup

    public static bool InCi => Environment.GetEnvironmentVariable("CI") is { Length: > 0 } v && v != "false" && v != "0";

    public static readonly string RunDir = Path.Combine(Root, $"run-{Environment.ProcessId}-{Guid.NewGuid():N}"[..40]);

    public static string? WhyCannotMount()
    {
        if (!OperatingSystem.IsLinux()) return "mount tests need Linux";
        if (Libc.GetEuid() != 0) return "mount tests need root (they mount with mount(2) and chown mount points)";
        if (!File.Exists("/dev/fuse")) return "mount tests need /dev/fuse (modprobe fuse, or --device /dev/fuse in a container)";
        return null;
    }

    public static void RequireMounting()
    {
        if (WhyCannotMount() is { } why) Assert.Fail(why);
    }

    /// <summary>A fresh, empty directory to mount on, owned by <paramref name="ownerUid"/>.</summary>
    public static MountPointScope NewMountPoint(uint ownerUid = 0, uint ownerGid = 0)
    {
        Directory.CreateDirectory(Root);
        Directory.CreateDirectory(RunDir);
        File.SetUnixFileMode(Root, (UnixFileMode)0x1ED);   // 0755: the test user must traverse it
        File.SetUnixFileMode(RunDir, (UnixFileMode)0x1ED);
        string path = Path.Combine(RunDir, "mnt-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(path);
        if (ownerUid != 0) Chown(path, ownerUid, ownerGid);
        return new MountPointScope(path);
    }

    public static void Chown(string path, uint uid, uint gid)
    {
        var p = Process.Start(new ProcessStartInfo("chown", [$"{uid}:{gid}", path]) { UseShellExecute = false })!;
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"chown {uid}:{gid} {path} failed");
    }

    /// <summary>All mounts at or below <paramref name="path"/>, deepest (latest) first.</summary>
    public static List<MountInfoEntry> MountsUnder(string path) =>
        MountInfo.Read().Where(e => e.MountPoint == path || e.MountPoint.StartsWith(path + "/", StringComparison.Ordinal))
                 .Reverse().ToList();

    /// <summary>Lazily detaches everything mounted at or below <paramref name="path"/> (never stats into it).</summary>
    public static void DetachAll(string path)
    {
        for (int round = 0; round < 20; round++)
        {
            List<MountInfoEntry> mounts = MountsUnder(path);
            if (mounts.Count == 0) return;
            foreach (MountInfoEntry e in mounts) Libc.Umount2(e.MountPoint, Libc.MNT_DETACH);
        }
    }

    /// <summary>Mounts and folders of earlier runs whose process is gone.</summary>
    public static void CleanUpLeftovers()
    {
        if (!Directory.Exists(Root)) return;
        var runs = MountsUnder(Root).Select(e => RunOf(e.MountPoint)).OfType<string>()
            .Concat(Directory.GetDirectories(Root).Select(d => RunOf(d)).OfType<string>())
            .Distinct();
        foreach (string run in runs)
        {
            string name = Path.GetFileName(run);
            string[] parts = name.Split('-');
            if (parts.Length < 2 || !int.TryParse(parts[1], out int pid)) continue;
            if (pid == Environment.ProcessId || Directory.Exists($"/proc/{pid}")) continue; // that run is still going
            DetachAll(run);
            if (MountsUnder(run).Count == 0)
            {
                try { Directory.Delete(run, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            }
        }
    }

    private static string? RunOf(string path)
    {
        if (!path.StartsWith(Root + "/run-", StringComparison.Ordinal)) return null;
        int slash = path.IndexOf('/', Root.Length + 1);
        return slash < 0 ? path : path[..slash];
    }

    /// <summary>Waits until <paramref name="condition"/> holds, up to <paramref name="timeout"/>.</summary>
    public static bool WaitFor(Func<bool> condition, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < timeout)
        {
            if (condition()) return true;
            Thread.Sleep(50);
        }
        return condition();
    }

    public static string RepoRoot()
    {
        for (string? d = AppContext.BaseDirectory; d is not null; d = Path.GetDirectoryName(d))
            if (File.Exists(Path.Combine(d, "Lighthouse.slnx"))) return d;
        throw new InvalidOperationException($"cannot find the repository root (Lighthouse.slnx) above {AppContext.BaseDirectory}");
    }

    private static readonly Lazy<string> s_fusermount2 = new(FetchFusermount2);

    /// <summary>A setuid-root FUSE 2 fusermount unpacked from Debian's fuse package (see fetch-fusermount2.sh).</summary>
    public static string Fusermount2 => s_fusermount2.Value;

    private static string FetchFusermount2()
    {
        string script = Path.Combine(RepoRoot(), "tests", "Lighthouse.Fuse.Tests", "Mounting", "fetch-fusermount2.sh");
        (int code, string stdout, string stderr) = Run("bash", [script], TimeSpan.FromMinutes(5));
        if (code != 0)
            throw new InvalidOperationException(
                $"Could not get a FUSE 2 fusermount (bash {script} exited {code}): {stderr.Trim()} {stdout.Trim()}");
        string path = stdout.Trim().Split('\n').Last().Trim();
        Assert.True(File.Exists(path), $"{script} printed '{path}', which does not exist");
        return path;
    }

    public static (int Code, string Stdout, string Stderr) Run(string file, IEnumerable<string> args, TimeSpan timeout,
                                                              IDictionary<string, string>? env = null)
    {
        var psi = new ProcessStartInfo(file)
        {
            UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true,
        };
        foreach (string a in args) psi.ArgumentList.Add(a);
        if (env is not null) foreach (var kv in env) psi.Environment[kv.Key] = kv.Value;
        using var p = Process.Start(psi)!;
        p.StandardInput.Close();
        Task<string> o = p.StandardOutput.ReadToEndAsync();
        Task<string> e = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish within {timeout}");
        }
        p.WaitForExit();
        return (p.ExitCode, o.Result, e.Result);
    }

    /// <summary>The dotnet host running these tests (also usable by other users: it lives under /usr).</summary>
    public static string Dotnet()
    {
        if (Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host)) return host;
        if (Environment.ProcessPath is { } pp && Path.GetFileName(pp) == "dotnet") return pp;
        return "dotnet";
    }

    public static bool UserAllowOtherEnabled() =>
        File.Exists("/etc/fuse.conf") && File.ReadLines("/etc/fuse.conf").Any(l => l.Trim() == "user_allow_other");
}

/// <summary>A mount point folder; Dispose detaches whatever is still mounted there, then removes it.</summary>
public sealed class MountPointScope : IDisposable
{
    public MountPointScope(string path) => Path = path;

    public string Path { get; }

    public override string ToString() => Path;

    public void Dispose()
    {
        MountEnv.DetachAll(Path);
        if (MountEnv.MountsUnder(Path).Count == 0)
        {
            try { Directory.Delete(Path, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }
}

/// <summary>
/// Runs tests/Lighthouse.Fuse.MountProbe as an unprivileged user (setpriv), talking to it over
/// stdin/stdout. The probe is built once per test run and copied where that user can read it.
/// </summary>
internal sealed class UserProbe : IDisposable
{
    private static readonly Lazy<string> s_probeDll = new(BuildProbe);
    private readonly Process _process;
    private readonly BlockingCollection<string> _lines = new();
    private readonly StringBuilder _stderr = new();

    private UserProbe(Process p)
    {
        _process = p;
        p.OutputDataReceived += (_, e) => { if (e.Data is null) _lines.CompleteAdding(); else _lines.Add(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_stderr) _stderr.AppendLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
    }

    /// <summary>Starts the probe as uid/gid 65534 (nobody) with <paramref name="args"/>.</summary>
    public static UserProbe Start(params string[] args) => StartWithEnv(null, args);

    /// <summary>Like <see cref="Start"/>, with extra environment variables (e.g. a PATH without helpers).</summary>
    public static UserProbe StartWithEnv(IDictionary<string, string>? env, params string[] args)
    {
        string dll = s_probeDll.Value;
        string home = Path.Combine(MountEnv.Root, "home-nobody");
        Directory.CreateDirectory(home);
        MountEnv.Chown(home, MountEnv.UserId, MountEnv.GroupId);

        var psi = new ProcessStartInfo("setpriv")
        {
            UseShellExecute = false, RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true,
            WorkingDirectory = "/",
        };
        foreach (string a in new[] { $"--reuid={MountEnv.UserId}", $"--regid={MountEnv.GroupId}", "--clear-groups", "--", MountEnv.Dotnet(), dll })
            psi.ArgumentList.Add(a);
        foreach (string a in args) psi.ArgumentList.Add(a);
        psi.Environment["HOME"] = home;
        psi.Environment["DOTNET_CLI_HOME"] = home;
        psi.Environment["DOTNET_NOLOGO"] = "1";
        psi.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["USER"] = "nobody";
        if (env is not null) foreach (var kv in env) psi.Environment[kv.Key] = kv.Value;
        return new UserProbe(Process.Start(psi)!);
    }

    /// <summary>Runs a one-shot probe command (cleanup, ismounted) as the user and returns its first line.</summary>
    public static string RunOnce(params string[] args) => RunOnceWithEnv(null, args);

    public static string RunOnceWithEnv(IDictionary<string, string>? env, params string[] args)
    {
        using UserProbe p = StartWithEnv(env, args);
        string line = p.ReadLine(TimeSpan.FromSeconds(60));
        p._process.StandardInput.Close();
        p._process.WaitForExit(30_000);
        return line;
    }

    /// <summary>The next line the probe prints; fails the test (with its stderr) on timeout or exit.</summary>
    public string ReadLine(TimeSpan timeout)
    {
        if (_lines.TryTake(out string? line, timeout)) return line;
        string err;
        lock (_stderr) err = _stderr.ToString();
        throw new Xunit.Sdk.XunitException(
            $"mount probe printed nothing within {timeout} (exited: {_process.HasExited}); stderr: {err}");
    }

    public void Send(string command) => _process.StandardInput.WriteLine(command);

    public bool WaitForExit(TimeSpan timeout) => _process.WaitForExit(timeout);

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                try { _process.StandardInput.Close(); } catch (IOException) { }
                if (!_process.WaitForExit(15_000)) _process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException) { }
        _process.Dispose();
    }

    private static string BuildProbe()
    {
        string repo = MountEnv.RepoRoot();
        string project = Path.Combine(repo, "tests", "Lighthouse.Fuse.MountProbe", "Lighthouse.Fuse.MountProbe.csproj");
        string config = AppContext.BaseDirectory.Contains("/Release/", StringComparison.Ordinal) ? "Release" : "Debug";
        var env = new Dictionary<string, string> { ["DOTNET_NOLOGO"] = "1" };
        (int code, string stdout, string stderr) = (1, "", "");
        for (int attempt = 0; attempt < 2 && code != 0; attempt++) // a concurrent build of Lighthouse.Fuse can collide once
            (code, stdout, stderr) = MountEnv.Run(MountEnv.Dotnet(), ["build", project, "-c", config, "--nologo", "-v", "q"],
                                                  TimeSpan.FromMinutes(5), env);
        if (code != 0) throw new InvalidOperationException($"building the mount probe failed:\n{stdout}\n{stderr}");

        // Copy it where the unprivileged user can read it, whatever the permissions of the checkout.
        string built = Path.Combine(repo, "tests", "Lighthouse.Fuse.MountProbe", "bin", config, "net10.0");
        string dest = Path.Combine(MountEnv.RunDir, "probe");
        Directory.CreateDirectory(dest);
        foreach (string f in Directory.GetFiles(built)) File.Copy(f, Path.Combine(dest, Path.GetFileName(f)), overwrite: true);
        foreach (string d in new[] { MountEnv.Root, MountEnv.RunDir, dest })
            File.SetUnixFileMode(d, (UnixFileMode)0x1ED);
        foreach (string f in Directory.GetFiles(dest)) File.SetUnixFileMode(f, (UnixFileMode)0x1A4); // 0644
        return Path.Combine(dest, "Lighthouse.Fuse.MountProbe.dll");
    }
}
