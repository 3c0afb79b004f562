using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using Lighthouse.FileSystem.Recording;
using Lighthouse.Fuse.Native;
using Lighthouse.Fuse.Session;
using Lighthouse.Passthrough;
using Lighthouse.Store;

namespace Lighthouse.FileSystem.External;

/// <summary>
/// Watches the project directory (inotify) for changes made beside the mount — an editor or a
/// build writing to the directory itself — and (1) drops what the kernel cached about the changed
/// names and inodes, so current/ shows them at once, and (2) records them as events of
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
    private readonly Func<Notifier?> _notifier;
    private readonly FileSystemWatcher _fsw;
    private readonly Timer _timer;
    private readonly object _gate = new();
    private readonly HashSet<string> _dirty = new(StringComparer.Ordinal);
    private bool _overflow, _disposed;
    private long _externalEvents, _invalidations;

    public ExternalChangeWatcher(string projectDir, ProjectStore store, EventRecorder recorder, PassthroughFileSystem current, Func<Notifier?> notifier)
    {
        _projectDir = projectDir; _store = store; _recorder = recorder; _current = current; _notifier = notifier;
        _timer = new Timer(_ => Process(), null, Timeout.Infinite, Timeout.Infinite);
        _fsw = new FileSystemWatcher(projectDir)
        {
            IncludeSubdirectories = true,
            NotifyFilter = NotifyFilters.FileName | NotifyFilters.DirectoryName | NotifyFilters.Size | NotifyFilters.LastWrite
                | NotifyFilters.Attributes | NotifyFilters.Security,
            InternalBufferSize = 64 * 1024,
        };
        _fsw.Created += (_, e) => Touch(e.FullPath);
        _fsw.Changed += (_, e) => Touch(e.FullPath);
        _fsw.Deleted += (_, e) => Touch(e.FullPath);
        _fsw.Renamed += (_, e) => { Touch(e.OldFullPath); Touch(e.FullPath); };
        _fsw.Error += (_, _) =>
        {
            lock (_gate) _overflow = true; // events were lost: reconcile everything
            _timer.Change(Debounce, Timeout.InfiniteTimeSpan);
        };
        _fsw.EnableRaisingEvents = true;
    }

    /// <summary>External changes recorded so far.</summary>
    public long ExternalEvents => Interlocked.Read(ref _externalEvents);
    public long Invalidations => Interlocked.Read(ref _invalidations);

    private void Touch(string fullPath)
    {
        string rel = Path.GetRelativePath(_projectDir, fullPath);
        if (rel == ".") rel = "";
        if (rel == StoreConstants.StateDirName || rel.StartsWith(StoreConstants.StateDirName + "/", StringComparison.Ordinal)) return;
        if (_recorder.TouchedRecently(rel)) return; // our own change, seen from below
        lock (_gate)
        {
            if (_disposed) return;
            _dirty.Add(rel);
        }
        _timer.Change(Debounce, Timeout.InfiniteTimeSpan);
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
        string scope = overflow ? "" : CommonDirectory(paths);
        _recorder.EnqueueExternal(() =>
        {
            var report = _store.Reconcile(scope: scope);
            Interlocked.Add(ref _externalEvents, report.Events.Count);
        });
    }

    /// <summary>The deepest directory that contains every path's parent.</summary>
    private static string CommonDirectory(List<string> paths)
    {
        string? common = null;
        foreach (var p in paths)
        {
            string dir = Path.GetDirectoryName(p) ?? "";
            if (common is null) { common = dir; continue; }
            while (common.Length > 0 && !(dir == common || dir.StartsWith(common + "/", StringComparison.Ordinal)))
                common = Path.GetDirectoryName(common) ?? "";
        }
        return common ?? "";
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
        _fsw.Dispose();
        _timer.Dispose();
    }
}
