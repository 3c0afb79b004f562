using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using Lighthouse.FileSystem.Recording;
using Lighthouse.Fuse.LowLevel;
using Lighthouse.Fuse.Native;
using Lighthouse.Passthrough;
using Lighthouse.Store;

namespace Lighthouse.FileSystem.External;

/// <summary>
/// Watches the project directory (<see cref="DirectoryWatcher"/>, inotify) for changes made beside the
/// mount — an editor or a build writing to the directory itself — and (1) drops what the kernel cached
/// about the changed names and inodes, so current/ shows them at once, and (2) records them as events of
/// <c>external</c> by reconciling the smallest directory that holds them. Our own changes also
/// reach the directory and raise inotify events: paths the recorder touched in the last seconds
/// are skipped, and reconciliation runs in the recorder's queue, after everything we recorded.
/// </summary>
public sealed unsafe class ExternalChangeWatcher : IDisposable
{
    private static readonly TimeSpan Debounce = TimeSpan.FromMilliseconds(100);
    private readonly string _projectDir;
    private readonly ProjectStore _store;
    private readonly EventRecorder _recorder;
    private readonly PassthroughFileSystem _current;
    private readonly Func<IFuseNotifier?> _notifier;
    private readonly DirectoryWatcher _watcher;
    private readonly Timer _timer;
    private readonly object _gate = new();
    private readonly HashSet<string> _dirty = new(StringComparer.Ordinal);
    private bool _overflow, _disposed;
    private long _externalEvents, _invalidations;

    public ExternalChangeWatcher(string projectDir, ProjectStore store, EventRecorder recorder, PassthroughFileSystem current, Func<IFuseNotifier?> notifier)
    {
        _projectDir = projectDir; _store = store; _recorder = recorder; _current = current; _notifier = notifier;
        _timer = new Timer(_ => Process(), null, Timeout.Infinite, Timeout.Infinite);
        _watcher = new DirectoryWatcher(projectDir, OnBatch, DirectoryWatcher.ExcludeStoreState);
        _watcher.Failed += e => Console.Error.WriteLine($"lighthouse: watching {projectDir}: {e.Message}");
    }

    /// <summary>External changes recorded so far.</summary>
    public long ExternalEvents => Interlocked.Read(ref _externalEvents);
    public long Invalidations => Interlocked.Read(ref _invalidations);

    /// <summary>Counters of the inotify watcher: wake-ups, events read, batches.</summary>
    public (long Wakeups, long Events, long Batches) WatcherCounters => (_watcher.Wakeups, _watcher.Events, _watcher.Batches);

    /// <summary>One burst, already coalesced by the watcher. Our own changes (most of what the
    /// mount's activity raises) are dropped here, so they neither keep the debounce running nor
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
                if (_recorder.TouchedRecently(rel)) continue; // our own change, seen from below
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
        paths.RemoveAll(_recorder.TouchedRecently);
        if (paths.Count == 0 && !overflow) return;
        foreach (var path in paths) Invalidate(path);
        string scope = overflow ? "" : StorePath.CommonDirectory(paths);
        _recorder.EnqueueExternal(() =>
        {
            var report = _store.Reconcile(scope: scope);
            Interlocked.Add(ref _externalEvents, report.Events.Count);
        });
    }

    /// <summary>Tells the kernel to forget the name (in its parent) and the inode's cached attributes and data.</summary>
    private void Invalidate(string relativePath)
    {
        if (_notifier() is not { } notifier) return;
        string parent = Path.GetDirectoryName(relativePath) ?? "";
        string name = Path.GetFileName(relativePath);
        if (NodeAt(parent) is { } dir && name.Length > 0)
        {
            notifier.InvalidateEntry(dir.Id, Encoding.UTF8.GetBytes(name));
            Interlocked.Increment(ref _invalidations);
        }
        if (NodeAt(relativePath) is { } node)
        {
            notifier.InvalidateInode(node.Id);
            Interlocked.Increment(ref _invalidations);
        }
    }

    private Node? NodeAt(string relativePath)
    {
        if (relativePath.Length == 0) return _current.Nodes.Root;
        StatxBuf st;
        var bytes = Encoding.UTF8.GetBytes(Path.Combine(_projectDir, relativePath) + "\0");
        fixed (byte* p = bytes)
            if (Libc.Statx(Libc.AT_FDCWD, p, Libc.AT_SYMLINK_NOFOLLOW, Libc.STATX_INO, &st) < 0) return null;
        return _current.Nodes.FindByInode(st.Dev, st.Ino);
    }

    public void Dispose()
    {
        lock (_gate) _disposed = true;
        _watcher.Dispose(); // joins its thread: no batch arrives after this
        _timer.Dispose();
    }
}
