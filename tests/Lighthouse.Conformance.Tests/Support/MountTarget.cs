using System.Diagnostics;
using System.Text;

namespace Lighthouse.Conformance.Tests.Support;

/// <summary>
/// What a conformance test class runs against: a product mounted through its command line for the
/// class, and unmounted at the end, whatever happened. Layout under /tmp/lighthouse-tests/&lt;random&gt;/:
/// <see cref="Src"/> (the backing directory), <see cref="MountPoint"/> (where the FUSE filesystem is
/// mounted), <see cref="Mnt"/> (the directory inside it the tests use, which mirrors <see cref="Src"/>),
/// native (the twin directory every result is compared with), work (scratch: generated trees,
/// archives, git repositories).
///
/// Two products: <see cref="PassthroughTarget"/> (`lighthouse passthrough &lt;src&gt; &lt;mnt&gt;`, where
/// the mount is the backing directory) and <see cref="RecordedMountTarget"/> (`lighthouse mount
/// &lt;project&gt; &lt;mnt&gt;`, whose &lt;mnt&gt;/current is the project directory, every change recorded).
/// What legitimately differs between them is stated here as capabilities, never by skipping.
///
/// LIGHTHOUSE_TEST_BIND=1 replaces the FUSE mount by `mount --bind src mnt`, to validate the tests
/// themselves against the kernel's own behaviour.
/// </summary>
public abstract class MountTarget : IDisposable
{
    public const string TempBase = "/tmp/lighthouse-tests";

    public static bool BindMode => Environment.GetEnvironmentVariable("LIGHTHOUSE_TEST_BIND") == "1";

    /// <summary>The `lighthouse` command that mounts this target: passthrough or mount.</summary>
    public abstract string Command { get; }

    /// <summary>Extra command-line options for this mount.</summary>
    public abstract string[] Options { get; }

    /// <summary>Where, inside <see cref="MountPoint"/>, the mirror of <see cref="Src"/> is ("" for the mount point itself).</summary>
    protected virtual string MirrorInside => "";

    /// <summary>A line the daemon prints (stdout or stderr) once it serves requests; null: a stat answering is enough.</summary>
    protected virtual string? ReadyLine => null;

    /// <summary>How long the daemon may take to exit after SIGTERM.</summary>
    protected virtual TimeSpan StopTimeout => TimeSpan.FromSeconds(10);

    // ------------------------------------------------------------------ capabilities
    // What differs between targets for a real reason. Tests that depend on one ask for it.

    /// <summary>The kernel checks permissions (default_permissions): access decisions are the kernel's own.</summary>
    public abstract bool KernelChecksPermissions { get; }

    /// <summary>Other users than the mounter may reach the mount (allow_other).</summary>
    public abstract bool OtherUsersAllowed { get; }

    /// <summary>How much longer than on the passthrough a test may take before its watchdog calls it hung
    /// (the recorded mount also records every change; on a loaded 2-core CI machine a test took 2x).</summary>
    public virtual double TimeoutScale => 1.0;

    /// <summary>Names the mount hides at the root of <see cref="Mnt"/> (but not deeper): they exist in
    /// <see cref="Src"/> and not through the mount.</summary>
    public virtual IReadOnlyList<string> HiddenAtRoot => [];

    public string Root { get; }
    public string Src { get; }
    /// <summary>The directory the tests use: the mirror of <see cref="Src"/> through the mount.</summary>
    public string Mnt { get; }
    /// <summary>Where the FUSE filesystem is mounted (what /proc/self/mountinfo shows).</summary>
    public string MountPoint { get; }
    public string Native { get; }
    public string Work { get; }
    public string RepoRoot { get; }
    public string FsType { get; private set; } = "";

    private Process? _daemon;
    private volatile bool _ready;
    private readonly StringBuilder _log = new();
    private readonly object _logLock = new();
    private readonly List<string> _events = [];
    private int _counter;

    protected MountTarget()
    {
        RepoRoot = FindRepoRoot();
        Preflight();
        CleanStale();
        Directory.CreateDirectory(TempBase);
        Sys.chmod(TempBase, 0x1ed);
        Root = Path.Combine(TempBase, $"{GetType().Name}-{Guid.NewGuid():N}"[..(GetType().Name.Length + 13)]);
        Src = Path.Combine(Root, "src");
        MountPoint = Path.Combine(Root, "mnt");
        Mnt = BindMode || MirrorInside == "" ? MountPoint : Path.Combine(MountPoint, MirrorInside);
        Native = Path.Combine(Root, "native");
        Work = Path.Combine(Root, "work");
        foreach (var d in new[] { Root, Src, MountPoint, Native, Work }) // Mnt is MountPoint or inside the mount
        {
            Directory.CreateDirectory(d);
            Sys.chmod(d, 0x1ed); // 0755: nobody must be able to reach the mount
        }
        try
        {
            Mount();
        }
        catch
        {
            Unmount();
            TryDeleteRoot();
            throw;
        }
    }

    public string Describe() => BindMode
        ? "bind mount (LIGHTHOUSE_TEST_BIND=1)"
        : $"./lighthouse {CommandLine} ({FsType})";

    private string CommandLine => string.Join(' ', new[] { Command, Src, MountPoint }.Concat(Options));

    public IReadOnlyList<string> Events { get { lock (_events) return _events.ToList(); } }

    public string NextName(string prefix) => $"{prefix}-{Interlocked.Increment(ref _counter)}";

    // ------------------------------------------------------------------ preflight

    private static string FindRepoRoot()
    {
        if (Environment.GetEnvironmentVariable("LIGHTHOUSE_REPO_ROOT") is { Length: > 0 } env)
            return env;
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "lighthouse")) && File.Exists(Path.Combine(d.FullName, "Lighthouse.slnx")))
                return d.FullName;
        throw new InvalidOperationException(
            $"cannot find the repository root (a folder holding `lighthouse` and `Lighthouse.slnx`) above {AppContext.BaseDirectory}");
    }

    private static void Preflight()
    {
        if (Sys.geteuid() != 0)
            throw new InvalidOperationException(
                "the conformance tests mount filesystems and must run as root (CI runs them as root); " +
                $"this process runs as uid {Sys.geteuid()}");
        if (!BindMode && !File.Exists("/dev/fuse"))
            throw new InvalidOperationException(
                "/dev/fuse is missing: the conformance tests need FUSE (CI has it); they fail rather than skip");
    }

    private static readonly object BuildLock = new();
    private static Shell.Result? _buildResult;

    /// <summary>Builds the CLI once per test run (./lighthouse builds on first use), with a long timeout,
    /// so that mounts themselves can use a short one.</summary>
    private void EnsureBuilt()
    {
        lock (BuildLock)
        {
            _buildResult ??= Shell.Run(Path.Combine(RepoRoot, "lighthouse"), ["--help"], RepoRoot,
                timeoutSeconds: 600);
            if (_buildResult.Code != 0)
                throw new InvalidOperationException(
                    $"`./lighthouse --help` failed, so the CLI cannot be started: {_buildResult}");
        }
    }

    /// <summary>Lazy-unmounts mounts under the temp base that a previous run left behind and whose
    /// daemon is gone (ENOTCONN, or ECONNABORTED after an abort through fusectl), and removes old roots
    /// with nothing mounted beneath. A live mount (of a concurrent run) is never touched.</summary>
    private static void CleanStale()
    {
        foreach (var (mp, _) in MountInfo())
        {
            if (!mp.StartsWith(TempBase + "/", StringComparison.Ordinal)) continue;
            // A live mount of a concurrent run may be slow or hung: never wait on it for long.
            var probe = Task.Run(() => { Sys.Stat(mp, out int e); return e; });
            if (probe.Wait(TimeSpan.FromSeconds(5)) && probe.Result is Sys.ENOTCONN or Sys.ECONNABORTED)
                Shell.Run("umount", "-l", mp);
        }
        if (!Directory.Exists(TempBase)) return;
        var mounts = MountInfo().Select(m => m.MountPoint).ToList();
        foreach (var dir in Directory.GetDirectories(TempBase))
        {
            try
            {
                if (Directory.GetLastWriteTimeUtc(dir) > DateTime.UtcNow.AddHours(-3)) continue;
                if (mounts.Any(m => m == dir || m.StartsWith(dir + "/", StringComparison.Ordinal))) continue;
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
    }

    // ------------------------------------------------------------------ mounting

    /// <summary>(mountpoint, fstype) for each line of /proc/self/mountinfo.</summary>
    public static List<(string MountPoint, string FsType)> MountInfo()
    {
        var list = new List<(string, string)>();
        foreach (var line in File.ReadAllLines("/proc/self/mountinfo"))
        {
            var f = line.Split(' ');
            int dash = Array.IndexOf(f, "-");
            if (f.Length < 5 || dash < 0 || dash + 1 >= f.Length) continue;
            list.Add((Unescape(f[4]), f[dash + 1]));
        }
        return list;
    }

    private static string Unescape(string s)
    {
        if (!s.Contains('\\')) return s;
        var sb = new StringBuilder();
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] == '\\' && i + 3 < s.Length && char.IsDigit(s[i + 1]))
            {
                sb.Append((char)Convert.ToInt32(s.Substring(i + 1, 3), 8));
                i += 3;
            }
            else sb.Append(s[i]);
        }
        return sb.ToString();
    }

    public bool IsMounted(out string fsType)
    {
        // The last matching line is the mount on top.
        fsType = "";
        bool found = false;
        string target = BindMode ? Mnt : MountPoint;
        foreach (var (mp, t) in MountInfo())
            if (mp == target) { found = true; fsType = t; }
        return found;
    }

    public bool IsMounted() => IsMounted(out _);

    public bool DaemonAlive => BindMode ? IsMounted() : _daemon is { HasExited: false };

    public string DaemonLogTail(int lines = 60)
    {
        lock (_logLock)
        {
            var all = _log.ToString().Split('\n');
            return string.Join('\n', all.Skip(Math.Max(0, all.Length - lines)));
        }
    }

    public string DaemonStatus()
    {
        if (BindMode) return IsMounted() ? "bind mount present" : "bind mount gone";
        if (_daemon == null) return "no daemon";
        return _daemon.HasExited
            ? $"daemon exited with code {_daemon.ExitCode}; output tail:\n{DaemonLogTail()}"
            : $"daemon running (pid {_daemon.Id}); output tail:\n{DaemonLogTail()}";
    }

    private void Note(string s)
    {
        lock (_events) _events.Add($"{DateTime.UtcNow:HH:mm:ss.fff} {s}");
    }

    private void Mount()
    {
        if (BindMode)
        {
            Shell.Ok("mount", "--bind", Src, Mnt);
            if (!IsMounted(out var t)) throw new InvalidOperationException($"bind mount of {Src} on {Mnt} not visible");
            FsType = t;
            Note("bind-mounted");
            return;
        }

        EnsureBuilt();
        var psi = new ProcessStartInfo(Path.Combine(RepoRoot, "lighthouse"))
        {
            WorkingDirectory = RepoRoot,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(Command);
        psi.ArgumentList.Add(Src);
        psi.ArgumentList.Add(MountPoint);
        foreach (var o in Options) psi.ArgumentList.Add(o);
        lock (_logLock) _log.Clear();
        _ready = ReadyLine == null;
        var p = new Process { StartInfo = psi };
        p.OutputDataReceived += (_, e) => Append("out", e.Data);
        p.ErrorDataReceived += (_, e) => Append("err", e.Data);
        p.Start();
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        _daemon = p;
        Note($"started daemon pid {p.Id}: lighthouse {CommandLine}");

        var sw = Stopwatch.StartNew();
        var timeout = TimeSpan.FromSeconds(60);
        while (true)
        {
            if (p.HasExited)
            {
                p.WaitForExit();
                throw new InvalidOperationException(
                    $"`./lighthouse {CommandLine}` exited with code {p.ExitCode} " +
                    $"before the mount was ready; output:\n{DaemonLogTail(200)}");
            }
            if (_ready && IsMounted(out var fsType))
            {
                // The directory the tests use must answer a stat (the daemon has answered INIT, LOOKUP
                // and GETATTR). A daemon that never answers would block this thread forever: stat on another one.
                var stat = Task.Run(() => { Sys.Stat(Mnt, out int e); return e; });
                if (!stat.Wait(TimeSpan.FromSeconds(20)))
                {
                    throw new InvalidOperationException(
                        $"{MountPoint} is mounted ({fsType}) but stat on {Mnt} did not return within 20s; output:\n{DaemonLogTail(200)}");
                }
                if (stat.Result == 0)
                {
                    if (!fsType.StartsWith("fuse", StringComparison.Ordinal))
                        throw new InvalidOperationException($"{MountPoint} is mounted with type {fsType}, not a FUSE type");
                    FsType = fsType;
                    Note($"mounted ({fsType}) after {sw.ElapsedMilliseconds} ms");
                    return;
                }
            }
            // ./lighthouse rebuilds when a source changed since the last build: give that time too.
            if (timeout.TotalSeconds < 600 && DaemonLogTail(5).Contains("lighthouse: building", StringComparison.Ordinal))
                timeout = TimeSpan.FromSeconds(600);
            if (sw.Elapsed > timeout)
                throw new InvalidOperationException(
                    $"`./lighthouse {CommandLine}` was not ready within {timeout.TotalSeconds}s; output:\n{DaemonLogTail(200)}");
            Thread.Sleep(50);
        }
    }

    private void Append(string stream, string? line)
    {
        if (line == null) return;
        if (ReadyLine != null && line.Contains(ReadyLine, StringComparison.Ordinal)) _ready = true;
        lock (_logLock)
        {
            _log.Append(stream).Append(": ").Append(line).Append('\n');
            if (_log.Length > 256 * 1024) _log.Remove(0, _log.Length - 128 * 1024);
        }
    }

    /// <summary>Stops the daemon with SIGTERM (up to <see cref="StopTimeout"/>), then makes sure nothing stays mounted.
    /// Returns a description of anything that did not go as it should.</summary>
    public string? Unmount()
    {
        var problems = new List<string>();
        if (BindMode)
        {
            if (IsMounted() && Shell.Run("umount", Mnt).Code != 0)
                Shell.Run("umount", "-l", Mnt);
        }
        else if (_daemon != null)
        {
            var p = _daemon;
            if (!p.HasExited)
            {
                Sys.kill(p.Id, Sys.SIGTERM);
                if (!p.WaitForExit(StopTimeout))
                {
                    problems.Add($"daemon did not exit within {StopTimeout.TotalSeconds} s of SIGTERM; killed");
                    Sys.kill(p.Id, Sys.SIGKILL);
                    p.WaitForExit(10_000);
                }
                else if (p.ExitCode != 0)
                    problems.Add($"daemon exited with code {p.ExitCode} on SIGTERM");
            }
            p.WaitForExit();
            if (IsMounted())
            {
                problems.Add("mountpoint still mounted after the daemon exited; lazy-unmounted");
                Shell.Run("umount", "-l", MountPoint);
            }
            p.Dispose();
            _daemon = null;
        }
        var msg = problems.Count == 0 ? null : string.Join("; ", problems);
        Note(msg == null ? "unmounted" : $"unmounted with problems: {msg}");
        return msg;
    }

    /// <summary>Sends <paramref name="signal"/> to the daemon and waits up to <see cref="StopTimeout"/> for it to exit.
    /// Returns its exit code (null if it did not exit) and whether the mountpoint is still mounted.</summary>
    public (int? ExitCode, bool StillMounted, string Output) StopWith(int signal)
    {
        if (BindMode)
        {
            Unmount();
            return (0, IsMounted(), "");
        }
        var p = _daemon ?? throw new InvalidOperationException("no daemon");
        Sys.kill(p.Id, signal);
        int? code = p.WaitForExit(StopTimeout) ? p.ExitCode : null;
        if (code != null) p.WaitForExit(); // drain the output
        bool mounted = IsMounted();
        string output = DaemonLogTail(40);
        Unmount(); // cleans up whatever is left
        return (code, mounted, output);
    }

    /// <summary>Kills the daemon outright (SIGKILL) and lazy-unmounts: releases any system call stuck in
    /// the mount. Used by the per-test watchdog.</summary>
    public void Abort(string why)
    {
        Note($"abort: {why}");
        if (!BindMode && _daemon is { HasExited: false } p)
        {
            Sys.kill(p.Id, Sys.SIGKILL);
            p.WaitForExit(10_000);
        }
        if (IsMounted()) Shell.Run("umount", "-l", BindMode ? Mnt : MountPoint);
    }

    /// <summary>Before each test: if the previous one killed or crashed the daemon, mount afresh.</summary>
    public void EnsureHealthy()
    {
        if (DaemonAlive && IsMounted()) return;
        Note($"remounting: {DaemonStatus()}");
        Unmount();
        Mount();
    }

    private void TryDeleteRoot()
    {
        if (MountInfo().Any(m => m.MountPoint == Root || m.MountPoint.StartsWith(Root + "/", StringComparison.Ordinal)))
        {
            Console.Error.WriteLine($"lighthouse tests: {Root} still has a mount beneath it; not deleted");
            return;
        }
        try { Directory.Delete(Root, recursive: true); }
        catch (Exception e) { Console.Error.WriteLine($"lighthouse tests: could not delete {Root}: {e.Message}"); }
    }

    public void Dispose()
    {
        var problems = Unmount();
        if (problems != null) Console.Error.WriteLine($"lighthouse tests: {Describe()}: {problems}");
        TryDeleteRoot();
        GC.SuppressFinalize(this);
    }
}

// ====================================================================== lighthouse passthrough

/// <summary>`./lighthouse passthrough &lt;src&gt; &lt;mnt&gt; [options]`: the mount is the backing directory.</summary>
public abstract class PassthroughTarget : MountTarget
{
    public override string Command => "passthrough";
    public override bool KernelChecksPermissions => Options.Contains("--default-permissions") || OtherUsersAllowed;
    public override bool OtherUsersAllowed => Options.Contains("--allow-other");
}

/// <summary>A passthrough mount with the given options, for tests that mount and unmount by themselves.</summary>
public sealed class CustomPassthrough(params string[] options) : PassthroughTarget
{
    // A field initializer: it runs before the base constructor, which mounts with these options.
    private readonly string[] _options = options;
    public override string[] Options => _options;
}

/// <summary>The default passthrough mount: no options.</summary>
public sealed class PassthroughDefault : PassthroughTarget
{
    public override string[] Options => [];
}

/// <summary>Every read and write through the daemon, nothing cached in the kernel, two worker threads:
/// each operation reaches the filesystem code.</summary>
public sealed class PassthroughNoCache : PassthroughTarget
{
    public override string[] Options =>
        ["--no-kernel-passthrough", "--attr-timeout", "0", "--entry-timeout", "0", "--threads", "2"];
}

/// <summary>Shared with other users, permissions checked by the kernel.</summary>
public sealed class PassthroughPermissions : PassthroughTarget
{
    public override string[] Options => ["--allow-other", "--default-permissions"];
}

// ====================================================================== lighthouse mount

/// <summary>
/// `./lighthouse mount &lt;project&gt; &lt;mnt&gt; [options]`, the recorded mount: the tests use
/// &lt;mnt&gt;/current, whose backing directory is the project (<see cref="MountTarget.Src"/>). It always
/// mounts with allow_other and default_permissions, serves data through kernel passthrough where the
/// kernel offers it, and hides the store's state directory `.lighthouse/` at the project root.
/// </summary>
public abstract class RecordedMountTarget : MountTarget
{
    public override string Command => "mount";
    protected override string MirrorInside => "current";
    protected override string? ReadyLine => "lighthouse: mounted ";
    // It commits the event log and stops its watcher before it exits.
    protected override TimeSpan StopTimeout => TimeSpan.FromSeconds(30);
    public override bool KernelChecksPermissions => true;
    public override bool OtherUsersAllowed => true;
    public override IReadOnlyList<string> HiddenAtRoot => [".lighthouse"];
    public override double TimeoutScale => 2.0;
}

/// <summary>A recorded mount with the given options, for tests that mount and unmount by themselves.</summary>
public sealed class CustomRecordedMount(params string[] options) : RecordedMountTarget
{
    private readonly string[] _options = options;
    public override string[] Options => _options;
}

/// <summary>The default recorded mount: no options.</summary>
public sealed class RecordedMount : RecordedMountTarget
{
    public override string[] Options => [];
}

/// <summary>Every read and write through the daemon, nothing cached in the kernel: each operation
/// reaches the recording code.</summary>
public sealed class RecordedMountNoCache : RecordedMountTarget
{
    public override string[] Options => ["--no-kernel-passthrough", "--cache-timeout", "0"];
}
