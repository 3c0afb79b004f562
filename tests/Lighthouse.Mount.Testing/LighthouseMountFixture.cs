using System.Diagnostics;
using System.Text;
using Lighthouse.Interop;
using Lighthouse.Store;
using Lighthouse.Tests;
using Xunit;

namespace Lighthouse.Mount.Testing;

/// <summary>
/// Runs `./lighthouse mount &lt;project&gt; &lt;mnt&gt;` as a child process, as a user would, and
/// always unmounts at the end (SIGTERM, then a lazy unmount if anything is left).
/// The event log is read straight from SQLite (read-only) while the mount owns the store.
/// As an xunit class fixture it mounts with the defaults; <see cref="WithOptions"/> adds options of `lighthouse mount`.
/// </summary>
public sealed class LighthouseMountFixture : IDisposable
{
    public const string TempBase = "/tmp/lighthouse-tests";
    private Process? _process;
    private readonly StringBuilder _log = new();

    public LighthouseMountFixture() : this([]) { }

    /// <summary>Mounts with options of `lighthouse mount` after the project and mount point, e.g. "--no-kernel-passthrough".</summary>
    public static LighthouseMountFixture WithOptions(params string[] mountOptions) => new(mountOptions);

    private LighthouseMountFixture(string[] mountOptions)
    {
        MountOptions = mountOptions;
        if (Environment.UserName != "root" || !File.Exists("/dev/fuse"))
            throw new InvalidOperationException("the mount tests need root and /dev/fuse (CI runs them as root)");
        RepoRoot = FindRepoRoot();
        Root = Path.Combine(TempBase, "mount-" + Guid.NewGuid().ToString("N")[..10]);
        Project = Path.Combine(Root, "project");
        MountPoint = Path.Combine(Root, "mnt");
        Directory.CreateDirectory(Project);
        File.WriteAllText(Path.Combine(Project, "README.md"), "first version\n");
        Directory.CreateDirectory(Path.Combine(Project, "src"));
        File.WriteAllText(Path.Combine(Project, "src", "main.c"), "int main(void) { return 0; }\n");
        Start();
    }

    public string RepoRoot { get; }
    public string Root { get; }
    public string Project { get; }
    public string MountPoint { get; }
    public IReadOnlyList<string> MountOptions { get; }
    public string Current => Path.Combine(MountPoint, "current");
    public string History => Path.Combine(MountPoint, "history");
    public int Pid => _process?.Id ?? 0;
    public string Log { get { lock (_log) return _log.ToString(); } }

    public void Start()
    {
        lock (_log) _log.Clear();
        var psi = new ProcessStartInfo(Path.Combine(RepoRoot, "lighthouse"))
        {
            ArgumentList = { "mount", Project, MountPoint },
            RedirectStandardError = true, RedirectStandardOutput = true,
        };
        foreach (var option in MountOptions) psi.ArgumentList.Add(option);
        _process = Process.Start(psi)!;
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_log) _log.AppendLine(e.Data); };
        _process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_log) _log.AppendLine(e.Data); };
        _process.BeginErrorReadLine();
        _process.BeginOutputReadLine();
        var deadline = DateTime.UtcNow.AddMinutes(3); // the first run builds the CLI
        while (!Log.Contains("lighthouse: mounted "))
        {
            if (_process.HasExited) throw new InvalidOperationException($"lighthouse mount exited with {_process.ExitCode}:\n{Log}");
            if (DateTime.UtcNow > deadline)
            {
                // The constructor fails, so nobody disposes this fixture: stop the mount (and a build still running)
                // now, and take its mount point back should it have come up meanwhile.
                Abandon();
                throw new TimeoutException($"lighthouse mount not ready after 3 minutes:\n{Log}");
            }
            Thread.Sleep(100);
        }
    }

    private void Abandon()
    {
        try { _process?.Kill(entireProcessTree: true); _process?.WaitForExit(10_000); }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception) { }
        if (File.ReadAllText("/proc/mounts").Contains(" " + MountPoint + " ", StringComparison.Ordinal))
            Run("umount", $"-l {MountPoint}");
    }

    /// <summary>Stops the mount the way Ctrl-C does; returns its exit code.</summary>
    public int Stop()
    {
        if (_process is null || _process.HasExited) return _process?.ExitCode ?? 0;
        Libc.Kill(_process.Id, Libc.SIGTERM);
        if (!_process.WaitForExit(30_000)) { _process.Kill(); _process.WaitForExit(); }
        return _process.ExitCode;
    }

    /// <summary>Kills the mount process with SIGKILL (a crash): the mount is left behind, stale.</summary>
    public void Crash()
    {
        Libc.Kill(_process!.Id, Libc.SIGKILL);
        _process.WaitForExit();
    }

    public record Event(long Seq, string Agent, string Op, string Path, string? Path2);

    public List<Event> Events(long after = 0)
    {
        // Read through the store's own read-only mode, beside the mount that writes it.
        using var store = SqliteProjectStoreFactory.Instance.OpenReadOnly(Project, new StoreOptions { ReconcileOnOpen = false, CheckIntegrityOnOpen = false });
        var list = new List<Event>();
        for (var page = store.EventsAfter(after, 10_000); page.Count > 0; page = store.EventsAfter(list[^1].Seq, 10_000))
            list.AddRange(page.Select(e => new Event(e.Seq, e.Agent, EventOpNames.Name(e.Op), e.Path, e.Path2)));
        return list;
    }

    public long LastSeq => Events().LastOrDefault()?.Seq ?? 0;

    /// <summary>Events are recorded just after the change: wait until one matching appears.</summary>
    public Event WaitForEvent(Func<Event, bool> match, long after = 0, int timeoutMs = 15_000)
    {
        var sw = Stopwatch.StartNew();
        while (true)
        {
            var found = Events(after).FirstOrDefault(match);
            if (found is not null) return found;
            if (sw.ElapsedMilliseconds > timeoutMs)
                throw new TimeoutException("no matching event; log since @" + after + ":\n" +
                    string.Join("\n", Events(after).Select(e => $"@{e.Seq} {e.Agent} {e.Op} {e.Path} {e.Path2}")) + "\nmount output:\n" + Log);
            Thread.Sleep(100);
        }
    }

    public static (int Code, string Output) Run(string file, string args, string? cwd = null)
    {
        var psi = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = cwd ?? "/" };
        psi.Environment["GIT_AUTHOR_NAME"] = psi.Environment["GIT_COMMITTER_NAME"] = "Test";
        psi.Environment["GIT_AUTHOR_EMAIL"] = psi.Environment["GIT_COMMITTER_EMAIL"] = "test@example.com";
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(300_000)) { p.Kill(true); throw new TimeoutException($"{file} {args} did not finish"); }
        return (p.ExitCode, stdout.Result + stderr.Result);
    }

    public static string MustRun(string file, string args, string? cwd = null)
    {
        var (code, output) = Run(file, args, cwd);
        Assert.True(code == 0, $"`{file} {args}` in {cwd} failed with {code}:\n{output}");
        return output;
    }

    public static string FindRepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "lighthouse")) && File.Exists(Path.Combine(d.FullName, "Lighthouse.slnx"))) return d.FullName;
        throw new InvalidOperationException("cannot find the repository root (the folder with ./lighthouse)");
    }

    public void Dispose()
    {
        try { Stop(); } catch { }
        if (File.ReadAllText("/proc/self/mountinfo").Contains(" " + MountPoint + " "))
            Run("umount", $"-l {MountPoint}");
        try { Directory.Delete(Root, true); }
        catch { DeepTree.Remove(Root); } // paths .NET cannot handle (a tree deeper than PATH_MAX)
    }
}
