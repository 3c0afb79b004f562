using System.Collections.Concurrent;
using System.Text;
using Lighthouse.FileSystem.Identity;
using Lighthouse.Fuse.Session;
using Lighthouse.Passthrough;
using Lighthouse.Store;

namespace Lighthouse.FileSystem.Recording;

/// <summary>
/// Turns every change made through current/ into an event of the store, attributed to its caller.
///
/// The FUSE reply does not wait for the event to commit: records are queued in the order the
/// changes happened (a change can only follow another once that one's reply reached the caller,
/// and we queue before replying) and one recorder thread hands them to the store, whose group
/// commit batches them. What must not wait is protected synchronously instead:
/// - before bytes of a file are changed or destroyed, its current content is made safe
///   (<see cref="BeforeModify"/>) — the store's copy-on-write capture, or the queued capture of
///   the last write;
/// - before a rename or removal, queued captures (which read files by path) are finished first.
/// A crash can lose the queue's tail; the next start's reconciliation records what the
/// directory holds beyond the log (as `external`).
/// </summary>
public sealed class EventRecorder : IPassthroughObserver, IDisposable
{
    // Node.UserState values: what we know about the content of a file.
    private const int Unknown = 0;      // maybe recorded by metadata only (baseline): capture before modifying
    private const int Safe = 1;         // its current content is in the store (or it is empty and recorded)
    private const int WritePending = 2; // written; the capture is queued

    private readonly ProjectStore _store;
    private readonly CallerIdentity _identity;
    private readonly BlockingCollection<Action> _queue = new(new ConcurrentQueue<Action>());
    private readonly Thread _thread;
    private PassthroughFileSystem? _fs;
    private long _queued, _done, _failed;
    // Paths with records still queued, and those whose queued capture reads the file at that path.
    private readonly ConcurrentDictionary<string, int> _pending = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _pendingCaptures = new(StringComparer.Ordinal);
    // What we know of a file's content by inode (Safe or WritePending), so the knowledge outlives the
    // node object: the kernel forgets inodes (drop_caches, memory pressure) and looks them up again.
    private readonly ConcurrentDictionary<(ulong Dev, ulong Ino), int> _known = new();
    // The last record handed to the store without waiting for its commit: Flush waits for it.
    private Task _lastAsync = Task.CompletedTask;
    private readonly ConcurrentQueue<Task> _inFlight = new(); // records handed to the store, commit not yet checked
    // Paths we changed recently, so the watcher of the project directory can tell our changes from others'.
    private readonly ConcurrentDictionary<string, long> _recent = new(StringComparer.Ordinal);
    private static readonly long RecentTicks = 3 * System.Diagnostics.Stopwatch.Frequency;
    private long _lastPrune;

    public EventRecorder(ProjectStore store, CallerIdentity identity)
    {
        _store = store;
        _identity = identity;
        _thread = new Thread(Run) { IsBackground = true, Name = "lighthouse-recorder" };
        _thread.Start();
    }

    public long Queued => Interlocked.Read(ref _queued);
    public long Recorded => Interlocked.Read(ref _done);
    public long Failed => Interlocked.Read(ref _failed);
    public int Backlog => _queue.Count;
    public string? LastError { get; private set; }

    /// <summary>The filesystem whose node paths we record (set once it exists; the two refer to each other).</summary>
    public void Attach(PassthroughFileSystem fs) => _fs = fs;

    private string PathOf(Node node, ReadOnlySpan<byte> child = default) => _fs!.RelativePath(node, child);

    private static NodeAttributes Attributes(in NodeStat st) => new(
        st.FileType switch { 0x4000 => FileKind.Directory, 0x8000 => FileKind.File, 0xA000 => FileKind.Symlink, _ => FileKind.Other },
        st.IsDirectory ? 0 : st.Size,
        (int)st.Permissions,
        st.MtimeNs,
        (long)st.Ino);

    /// <summary>True if we changed <paramref name="path"/> (or created/removed/renamed it) in the last few seconds.</summary>
    public bool TouchedRecently(string path) =>
        _recent.TryGetValue(path, out long at) && System.Diagnostics.Stopwatch.GetTimestamp() - at < RecentTicks;

    private void Touched(string path)
    {
        long now = System.Diagnostics.Stopwatch.GetTimestamp();
        _recent[path] = now;
        if (now - Interlocked.Read(ref _lastPrune) > RecentTicks && _recent.Count > 10_000)
        {
            Interlocked.Exchange(ref _lastPrune, now);
            foreach (var (p, at) in _recent) if (now - at > RecentTicks) _recent.TryRemove(p, out _);
        }
    }

    /// <summary>Drops what is only kept to go faster (known content states, old own-change marks):
    /// called when the kernel forgot many inodes, to keep memory bounded.</summary>
    public void Trim()
    {
        _known.Clear();
        long now = System.Diagnostics.Stopwatch.GetTimestamp();
        foreach (var (p, at) in _recent) if (now - at > RecentTicks) _recent.TryRemove(p, out _);
    }

    /// <summary>Queues work for the recorder thread that is not ours to attribute (reconciling external changes).</summary>
    public void EnqueueExternal(Action work) => Enqueue(work);

    private void Enqueue(Action record)
    {
        Interlocked.Increment(ref _queued);
        _queue.Add(record);
    }

    /// <summary>Queues a record about <paramref name="paths"/>, remembering they have work pending until it ran.</summary>
    private void Enqueue(Action record, ConcurrentDictionary<string, int> tracker, params string[] paths)
    {
        foreach (var p in paths) tracker.AddOrUpdate(p, 1, (_, n) => n + 1);
        Enqueue(() =>
        {
            try { record(); }
            finally
            {
                foreach (var p in paths)
                    if (tracker.AddOrUpdate(p, 0, (_, n) => n - 1) <= 0) tracker.TryRemove(new KeyValuePair<string, int>(p, 0));
            }
        });
    }

    private void Record(Action record, params string[] paths) => Enqueue(record, _pending, paths);

    private static bool PendingAtOrUnder(ConcurrentDictionary<string, int> tracker, string path)
    {
        if (tracker.IsEmpty) return false;
        if (tracker.ContainsKey(path)) return true;
        string prefix = path + "/";
        foreach (var key in tracker.Keys) if (key.StartsWith(prefix, StringComparison.Ordinal)) return true;
        return false;
    }

    private void Run()
    {
        BackgroundThread.LowerPriority();
        foreach (var record in Records())
        {
            try { record(); }
            catch (Exception e)
            {
                Interlocked.Increment(ref _failed);
                LastError = e.Message;
                Console.Error.WriteLine($"lighthouse: could not record a change: {e.Message}");
            }
            Interlocked.Increment(ref _done);
        }
    }

    /// <summary>The queue's records in order. When it runs dry during a burst of changes, the thread naps
    /// a millisecond before blocking: records queued meanwhile then cost no wake-up each (on 2 cores a
    /// wake-up per create was a tenth of the mount's cost).</summary>
    private IEnumerable<Action> Records()
    {
        using var activity = new BackgroundThread.Activity(); // counted busy except while blocked below
        while (true)
        {
            if (_queue.TryTake(out var record)) { yield return record; continue; }
            if (_queue.IsCompleted) yield break;
            ReportCommitted();
            Thread.Sleep(1);
            if (_queue.TryTake(out record)) { yield return record; continue; }
            // Idle: see the last records committed (or failed) before blocking, so errors are reported now.
            WaitForLastCommit();
            ReportCommitted();
            if (!activity.Take(_queue, out record)) yield break;
            yield return record;
        }
    }

    /// <summary>Waits until everything queued so far is in the store.</summary>
    public void Flush()
    {
        if (Thread.CurrentThread == _thread) return;
        using var done = new ManualResetEventSlim();
        Enqueue(() =>
        {
            WaitForLastCommit();
            done.Set();
        });
        done.Wait();
    }

    /// <summary>Hands a record to the store without waiting for its commit, so consecutive records share
    /// one transaction (the store's group commit); the store keeps them in the order given. Failures are
    /// reported by <see cref="ReportCommitted"/>: a continuation per record would cost a thread-pool
    /// wake-up per change.</summary>
    private void Submitted(Task commit)
    {
        _lastAsync = commit;
        _inFlight.Enqueue(commit);
    }

    /// <summary>Waits for the commit of the last record handed to the store (failures are reported by
    /// <see cref="ReportCommitted"/>), asking the store not to wait out its batch window.</summary>
    private void WaitForLastCommit()
    {
        if (_lastAsync.IsCompleted) return;
        _store.CommitSoon();
        try { _lastAsync.Wait(); } catch (AggregateException) { }
    }

    /// <summary>Reports the records whose commit failed, oldest first (the store commits in order).</summary>
    private void ReportCommitted()
    {
        while (_inFlight.TryPeek(out var commit) && commit.IsCompleted)
        {
            _inFlight.TryDequeue(out _);
            if (!commit.IsFaulted) continue;
            Interlocked.Increment(ref _failed);
            LastError = commit.Exception!.InnerException!.Message;
            Console.Error.WriteLine($"lighthouse: could not record a change: {LastError}");
        }
    }

    private void Know(Node node, int state) => _known[(node.Dev, node.Ino)] = state;

    public void BeforeModify(in RequestContext ctx, Node node)
    {
        if (Volatile.Read(ref node.UserState) == Unknown && _known.TryGetValue((node.Dev, node.Ino), out int known))
            Interlocked.CompareExchange(ref node.UserState, known, Unknown);
        switch (Volatile.Read(ref node.UserState))
        {
            case Safe:
                return;
            case WritePending:
                Flush(); // the queued capture of the last write runs first
                return;
            default:
                string path = PathOf(node);
                // Queued events about this file must reach the index first, or the disk would look changed behind our back.
                if (_pending.ContainsKey(path) || _pendingCaptures.ContainsKey(path)) Flush();
                else WaitForLastCommit(); // handed over, not yet committed
                _store.CaptureBeforeModify(_identity.AgentOf(ctx), path);
                Interlocked.CompareExchange(ref node.UserState, Safe, Unknown);
                Know(node, Safe);
                return;
        }
    }

    public void BeforeNamespaceChange(in RequestContext ctx, Node parent, ReadOnlySpan<byte> name)
    {
        // Captures read files by path: finish those at or under this path before it changes.
        if (!_pendingCaptures.IsEmpty && PendingAtOrUnder(_pendingCaptures, PathOf(parent, name))) Flush();
    }

    public object? Opened(in RequestContext ctx, Node node, bool forWriting, bool created)
    {
        // Writes through the mount reach the project directory too: they are ours, not external
        // (a file just created was marked by Created).
        if (forWriting && !created) { try { Touched(PathOf(node)); } catch (IOException) { } }
        return _identity.AgentOf(ctx);
    }

    public void Created(in RequestContext ctx, Node parent, ReadOnlySpan<byte> name, Node node, in NodeStat st)
    {
        string agent = _identity.AgentOf(ctx), path = PathOf(parent, name);
        var attributes = Attributes(st);
        if (attributes.Kind == FileKind.File && attributes.Size == 0) { Volatile.Write(ref node.UserState, Safe); Know(node, Safe); }
        Volatile.Write(ref node.UserStamp, attributes.MtimeNs);
        Touched(path);
        Record(() => Submitted(_store.RecordCreateAsync(agent, path, attributes)), path);
    }

    public void Removed(in RequestContext ctx, Node parent, ReadOnlySpan<byte> name, Node? node, bool lastLink, bool directory)
    {
        // The inode number may come back for another file: what we knew of this one must not carry over.
        if (node is not null && lastLink) _known.TryRemove((node.Dev, node.Ino), out _);
        string agent = _identity.AgentOf(ctx), path = PathOf(parent, name);
        Touched(path);
        Record(() => Submitted(_store.RecordUnlinkAsync(agent, path)), path);
    }

    public void Renamed(in RequestContext ctx, Node fromParent, ReadOnlySpan<byte> fromName, Node toParent, ReadOnlySpan<byte> toName, uint flags)
    {
        string agent = _identity.AgentOf(ctx), from = PathOf(fromParent, fromName), to = PathOf(toParent, toName);
        Touched(from);
        Touched(to);
        if ((flags & 2) != 0)
        {
            // RENAME_EXCHANGE: the log has no swap; three renames through a name nobody uses say the same.
            string aside = $"{from}.lighthouse-exchange-{Guid.NewGuid():N}";
            Record(() =>
            {
                Submitted(_store.RecordRenameAsync(agent, from, aside));
                Submitted(_store.RecordRenameAsync(agent, to, from));
                Submitted(_store.RecordRenameAsync(agent, aside, to));
            }, from, to);
            return;
        }
        Record(() => Submitted(_store.RecordRenameAsync(agent, from, to)), from, to);
    }

    public void Linked(in RequestContext ctx, Node node, Node newParent, ReadOnlySpan<byte> newName)
    {
        string agent = _identity.AgentOf(ctx), existing = PathOf(node), path = PathOf(newParent, newName);
        Touched(path);
        Record(() => Submitted(_store.RecordLinkAsync(agent, existing, path)), existing, path);
    }

    public void AttributesChanged(in RequestContext ctx, Node node, in NodeStat st)
    {
        string agent = _identity.AgentOf(ctx), path = PathOf(node);
        var attributes = Attributes(st);
        if (attributes.Kind == FileKind.File) { Volatile.Write(ref node.UserState, Unknown); _known.TryRemove((node.Dev, node.Ino), out _); }
        Volatile.Write(ref node.UserStamp, attributes.MtimeNs);
        Touched(path);
        Record(() => Submitted(_store.RecordSetAttributesAsync(agent, path, attributes)), path);
    }

    public void Written(in RequestContext ctx, Node node, object? openedBy, int fd)
    {
        // Opened for writing but not written (the modification time did not move): no new version.
        // Checked first, on the descriptor: most files opened for writing by tools are closed unchanged or just created.
        if (_fs!.TryStat(node, fd, out var st))
        {
            long mtime = st.MtimeNs;
            if (Interlocked.Exchange(ref node.UserStamp, mtime) == mtime) return;
        }
        // RELEASE comes from the kernel (pid 0): the write belongs to whoever opened the file.
        string agent = ctx.Pid != 0 ? _identity.AgentOf(ctx) : openedBy as string ?? CallerIdentity.KernelAgent;
        string path;
        try { path = PathOf(node); }
        catch (IOException) { return; } // unlinked while open: its last content has no name to record under
        Volatile.Write(ref node.UserState, WritePending);
        Know(node, WritePending);
        Touched(path);
        Enqueue(() =>
        {
            try { _store.CaptureOnClose(agent, path); }
            finally
            {
                Interlocked.CompareExchange(ref node.UserState, Safe, WritePending);
                _known.TryUpdate((node.Dev, node.Ino), Safe, WritePending);
            }
        }, _pendingCaptures, path);
    }

    public void Dispose()
    {
        _queue.CompleteAdding();
        _thread.Join();
    }
}
