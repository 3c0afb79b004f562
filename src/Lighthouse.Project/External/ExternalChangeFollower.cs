using Lighthouse.Project.Recording;
using Lighthouse.Store;

namespace Lighthouse.Project.External;

/// <summary>
/// Follows changes made to the project directory beside the servers — an editor or a build writing to
/// the directory itself — through <see cref="DirectoryWatcher"/> (inotify), and records them as events of
/// <c>external</c> by reconciling the smallest directory that holds them. Servers that cache what they
/// serve (the mount: the kernel's entry and attribute caches) hear of the paths first, through
/// <see cref="ChangedBeside"/>. Our own changes also reach the directory and raise inotify events: paths
/// the recorder touched in the last seconds are skipped, and reconciliation runs in the recorder's
/// queue, after everything recorded before.
/// </summary>
public sealed class ExternalChangeFollower : IDisposable
{
    private static readonly TimeSpan Debounce = TimeSpan.FromMilliseconds(100);
    private readonly IProjectStore _store;
    private readonly ChangeRecorder _recorder;
    private readonly DirectoryWatcher _watcher;
    private readonly Timer _timer;
    private readonly object _gate = new();
    private readonly HashSet<string> _dirty = new(StringComparer.Ordinal);
    private bool _overflow, _disposed;
    private long _externalEvents;

    public ExternalChangeFollower(string projectDir, IProjectStore store, ChangeRecorder recorder)
    {
        _store = store; _recorder = recorder;
        _timer = new Timer(_ => Process(), null, Timeout.Infinite, Timeout.Infinite);
        _watcher = new DirectoryWatcher(projectDir, OnBatch, DirectoryWatcher.ExcludeStoreState);
        _watcher.Failed += e => Console.Error.WriteLine($"lighthouse: watching {projectDir}: {e.Message}");
    }

    /// <summary>Raised (on a timer thread) with the project-relative paths changed beside us, before they are
    /// recorded; the paths may name entries that are gone already.</summary>
    public event Action<IReadOnlyList<string>>? ChangedBeside;

    /// <summary>External changes recorded so far.</summary>
    public long ExternalEvents => Interlocked.Read(ref _externalEvents);

    /// <summary>One burst, already coalesced by the watcher. Our own changes (most of what the
    /// servers' activity raises) are dropped here, so they neither keep the debounce running nor
    /// pile up; what is left is reconciled after <see cref="Debounce"/> without a new batch, so a
    /// long outside burst (tar x beside the mount) is reconciled once, after it settles.</summary>
    private void OnBatch(WatchBatch batch)
    {
        bool external = batch.Overflowed;
        lock (_gate)
        {
            if (_disposed) return;
            _overflow |= batch.Overflowed; // events were lost: reconcile everything
            foreach (var rel in batch.Paths)
            {
                if (_recorder.MayBeOurs(rel)) continue; // our own change, seen from below
                _dirty.Add(rel);
                external = true;
            }
        }
        if (external) _timer.Change(Debounce, Timeout.InfiniteTimeSpan);
    }

    private void Process()
    {
        List<string> paths;
        bool overflow;
        lock (_gate)
        {
            if (_disposed) return;
            paths = [.. _dirty];
            overflow = _overflow;
            _dirty.Clear();
            _overflow = false;
        }
        // Our own changes are marked just after their system call, so an inotify event can beat the
        // mark: look again now that the quiet period has passed.
        paths.RemoveAll(_recorder.MayBeOurs);
        if (paths.Count == 0 && !overflow) return;
        try { ChangedBeside?.Invoke(paths); }
        catch (Exception e) { Console.Error.WriteLine($"lighthouse: passing on changes made beside the mount: {e.Message}"); }
        string scope = overflow ? "" : StorePath.CommonDirectory(paths);
        _recorder.EnqueueExternal(() =>
        {
            // The scope may hold changes of ours whose records are not queued yet (another process's
            // create a microsecond ago): those are left to the recorder, which records them with their agent.
            var report = _store.Reconcile(scope: scope, leaveAlone: _recorder.MayBeOurs, leaveAloneInode: _recorder.InodeMayBeOurs);
            Interlocked.Add(ref _externalEvents, report.Events.Count);
        });
    }

    public void Dispose()
    {
        lock (_gate) _disposed = true;
        _watcher.Dispose(); // joins its thread: no batch arrives after this
        _timer.Dispose();
    }
}
