using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using Lighthouse.Interop;
using Lighthouse.Store.Native;

namespace Lighthouse.Store;

/// <summary>
/// What a <see cref="DirectoryWatcher"/> saw during one burst of activity: the paths named by its
/// events (relative to the root, '/'-separated, "" for the root itself, each once), and whether
/// events were lost (the consumer must then rescan everything).
/// </summary>
public sealed record WatchBatch(IReadOnlyCollection<string> Paths, bool Overflowed);

/// <summary>
/// A recursive watcher over a directory tree, on raw inotify. Unlike FileSystemWatcher, which wakes
/// and dispatches once per event, it wakes once per burst: after <c>poll</c> returns it reads
/// everything queued, naps (<c>nap</c>, default 20 ms) so that the rest of the burst queues up in the
/// kernel, reads again, and delivers one deduplicated <see cref="WatchBatch"/> when a read after a nap
/// finds nothing (or after <c>maxBatchDelay</c> of continuous activity, so a steady stream of changes
/// cannot hide another change for long). Excluded directories are never watched, so their writes (the
/// store's own <c>.lighthouse/</c>) cost nothing at all.
/// </summary>
public sealed unsafe class DirectoryWatcher : IDisposable
{
    private const uint EventMask = Libc.IN_CREATE | Libc.IN_DELETE | Libc.IN_MODIFY | Libc.IN_ATTRIB | Libc.IN_CLOSE_WRITE
        | Libc.IN_MOVED_FROM | Libc.IN_MOVED_TO | Libc.IN_DELETE_SELF | Libc.IN_MOVE_SELF;
    // Watches are added through /proc/self/fd/N of a directory we opened O_NOFOLLOW ourselves (a path from the root could
    // be longer than PATH_MAX), so the magic link must be followed: no IN_DONT_FOLLOW.
    private const uint WatchMask = EventMask | Libc.IN_ONLYDIR | Libc.IN_EXCL_UNLINK;
    private const int BufferSize = 64 * 1024;

    private readonly string _root;
    private readonly Action<WatchBatch> _callback;
    private readonly Func<string, bool> _exclude;
    private readonly int _napMs;
    private readonly TimeSpan _maxBatchDelay;
    private readonly int _fd, _wakeFd, _rootFd;
    private readonly Thread _thread;
    private readonly byte[] _buffer = GC.AllocateUninitializedArray<byte>(BufferSize, pinned: true);
    private char[] _chars = new char[1024];

    // Owned by the watcher thread (and by the constructor before it starts).
    private readonly Dictionary<int, string> _dirs = new();
    // Directories whose IN_MOVED_FROM was read but not (yet) its IN_MOVED_TO: cookie → old path and
    // the watches that were at or under it, taken out of _dirs so nothing is reported from them.
    private readonly Dictionary<uint, (string From, List<(int Wd, string Path)> Watches)> _moving = new();
    // Directories whose watch could not be added because they were gone from that path: usually an
    // ancestor was renamed after their IN_CREATE was queued (mkdir a/b; mv a c), so the path was stale.
    private readonly List<string> _missed = [];
    private HashSet<string> _paths = new(StringComparer.Ordinal);
    private HashSet<string>.AlternateLookup<ReadOnlySpan<char>> _pathLookup;
    private bool _overflowed;
    private int _watchFailures;
    private string? _firstWatchFailure;

    private volatile bool _stopping;
    private bool _closeOnExit;
    private int _disposed;
    private long _wakeups, _events, _batches;

    /// <param name="root">The directory to watch, with everything under it.</param>
    /// <param name="callback">Called on the watcher thread with each batch; exceptions go to <see cref="Failed"/>.</param>
    /// <param name="exclude">Relative directory paths never to watch; must also answer true for everything under them.</param>
    /// <param name="nap">How long to let a burst accumulate between reads (default 20 ms).</param>
    /// <param name="maxBatchDelay">Deliver at least this often while activity never pauses (default 500 ms).</param>
    public DirectoryWatcher(string root, Action<WatchBatch> callback, Func<string, bool>? exclude = null,
        TimeSpan? nap = null, TimeSpan? maxBatchDelay = null)
    {
        ArgumentNullException.ThrowIfNull(callback);
        _root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(root));
        _callback = callback;
        _exclude = exclude ?? (_ => false);
        _napMs = (int)Math.Ceiling((nap ?? TimeSpan.FromMilliseconds(20)).TotalMilliseconds);
        _maxBatchDelay = maxBatchDelay ?? TimeSpan.FromMilliseconds(500);
        _pathLookup = _paths.GetAlternateLookup<ReadOnlySpan<char>>();

        _fd = Libc.InotifyInit1(Libc.IN_NONBLOCK | Libc.IN_CLOEXEC);
        if (_fd < 0)
            throw new IOException($"cannot watch {_root}: inotify_init1: {Libc.ErrorText(Marshal.GetLastPInvokeError())}");
        _wakeFd = Libc.EventFd(0, Libc.EFD_NONBLOCK | Libc.EFD_CLOEXEC);
        if (_wakeFd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            Libc.Close(_fd);
            throw new IOException($"cannot watch {_root}: eventfd: {Libc.ErrorText(errno)}");
        }
        // Directories are reached from here, never by absolute path (a tree may be deeper than PATH_MAX).
        _rootFd = Libc.Open(_root, Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0);
        if (_rootFd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            Libc.Close(_fd);
            Libc.Close(_wakeFd);
            throw new DirectoryNotFoundException($"cannot watch {_root}: {Libc.ErrorText(errno)}");
        }
        try
        {
            AddTree("", report: false);
            if (_dirs.Count == 0) throw new DirectoryNotFoundException($"cannot watch {_root}: {_firstWatchFailure ?? "not a directory"}");
        }
        catch
        {
            CloseFds();
            throw;
        }
        // Watches are in place when the constructor returns: changes made after it are seen.
        _thread = new Thread(Run) { Name = "lighthouse-watcher", IsBackground = true };
        _thread.Start();
    }

    /// <summary>Raised (on the watcher thread) when the callback threw, when directories could not be
    /// watched (e.g. fs.inotify.max_user_watches reached), or when reading inotify failed (the watcher then stops).</summary>
    public event Action<Exception>? Failed;

    /// <summary>Times the watcher thread woke from <c>poll</c> (both the idle wait and the naps).</summary>
    public long Wakeups => Interlocked.Read(ref _wakeups);

    /// <summary>inotify events read.</summary>
    public long Events => Interlocked.Read(ref _events);

    /// <summary>Batches delivered to the callback.</summary>
    public long Batches => Interlocked.Read(ref _batches);

    /// <summary>The exclude predicate both the store and the mount use: the store's own state directory.</summary>
    public static bool ExcludeStoreState(string relativePath) =>
        relativePath == StoreConstants.StateDirName || relativePath.StartsWith(StoreConstants.StateDirName + "/", StringComparison.Ordinal);

    // ------------------------------------------------------------------ thread

    private void Run()
    {
        BackgroundThread.LowerPriority();
        var fds = stackalloc PollFd[2];
        try
        {
            while (!_stopping)
            {
                fds[0] = new PollFd { Fd = _fd, Events = Libc.POLLIN };
                fds[1] = new PollFd { Fd = _wakeFd, Events = Libc.POLLIN };
                if (Libc.Poll(fds, 2, -1) < 0)
                {
                    var errno = Marshal.GetLastPInvokeError();
                    if (errno == Libc.EINTR) continue;
                    throw new IOException($"watching {_root} failed: poll: {Libc.ErrorText(errno)}");
                }
                Interlocked.Increment(ref _wakeups);
                if (_stopping) break;
                if (fds[0].Revents == 0) continue;
                try
                {
                    if (Drain() == 0) continue;
                    // Let the burst queue up in the kernel rather than waking for each of its events.
                    long start = Stopwatch.GetTimestamp();
                    while (_napMs > 0 && !_stopping && Stopwatch.GetElapsedTime(start) < _maxBatchDelay)
                    {
                        Nap();
                        if (Drain() == 0) break;
                    }
                    if (_stopping) break;
                    Deliver();
                }
                catch (Exception e) when (e is not InotifyReadException)
                {
                    // A bug or a throwing exclude predicate: our view of the tree may be off, so say so.
                    _overflowed = true;
                    RaiseFailed(e);
                }
            }
        }
        catch (Exception e)
        {
            RaiseFailed(e); // reading inotify itself failed: nothing more will be seen
        }
        finally
        {
            if (_closeOnExit) CloseFds();
        }
    }

    /// <summary>Sleeps the coalescing nap; Dispose cuts it short through the eventfd.</summary>
    private void Nap()
    {
        PollFd wake = new() { Fd = _wakeFd, Events = Libc.POLLIN };
        Libc.Poll(&wake, 1, _napMs);
        Interlocked.Increment(ref _wakeups);
    }

    /// <summary>Reads until the queue is empty; returns the number of events read.</summary>
    private int Drain()
    {
        int total = 0;
        while (true)
        {
            nint n;
            fixed (byte* p = _buffer) n = Libc.Read(_fd, p, BufferSize);
            if (n < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno == Libc.EINTR) continue;
                if (errno == Libc.EAGAIN) break;
                throw new InotifyReadException($"watching {_root} failed: read: {Libc.ErrorText(errno)}");
            }
            if (n == 0) break;
            total += Parse(_buffer.AsSpan(0, (int)n));
        }
        Interlocked.Add(ref _events, total);
        return total;
    }

    private int Parse(ReadOnlySpan<byte> buffer)
    {
        int count = 0;
        for (int at = 0; at + Libc.InotifyEventSize <= buffer.Length; count++)
        {
            int wd = MemoryMarshal.Read<int>(buffer[at..]);
            uint mask = MemoryMarshal.Read<uint>(buffer[(at + 4)..]);
            uint cookie = MemoryMarshal.Read<uint>(buffer[(at + 8)..]);
            int len = MemoryMarshal.Read<int>(buffer[(at + 12)..]);
            var name = buffer.Slice(at + Libc.InotifyEventSize, len);
            int nul = name.IndexOf((byte)0);
            if (nul >= 0) name = name[..nul]; // the kernel pads names with NULs
            at += Libc.InotifyEventSize + len;
            Handle(wd, mask, cookie, name);
        }
        return count;
    }

    private void Handle(int wd, uint mask, uint cookie, ReadOnlySpan<byte> name)
    {
        if ((mask & Libc.IN_Q_OVERFLOW) != 0) { _overflowed = true; return; }
        // Unknown: a watch we removed (moved out, excluded) whose last events were still queued.
        if (!_dirs.TryGetValue(wd, out var dir)) return;
        if ((mask & Libc.IN_IGNORED) != 0) { _dirs.Remove(wd); return; }
        if (name.Length == 0)
        {
            Report(dir); // the watched directory itself (attributes, deleted, moved)
            return;
        }
        if ((mask & Libc.IN_ISDIR) == 0)
        {
            Report(dir, name);
            return;
        }

        // A subdirectory: the tree of watches changes.
        string path = new(Compose(dir, name));
        if (_exclude(path))
        {
            if ((mask & Libc.IN_MOVED_TO) != 0 && _moving.Remove(cookie, out var lost)) Unwatch(lost.Watches);
            return;
        }
        _paths.Add(path);
        if ((mask & Libc.IN_CREATE) != 0)
            AddTree(path, report: true);
        else if ((mask & Libc.IN_MOVED_FROM) != 0)
        {
            var watches = new List<(int, string)>();
            foreach (var (w, p) in _dirs)
                if (StorePath.IsSelfOrUnder(p, path)) watches.Add((w, p));
            foreach (var (w, _) in watches) _dirs.Remove(w);
            _moving[cookie] = (path, watches);
        }
        else if ((mask & Libc.IN_MOVED_TO) != 0)
        {
            if (_moving.Remove(cookie, out var moved) && moved.Watches.Exists(m => m.Path == moved.From))
            {
                foreach (var (w, p) in moved.Watches)
                {
                    var renamed = path + p[moved.From.Length..];
                    if (_exclude(renamed)) Libc.InotifyRmWatch(_fd, w);
                    else _dirs[w] = renamed;
                }
                // A directory made in it that we looked for under the old name: walk the new one.
                if (_missed.Exists(m => StorePath.IsSelfOrUnder(m, moved.From)))
                    AddTree(path, report: true);
            }
            else
            {
                // Moved in from outside the tree (or an excluded directory), or renamed before we could
                // watch it (mkdir x; mv x y): watch it now and report what is in it.
                if (moved.Watches is { } partial) Unwatch(partial);
                AddTree(path, report: true);
            }
        }
    }

    /// <summary>Watches a directory and every directory under it (no symlinks followed); with
    /// <paramref name="report"/>, reports the entries of each directory that was not watched yet: they
    /// may have been made before its watch existed.</summary>
    private void AddTree(string rel, bool report, HashSet<int>? live = null)
    {
        var stack = new Stack<string>();
        stack.Push(rel);
        var entries = new List<(byte[] Name, byte Type)>();
        while (stack.TryPop(out var dir))
        {
            int fd = ProjectTree.OpenDirectory(_rootFd, dir);
            int wd = fd < 0 ? fd : Libc.InotifyAddWatch(_fd, $"/proc/self/fd/{fd}", WatchMask);
            if (wd < 0)
            {
                var errno = fd < 0 ? -fd : Marshal.GetLastPInvokeError();
                if (fd >= 0) Libc.Close(fd);
                // Gone or replaced by a file or symlink since we saw it: its parent's events say so.
                if (errno is Libc.ENOENT or Libc.ENOTDIR) { _missed.Add(dir); continue; }
                if (errno == Libc.ELOOP) continue; // a symlink
                // ENOSPC (max_user_watches), ENOMEM, EACCES: changes there would go unseen.
                _overflowed = true;
                if (_watchFailures++ == 0)
                    _firstWatchFailure = $"{(dir.Length == 0 ? _root : _root + "/" + dir)}: {Libc.ErrorText(errno)}" + (errno == Libc.ENOSPC ? " (raise fs.inotify.max_user_watches)" : "");
                continue;
            }
            bool known = _dirs.ContainsKey(wd); // inotify keys watches by inode: the same wd if watched already
            _dirs[wd] = dir;
            live?.Add(wd);
            entries.Clear();
            // A read that fails (the directory vanished meanwhile) leaves what it read: the parent's IN_DELETE reports the rest.
            ProjectTree.ReadEntries(fd, entries);
            foreach (var (name, type) in entries)
            {
                bool isDir = type == Libc.DT_DIR || (type == Libc.DT_UNKNOWN && IsDirectory(fd, name));
                var child = StorePath.Combine(dir, Encoding.UTF8.GetString(name.AsSpan(0, name.Length - 1)));
                if (isDir && _exclude(child)) continue;
                if (report && !known) _paths.Add(child);
                if (isDir) stack.Push(child);
            }
            Libc.Close(fd);
        }
    }

    /// <summary>Whether the NUL-terminated <paramref name="name"/> in <paramref name="dirFd"/> is a directory (not following a symlink).</summary>
    private static bool IsDirectory(int dirFd, byte[] name)
    {
        StatxBuf st;
        fixed (byte* p = name)
            return Libc.Statx(dirFd, p, Libc.AT_SYMLINK_NOFOLLOW, Libc.STATX_TYPE, &st) == 0 && st.IsDirectory;
    }

    /// <summary>After lost events: watch directories we missed, forget the ones that are gone, fix renamed paths.</summary>
    private void Resync()
    {
        var live = new HashSet<int>();
        AddTree("", report: false, live);
        foreach (var wd in _dirs.Keys.Where(w => !live.Contains(w)).ToList())
        {
            Libc.InotifyRmWatch(_fd, wd);
            _dirs.Remove(wd);
        }
    }

    private void Unwatch(List<(int Wd, string Path)> watches)
    {
        foreach (var (wd, _) in watches) Libc.InotifyRmWatch(_fd, wd); // EINVAL if already gone: fine
    }

    private void Deliver()
    {
        // A directory moved out of the tree: its MOVED_TO never came (the kernel queues the pair together).
        foreach (var (_, moved) in _moving) Unwatch(moved.Watches);
        _moving.Clear();
        _missed.Clear(); // the renames that made them stale were queued before we looked: all read by now
        if (_overflowed) Resync();
        if (_watchFailures > 0)
        {
            RaiseFailed(new IOException($"could not watch {_watchFailures} director{(_watchFailures == 1 ? "y" : "ies")}; first: {_firstWatchFailure}"));
            _watchFailures = 0;
        }
        if (_paths.Count == 0 && !_overflowed) return;
        var batch = new WatchBatch(_paths, _overflowed);
        _paths = new HashSet<string>(StringComparer.Ordinal); // the consumer may keep the batch
        _pathLookup = _paths.GetAlternateLookup<ReadOnlySpan<char>>();
        _overflowed = false;
        Interlocked.Increment(ref _batches);
        try
        {
            _callback(batch);
        }
        catch (Exception e)
        {
            RaiseFailed(e);
        }
    }

    private void RaiseFailed(Exception e)
    {
        try
        {
            Failed?.Invoke(e);
        }
        catch (Exception)
        {
            // A failing failure handler must not stop the watcher either.
        }
    }

    private void Report(string path) => _paths.Add(path);

    /// <summary>Adds dir/name to the batch without allocating when it is there already.</summary>
    private void Report(string dir, ReadOnlySpan<byte> name) => _pathLookup.Add(Compose(dir, name));

    /// <summary>dir/name in a reused buffer (valid until the next call).</summary>
    private ReadOnlySpan<char> Compose(string dir, ReadOnlySpan<byte> name)
    {
        int max = dir.Length + 1 + Encoding.UTF8.GetMaxCharCount(name.Length);
        if (_chars.Length < max) _chars = new char[Math.Max(max, _chars.Length * 2)];
        int n = 0;
        if (dir.Length > 0)
        {
            dir.CopyTo(_chars);
            _chars[dir.Length] = '/';
            n = dir.Length + 1;
        }
        n += Encoding.UTF8.GetChars(name, _chars.AsSpan(n)); // not UTF-8: U+FFFD; the parent is still right
        return _chars.AsSpan(0, n);
    }

    // ------------------------------------------------------------------ disposal

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        if (Thread.CurrentThread == _thread)
        {
            // From the callback: the thread closes the descriptors once it is out of it.
            _closeOnExit = true;
            _stopping = true;
            return;
        }
        _stopping = true;
        ulong one = 1;
        Libc.Write(_wakeFd, (byte*)&one, sizeof(ulong));
        _thread.Join();
        CloseFds();
    }

    private void CloseFds()
    {
        Libc.Close(_fd); // drops every watch
        Libc.Close(_wakeFd);
        Libc.Close(_rootFd);
    }

    private sealed class InotifyReadException(string message) : IOException(message);
}
