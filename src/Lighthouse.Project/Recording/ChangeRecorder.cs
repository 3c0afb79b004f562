using System.Collections.Concurrent;
using System.Diagnostics;
using Lighthouse.Project.Agents;
using Lighthouse.Store;
using Microsoft.Win32.SafeHandles;

namespace Lighthouse.Project.Recording;

/// <summary>
/// Turns every change made through a server of the project (the mount's current/, later HTTP and
/// MCP) into an event of the store, attributed to its agent. Changes are described by paths
/// relative to the project root and by what the caller knows (<see cref="FileKey"/>,
/// <see cref="FileFacts"/>), never by objects of the server that made them.
///
/// The caller's reply does not wait for the event to commit: records are queued in the order the
/// changes happened (a change can only follow another once that one's reply reached the caller,
/// and callers record before replying) and one recorder thread hands them to the store, whose group
/// commit batches them. Captures read the file through a descriptor handed over with the change,
/// never by path, so renames and removals need not wait for them; what must not wait is protected
/// synchronously instead: before bytes of a file are changed in place, its current content is made
/// safe (<see cref="CaptureBeforeModify"/> reads them now; <see cref="ReadQueuedCapture"/> has the queued
/// capture of the last write read them now). Neither waits for the queue: on a busy mount it holds seconds
/// of captures.
/// A crash can lose the queue's tail; the next start's reconciliation records what the directory
/// holds beyond the log (as `external`).
///
/// <para><b>Capture points.</b> A version of a file's content is captured when another process could
/// observe a settled version: when a handle opened for writing is released and the file's modification
/// time moved (every such close), at fsync/fdatasync, when the file is renamed (or replaced or removed)
/// while written through a handle not released yet, and before its first change through us
/// (copy-on-write of content recorded by metadata only). A file that stays open and is fsync'ed again
/// and again is captured at most once per <see cref="OpenCaptureInterval"/>: an fsync sooner after its
/// last capture (<see cref="CaptureDue"/> false) is left for the next point — an fsync after the
/// interval, a rename, or the close, whose capture always holds the final content.</para>
///
/// <para><b>A version is a state the file had.</b> Writes by kernel passthrough never reach us, so bytes are read
/// where nobody writes: at fsync, rename, removal or truncation of a file open for writing, before the reply
/// (readNow); at close, later, unless the file is opened for writing again first (<see cref="BeforeOpenForWriting"/>
/// reads them then); a close while another handle writes records nothing (<see cref="LeftForLater"/>).</para>
/// </summary>
public sealed class ChangeRecorder : IDisposable
{
    private readonly IProjectStore _store;
    private readonly BackgroundQueue<Action> _queue = new();
    private readonly Thread _thread;
    private long _done, _failed;
    // Paths with records still queued: captures, and every other change.
    private readonly ConcurrentDictionary<string, int> _pending = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _pendingCaptures = new(StringComparer.Ordinal);
    // Set by a caller about to wait for queued work: the recorder stops napping (see Records).
    private readonly ManualResetEventSlim _hurry = new(false, 0);
    // The last capture queued for each file written, until its commit is seen (Known, or the recorder when idle);
    // and those handed to the store, in order, for the recorder to settle.
    private readonly ConcurrentDictionary<FileKey, PendingCapture> _captures = new();
    private readonly ConcurrentQueue<PendingCapture> _handedCaptures = new();
    private long _coalesced;
    // What we know of a file's content by inode (Safe or WritePending), so the knowledge outlives the
    // server's own objects: the kernel forgets inodes (drop_caches, memory pressure) and looks them up again.
    private readonly ConcurrentDictionary<FileKey, ContentKnowledge> _known = new();
    // The last record handed to the store without waiting for its commit: Flush waits for it.
    private Task _lastAsync = Task.CompletedTask;
    // Records handed to the store, commit not yet checked, with the paths they were about (to repair if they fail).
    private readonly ConcurrentQueue<(Task Commit, string[] Paths)> _inFlight = new();
    private string[] _running = []; // the paths of the record the recorder thread is running
    // Paths whose record failed, to reconcile once they are quiet (see Repair); when the next repair is due.
    private readonly HashSet<string> _toRepair = new(StringComparer.Ordinal);
    private long _repairDue = long.MaxValue, _repairs, _repairEvents, _repairRetryTicks;
    // Paths we changed recently, so the watcher of the project directory can tell our changes from others'.
    private readonly ConcurrentDictionary<string, long> _recent = new(StringComparer.Ordinal);
    // Paths open for writing through us, with how many opens: their bytes may change on disk at any time
    // without passing through us (kernel passthrough), however long they stay open.
    private readonly ConcurrentDictionary<string, int> _openForWriting = new(StringComparer.Ordinal);
    // The same by inode, for a change the watcher sees under another name of the file: inodes open for writing or with
    // a record queued (count), and when we last changed each.
    private readonly ConcurrentDictionary<long, int> _heldInodes = new();
    private readonly ConcurrentDictionary<long, long> _recentInodes = new();
    /// <summary>How long a change of ours marks its path and inode as ours (for the watcher, see <see cref="MayBeOurs"/>).</summary>
    public static readonly TimeSpan RecentWindow = TimeSpan.FromSeconds(3);
    private static readonly long RecentTicks = (long)(RecentWindow.TotalSeconds * Stopwatch.Frequency);
    // When each file's last capture was queued (Stopwatch ticks), for the capture rule of files kept open.
    private readonly ConcurrentDictionary<FileKey, long> _capturedAt = new();
    // Queued captures each hold a descriptor: bounded, so a backlog (a burst of closes while the store is slow) cannot
    // take the process's descriptors (the limit here is 20,000) from the files being served.
    private const int MaxQueuedCaptures = 1000;
    private readonly SemaphoreSlim _captureSlots = new(MaxQueuedCaptures);
    private long _lastPrune, _marks;

    public ChangeRecorder(IProjectStore store)
    {
        _store = store;
        _thread = new Thread(Run) { IsBackground = true, Name = "lighthouse-recorder" };
        _thread.Start();
    }

    public long Recorded => Interlocked.Read(ref _done);
    /// <summary>Writes whose capture was already queued and not started: that capture reads their bytes too.</summary>
    public long CapturesCoalesced => Interlocked.Read(ref _coalesced);
    public long Failed => Interlocked.Read(ref _failed);
    /// <summary>Reconciliations run after failed records, and the events they recorded (see <see cref="Repair"/>).</summary>
    public long Repairs => Interlocked.Read(ref _repairs);
    public long RepairEvents => Interlocked.Read(ref _repairEvents);
    /// <summary>How long the paths of a failed record must be left alone by us before they are repaired.</summary>
    public static readonly TimeSpan RepairQuiet = TimeSpan.FromSeconds(1);
    public int Backlog => _queue.Count;
    public string? LastError { get; private set; }

    /// <summary>A file kept open is captured at fsync at most this often (see the capture points above).</summary>
    public static readonly TimeSpan OpenCaptureInterval = TimeSpan.FromSeconds(1);
    private static readonly long IntervalTicks = (long)(OpenCaptureInterval.TotalSeconds * Stopwatch.Frequency);

    // ------------------------------------------------------------------ changes
    // A change of a directory's entries takes the directory's modification time right after it (dirMtimeNs…: from a stat
    // the caller made while the change was still its own), which history shows; null: the store stats the directory when
    // the record is made, which may be after later changes.

    /// <summary>What is known of <paramref name="file"/>'s current content.</summary>
    public ContentKnowledge Known(FileKey file)
    {
        if (!_known.TryGetValue(file, out var k)) return ContentKnowledge.Unknown;
        if (k == ContentKnowledge.WritePending && _captures.TryGetValue(file, out var capture) && capture.IsCommitted)
        {
            Settle(capture);
            return Known(file);
        }
        return k;
    }


    /// <summary>Before the bytes of <paramref name="path"/> are changed or destroyed, when they may not be in the
    /// store yet (<see cref="Known"/> said Unknown or Changed): saves them from <paramref name="content"/> (a descriptor of the
    /// file open for reading; the caller keeps it), and returns once they are safe.</summary>
    /// <param name="lastWriter">Who last opened the file for writing through us, if anyone: bytes that moved since the
    /// record (writes by kernel passthrough or mmap, which we never see) are theirs, not <c>external</c>.</param>
    public void CaptureBeforeModify(Agent agent, FileKey file, string path, SafeFileHandle content, Agent? lastWriter = null)
    {
        // A file we know nothing of (the kernel forgot it, or it is older than this mount) has nothing to save
        // unless the store holds a version of it recorded by metadata only: no query and no wait in the common case.
        // (What we queued ourselves that records bytes without them, a truncate, left it Changed, not Unknown.)
        if (Known(file) == ContentKnowledge.Unknown && !_store.HasUncapturedContent((long)file.Inode)) return;
        // The bytes are read now, before the change; their record goes in the queue, in order after the records of this
        // file still queued (its metadata-only version among them), so nothing waits for the queue.
        var bytes = _store.ReadContent(content, path);
        _known[file] = ContentKnowledge.Safe;
        Touched(path);
        Hold(file);
        Record(() =>
        {
            try { Submitted(_store.RecordCaptureBeforeModifyAsync(agent, path, bytes, lastWriter is null ? null : (Actor?)(Actor)lastWriter)); }
            finally { Unhold(file); }
        }, path);
    }

    /// <summary>Before a file whose last write is still being captured (<see cref="Known"/> said WritePending) is
    /// changed in place: returns once that capture has read the file's bytes (now, on the caller's thread, if it had not
    /// started); its record stays in the queue.</summary>
    public void ReadQueuedCapture(FileKey file)
    {
        if (_captures.TryGetValue(file, out var capture)) capture.ReadEarly(_store);
    }

    /// <summary>Whether an fsync of <paramref name="file"/> is a capture point now: its last capture was queued at least
    /// <see cref="OpenCaptureInterval"/> ago (or never). When not, the caller leaves the change for the next point.</summary>
    public bool CaptureDue(FileKey file) =>
        !_capturedAt.TryGetValue(file, out long at) || Stopwatch.GetTimestamp() - at >= IntervalTicks;

    /// <summary>A file was opened for writing: until <see cref="ClosedForWriting"/>, changes seen at that path are ours
    /// (a log written for minutes, a clone's pack file), whatever the watcher sees meanwhile.</summary>
    public void OpenedForWriting(string path, FileKey? file = null)
    {
        _openForWriting.AddOrUpdate(path, 1, (_, n) => n + 1);
        Touched(path);
        if (file is { } f) Hold(f);
    }

    /// <summary>An open of <see cref="OpenedForWriting"/> ended.</summary>
    public void ClosedForWriting(string path, FileKey? file = null)
    {
        Touched(path); // the close's own inotify events come just after
        if (file is { } f) { Unhold(f); TouchedFile(f); }
        // Only a mark that is there is taken down (the name may have been removed, and its mark with it, meanwhile):
        // a count never goes below zero, which would keep the path "ours" for good.
        while (_openForWriting.TryGetValue(path, out int n)
               && !(n <= 1 ? _openForWriting.TryRemove(new KeyValuePair<string, int>(path, n)) : _openForWriting.TryUpdate(path, n - 1, n))) { }
    }

    /// <summary>A file, directory, symlink or node was created (also a name given to an O_TMPFILE file).
    /// Returns what is known of its content afterwards (an empty regular file is safe as it is).</summary>
    /// <param name="symlinkTarget">A symlink's target as the request carried it: recorded as given, so a link
    /// removed before its record is made still has its target (empty: not a symlink, or read it from disk).</param>
    /// <param name="content">For a file born with bytes (an O_TMPFILE given a name): a descriptor to read them from, which
    /// the recorder closes; the name may be gone or another file's by the time the record is made.</param>
    public ContentKnowledge Created(Agent agent, string path, FileKey file, in FileFacts facts, ReadOnlySpan<byte> symlinkTarget = default,
        long? dirMtimeNs = null, SafeFileHandle? content = null)
    {
        var attributes = facts.ToStoreAttributes();
        var known = ContentKnowledge.Unknown;
        if (attributes.Kind == FileKind.File && attributes.Size == 0) _known[file] = known = ContentKnowledge.Safe;
        byte[]? target = attributes.Kind == FileKind.Symlink && !symlinkTarget.IsEmpty ? symlinkTarget.ToArray() : null;
        TouchedFile(file);
        Touched(path);
        if (content is not null && attributes.Kind == FileKind.File && attributes.Size > 0)
        {
            // Born with bytes: read as a queued write capture is — when the record runs, or earlier if the file is opened
            // for writing or changed first (BeforeOpenForWriting, ReadQueuedCapture) — so the create records the bytes
            // the file was born with, never those of a change made before its record ran.
            QueueCapture(agent, path, file, content, record: bytes => _store.RecordCreateAsync(agent, path, attributes, bytes, dirMtimeNs), joinable: false);
            return ContentKnowledge.WritePending;
        }
        Record(() =>
        {
            using (content) Submitted(_store.RecordCreateAsync(agent, path, attributes, target, dirMtimeNs, content));
        }, path);
        return known;
    }

    /// <param name="file">The inode the name led to, if known; <paramref name="lastLink"/>: it is gone.</param>
    public void Removed(Agent agent, string path, FileKey? file, bool lastLink, long? dirMtimeNs = null)
    {
        if (file is { } removed) TouchedFile(removed); // its other names change too (link count, time of change)
        // The inode number may come back for another file: what we knew of this one must not carry over.
        if (file is { } f && lastLink)
        {
            _known.TryRemove(f, out _);
            _capturedAt.TryRemove(f, out _);
            _captures.TryRemove(f, out _); // its queued capture, if any, settles nothing of a new file with this number
        }
        // A file removed while open for writing writes on without this name: the mark of the name goes (the inode's stays).
        _openForWriting.TryRemove(path, out _);
        Touched(path);
        Record(() => Submitted(_store.RecordUnlinkAsync(agent, path, dirMtimeNs)), path);
    }

    public void Renamed(Agent agent, string from, string to, long? fromDirMtimeNs = null, long? toDirMtimeNs = null)
    {
        Touched(from);
        Touched(to);
        MoveOpenForWriting(p => Moved(p, from, to));
        Record(() => Submitted(_store.RecordRenameAsync(agent, from, to, fromDirMtimeNs, toDirMtimeNs)), from, to);
    }

    /// <summary>RENAME_EXCHANGE: the two names swapped their files.</summary>
    public void Exchanged(Agent agent, string a, string b, long? aDirMtimeNs = null, long? bDirMtimeNs = null)
    {
        Touched(a);
        Touched(b);
        MoveOpenForWriting(p => Moved(p, a, b) ?? Moved(p, b, a));
        Record(() => Submitted(_store.RecordExchangeAsync(agent, a, b, aDirMtimeNs, bDirMtimeNs)), a, b);
    }

    /// <summary>Files open for writing keep being ours under their new name (and a directory's under its new
    /// place): writes through a descriptor opened before a rename still reach the directory.</summary>
    /// <param name="newName">The name a path has after the change; null if the change leaves it alone.</param>
    private void MoveOpenForWriting(Func<string, string?> newName)
    {
        if (_openForWriting.IsEmpty) return;
        // All taken out first, then put back: an exchange moves marks onto names whose own marks move away.
        var moved = new List<(string Path, int Opens)>();
        foreach (var (path, n) in _openForWriting)
            if (newName(path) is { } to && _openForWriting.TryRemove(new KeyValuePair<string, int>(path, n))) moved.Add((to, n));
        foreach (var (to, n) in moved)
        {
            _openForWriting.AddOrUpdate(to, n, (_, m) => m + n);
            Touched(to);
        }
    }

    /// <summary><paramref name="path"/> after <paramref name="from"/> became <paramref name="to"/> (itself, or under it
    /// when it is a directory); null if it is neither.</summary>
    private static string? Moved(string path, string from, string to) =>
        path == from ? to : path.StartsWith(from + "/", StringComparison.Ordinal) ? to + path[from.Length..] : null;

    public void Linked(Agent agent, string existing, string newPath, long? dirMtimeNs = null)
    {
        Touched(newPath);
        Record(() => Submitted(_store.RecordLinkAsync(agent, existing, newPath, dirMtimeNs)), existing, newPath);
    }

    /// <summary>chmod, chown, utimens or truncate: <paramref name="facts"/> is the file's stat after the change.
    /// <paramref name="bytesChanged"/>: it set the size or the modification time (truncate, utimens): the store records
    /// new bytes without them, so they are captured now, like a write's, from <paramref name="content"/> (a descriptor
    /// of the file open for reading, which the recorder closes; without one they are captured at the next capture point,
    /// or before the next change).</summary>
    public void AttributesChanged(Agent agent, string path, FileKey file, in FileFacts facts, bool bytesChanged = true,
        SafeFileHandle? content = null)
    {
        var attributes = facts.ToStoreAttributes();
        Touched(path);
        Hold(file);
        Record(() =>
        {
            try { Submitted(_store.RecordSetAttributesAsync(agent, path, attributes)); }
            finally { Unhold(file); }
        }, path);
        if (attributes.Kind != FileKind.File) { content?.Dispose(); return; }
        if (bytesChanged && content is not null) QueueCapture(agent, path, file, content);
        else if (bytesChanged) _known[file] = ContentKnowledge.Changed;
        // chmod, chown: the bytes are as they were, unless it is open for writing through the kernel (writes we do not
        // see): the store then records them as changed, to be captured at the next close or before the next change.
        else if (_openForWriting.ContainsKey(path) && Known(file) != ContentKnowledge.WritePending) _known[file] = ContentKnowledge.Changed;
    }

    /// <summary>A file that was written reached a capture point and its modification time moved (or a change of its
    /// bytes was recorded without them): its content is a new version of <paramref name="agent"/> (the one who opened
    /// it, for the kernel's own requests), recorded under <paramref name="path"/>, its name now (in order with the
    /// changes recorded before and after). The bytes are read from <paramref name="content"/> (a descriptor of the file
    /// open for reading, which the recorder closes), whatever the file is called or whether it still has a name by the
    /// time the capture runs. The capture is queued; the event commits with the next group.</summary>
    public void Written(Agent agent, string path, FileKey file, SafeFileHandle content, bool readNow = false)
    {
        long now = Stopwatch.GetTimestamp();
        _capturedAt[file] = now;
        if ((Interlocked.Increment(ref _marks) & 1023) == 0 && _capturedAt.Count > 10_000)
            foreach (var (f, at) in _capturedAt) if (now - at >= IntervalTicks) _capturedAt.TryRemove(f, out _);
        Touched(path);
        QueueCapture(agent, path, file, content, readNow);
    }

    /// <param name="readNow">Read the bytes before returning (other processes may go on writing to the file once the
    /// caller replies: an fsync, a file renamed or truncated while open); else the queued capture reads them when it runs,
    /// and writes until then join it.</param>
    /// <param name="record">What records the bytes read (default: a write); <paramref name="joinable"/>: whether later
    /// writes may join the capture (not a creation's: its event is of the bytes the file was born with).</param>
    private void QueueCapture(Agent agent, string path, FileKey file, SafeFileHandle content, bool readNow = false,
        Func<CapturedContent?, Task>? record = null, bool joinable = true)
    {
        _known[file] = ContentKnowledge.WritePending;
        // A capture of this file that waits in the queue with nothing queued after it at this path has not read the
        // file yet: it reads these bytes too, through its own descriptor (fsync after fsync, close after fsync, one capture).
        if (!readNow && _captures.TryGetValue(file, out var queued) && queued.Joinable && queued.Path == path && queued.Agent == (Actor)agent
            && !_pending.ContainsKey(path) && queued.TryJoin())
        {
            content.Dispose();
            Interlocked.Increment(ref _coalesced);
            return;
        }
        _captureSlots.Wait(); // only when MaxQueuedCaptures hold descriptors already
        var capture = new PendingCapture(path, file, agent, content, _captureSlots) { Joinable = joinable };
        _captures[file] = capture;
        Hold(file);
        if (readNow) capture.ReadEarly(_store); // a failure is reported when its record runs
        Enqueue(() =>
        {
            Task commit = Task.CompletedTask; // a capture that failed is reported by Run; nobody waits for it
            try
            {
                var bytes = capture.Read(_store);
                commit = record is null ? _store.RecordWriteAsync(agent, path, bytes) : record(bytes);
                Submitted(commit);
            }
            finally
            {
                capture.Handed(commit);
                _handedCaptures.Enqueue(capture);
                Unhold(file);
            }
        }, _pendingCaptures, path);
    }

    /// <summary>Before <paramref name="file"/> is opened for writing: a queued capture of it that has not read its bytes
    /// reads them now, before writes through the new handle (which may never reach us: kernel passthrough) change them.</summary>
    public void BeforeOpenForWriting(FileKey file)
    {
        if (_captures.TryGetValue(file, out var capture)) capture.ReadEarly(_store);
    }

    /// <summary>A capture point of <paramref name="file"/> passed without a capture (closed while another handle still
    /// writes to it: the bytes may be past the state this close saw): its change is captured at the next point.</summary>
    public void LeftForLater(FileKey file)
    {
        // A queued capture that has not read the file yet reads these bytes too; one that has read them already (early,
        // at an open for writing or a change) or records a creation does not: then the change waits for the next point.
        if (Known(file) == ContentKnowledge.WritePending && _captures.TryGetValue(file, out var queued) && queued.Joinable && queued.TryJoin()) return;
        _known[file] = ContentKnowledge.Changed;
    }

    /// <summary>A capture's commit is done: what we know of its file is safe, unless it was written again since.</summary>
    private void Settle(PendingCapture capture)
    {
        if (_captures.TryRemove(new KeyValuePair<FileKey, PendingCapture>(capture.File, capture)))
            _known.TryUpdate(capture.File, ContentKnowledge.Safe, ContentKnowledge.WritePending);
    }

    /// <summary>Queues work that is not a change of ours (reconciling changes made beside the mount), in order
    /// with the changes recorded so far.</summary>
    public void EnqueueExternal(Action work) => Enqueue(work);

    // ------------------------------------------------------------------ own changes, seen from below

    /// <summary>True if a change seen at <paramref name="path"/> may be ours, so reconciling it would credit it to
    /// <c>external</c>: it or a directory above it has a record still queued (however long the queue: under load it
    /// can hold seconds of changes made after a reconciliation was queued, which its scan then sees on disk), is open
    /// for writing through us, or was changed by us in the last few seconds (a directory renamed takes its subtree along).</summary>
    public bool MayBeOurs(string path) => MayBeOurs(path, RecentTicks);

    /// <summary>As <see cref="MayBeOurs(string)"/>, counting changes of ours within <paramref name="windowTicks"/>.</summary>
    private bool MayBeOurs(string path, long windowTicks)
    {
        long now = Stopwatch.GetTimestamp();
        for (var p = path; ; p = StorePath.Parent(p))
        {
            if (_pending.ContainsKey(p) || _pendingCaptures.ContainsKey(p) || _openForWriting.ContainsKey(p)
                || _recent.TryGetValue(p, out long at) && now - at < windowTicks) return true;
            if (p.Length == 0) return false;
        }
    }

    /// <summary>True if a change seen on the file with inode <paramref name="inode"/> may be ours, whichever of its
    /// names it is seen under (a hard link's other name): it is open for writing through us, has a record queued, or was
    /// changed by us in the last few seconds.</summary>
    public bool InodeMayBeOurs(long inode) => InodeMayBeOurs(inode, RecentTicks);

    private bool InodeMayBeOurs(long inode, long windowTicks) =>
        _heldInodes.ContainsKey(inode) || _recentInodes.TryGetValue(inode, out long at) && Stopwatch.GetTimestamp() - at < windowTicks;

    private void Hold(FileKey file)
    {
        _heldInodes.AddOrUpdate((long)file.Inode, 1, (_, n) => n + 1);
        TouchedFile(file);
    }

    private void Unhold(FileKey file)
    {
        if (_heldInodes.AddOrUpdate((long)file.Inode, 0, (_, n) => n - 1) <= 0)
            _heldInodes.TryRemove(new KeyValuePair<long, int>((long)file.Inode, 0));
    }

    private void TouchedFile(FileKey file) => _recentInodes[(long)file.Inode] = Stopwatch.GetTimestamp();

    private void Touched(string path)
    {
        long now = Stopwatch.GetTimestamp();
        _recent[path] = now;
        // The dictionary's Count takes all its locks: look at it once in a thousand marks, not at every change.
        if ((Interlocked.Increment(ref _marks) & 1023) == 0 && now - Interlocked.Read(ref _lastPrune) > RecentTicks && _recent.Count > 10_000)
        {
            Interlocked.Exchange(ref _lastPrune, now);
            foreach (var (p, at) in _recent) if (now - at > RecentTicks) _recent.TryRemove(p, out _);
            foreach (var (i, at) in _recentInodes) if (now - at > RecentTicks) _recentInodes.TryRemove(i, out _);
        }
    }

    /// <summary>Drops what is only kept to go faster (known content states, old own-change marks):
    /// called when the kernel forgot many inodes, to keep memory bounded.</summary>
    public void Trim()
    {
        // Captures queued and changes recorded without their bytes stay known: the store cannot tell of them
        // before it has applied them (a truncate still queued), and there are only as many as the queue holds.
        bool settled = _queue.Count == 0 && _lastAsync.IsCompleted;
        foreach (var (file, known) in _known)
            if (known == ContentKnowledge.Safe || known == ContentKnowledge.Changed && settled)
                _known.TryRemove(new KeyValuePair<FileKey, ContentKnowledge>(file, known));
        _capturedAt.Clear();
        long now = Stopwatch.GetTimestamp();
        foreach (var (p, at) in _recent) if (now - at > RecentTicks) _recent.TryRemove(p, out _);
        foreach (var (i, at) in _recentInodes) if (now - at > RecentTicks) _recentInodes.TryRemove(i, out _);
    }

    // ------------------------------------------------------------------ the queue

    private void Enqueue(Action record)
    {
        _queue.Add(record);
    }

    /// <summary>Queues a record about <paramref name="paths"/>, remembering they have work pending until it ran.</summary>
    private void Enqueue(Action record, ConcurrentDictionary<string, int> tracker, params string[] paths)
    {
        foreach (var p in paths) tracker.AddOrUpdate(p, 1, (_, n) => n + 1);
        Enqueue(() =>
        {
            _running = paths;
            try { record(); }
            finally
            {
                _running = [];
                foreach (var p in paths)
                    if (tracker.AddOrUpdate(p, 0, (_, n) => n - 1) <= 0) tracker.TryRemove(new KeyValuePair<string, int>(p, 0));
            }
        });
    }

    private void Record(Action record, params string[] paths) => Enqueue(record, _pending, paths);

    private bool PendingAtOrAbove(string path)
    {
        for (var p = path; ; p = StorePath.Parent(p))
        {
            if (_pending.ContainsKey(p) || _pendingCaptures.ContainsKey(p)) return true;
            if (p.Length == 0) return false;
        }
    }

    private void Run()
    {
        BackgroundThread.LowerPriority();
        foreach (var record in Records())
        {
            try { record(); }
            catch (Exception e) { RecordFailed(e.Message, _running); }
            Interlocked.Increment(ref _done);
        }
    }

    /// <summary>The queue's records in order. When it runs dry during a burst of changes, the thread naps
    /// a millisecond before blocking: records queued meanwhile then cost no wake-up each (on 2 cores a
    /// wake-up per create was a tenth of the mount's cost). Then it waits a little for more before it asks
    /// for the commit of what it handed over: asking at every pause (tar x pauses between files) cut the
    /// store's group commits to a few events each, and a commit costs as much CPU as dozens of events.</summary>
    private IEnumerable<Action> Records()
    {
        using var activity = new BackgroundThread.Activity(); // counted busy except while blocked below
        while (true)
        {
            if (UntilRepair() == TimeSpan.Zero) Repair(); // between records, in order with them
            if (_queue.TryTake(out var record)) { yield return record; continue; }
            if (_queue.IsCompleted) yield break;
            ReportCommitted();
            activity.Pause(() => _hurry.Wait(1)); // a caller about to wait for the queue cuts the nap short
            _hurry.Reset();
            if (_queue.TryTake(out record)) { yield return record; continue; }
            if (activity.Take(_queue, QuietBeforeReport, out record)) { yield return record; continue; }
            // Quiet: see the last records committed (or failed) before blocking, so errors are reported now.
            WaitForLastCommit();
            ReportCommitted();
            if (activity.Take(_queue, UntilRepair(), out record)) { yield return record; continue; }
            if (_queue.IsCompleted) yield break; // else a repair is due
        }
    }

    /// <summary>How long the queue must stay empty before the recorder asks for the last commit (well past the
    /// store's batch window, which commits it anyway).</summary>
    private static readonly TimeSpan QuietBeforeReport = TimeSpan.FromMilliseconds(20);

    /// <summary>Waits until everything queued so far is in the store (or counted in <see cref="Failed"/>).</summary>
    public void Flush()
    {
        if (Thread.CurrentThread == _thread) return;
        using var done = new ManualResetEventSlim();
        Enqueue(() =>
        {
            WaitForLastCommit();
            ReportCommitted(); // failures of what was handed over are counted by the time Flush returns
            done.Set();
        });
        _hurry.Set();
        done.Wait();
    }

    /// <summary>Hands a record to the store without waiting for its commit, so consecutive records share
    /// one transaction (the store's group commit); the store keeps them in the order given. Failures are
    /// reported by <see cref="ReportCommitted"/>: a continuation per record would cost a thread-pool
    /// wake-up per change.</summary>
    private void Submitted(Task commit)
    {
        _lastAsync = commit;
        _inFlight.Enqueue((commit, _running));
    }

    /// <summary>Waits for the commit of the last record handed to the store (failures are reported by
    /// <see cref="ReportCommitted"/>), asking the store not to wait out its batch window.</summary>
    private void WaitForLastCommit()
    {
        if (_lastAsync.IsCompleted) return;
        _store.CommitSoon();
        try { _lastAsync.Wait(); } catch (AggregateException) { }
    }

    /// <summary>Reports the records whose commit failed, oldest first (the store commits in order), and settles
    /// the captures committed.</summary>
    private void ReportCommitted()
    {
        while (_handedCaptures.TryPeek(out var capture) && capture.IsCommitted)
        {
            _handedCaptures.TryDequeue(out _);
            Settle(capture);
        }
        while (_inFlight.TryPeek(out var handed) && handed.Commit.IsCompleted)
        {
            _inFlight.TryDequeue(out _);
            if (handed.Commit.IsFaulted) RecordFailed(handed.Commit.Exception!.InnerException!.Message, handed.Paths);
        }
    }

    /// <summary>A record could not be made: said loudly (log line, <see cref="Failed"/>, <see cref="LastError"/>), and
    /// its paths are reconciled from the tree once quiet (<see cref="Repair"/>), so one lost record does not start a chain
    /// of failures (a directory whose creation was lost refuses every record inside it).</summary>
    private void RecordFailed(string message, string[] paths)
    {
        Interlocked.Increment(ref _failed);
        LastError = message;
        Console.Error.WriteLine($"lighthouse: could not record a change{(paths.Length > 0 ? $" to '{string.Join("', '", paths)}'" : "")}: {message}");
        if (paths.Length == 0) return;
        lock (_toRepair)
        {
            foreach (var p in paths) _toRepair.Add(p);
            if (_repairDue == long.MaxValue) _repairDue = Stopwatch.GetTimestamp() + RepairQuietTicks;
        }
    }

    private static readonly long RepairQuietTicks = (long)(RepairQuiet.TotalSeconds * Stopwatch.Frequency);

    /// <summary>Whether a repair is due now, and how long until it is (infinite when none is waiting).</summary>
    private TimeSpan UntilRepair()
    {
        long due = Interlocked.Read(ref _repairDue);
        if (due == long.MaxValue) return Timeout.InfiniteTimeSpan;
        return TimeSpan.FromSeconds(Math.Max(0, due - Stopwatch.GetTimestamp()) / (double)Stopwatch.Frequency);
    }

    /// <summary>
    /// Repairs the index after failed records: reconciles the smallest indexed directory holding their paths with the
    /// tree, on the recorder thread (in order with the records around it), crediting what it finds to
    /// <see cref="StoreConstants.RepairAgent"/> — the change was made through the mount, but its record (and so its
    /// agent) was lost. Paths we are still changing (a record queued, open for writing, changed in the last
    /// <see cref="RepairQuiet"/>) are left for later.
    /// </summary>
    private void Repair()
    {
        List<string> now = [], later = [];
        lock (_toRepair)
        {
            foreach (var p in _toRepair) (Busy(p) ? later : now).Add(p);
            _toRepair.Clear();
            foreach (var p in later) _toRepair.Add(p);
            _repairDue = later.Count > 0 ? Stopwatch.GetTimestamp() + RepairQuietTicks : long.MaxValue;
        }
        if (now.Count == 0) return;
        WaitForLastCommit();
        ReportCommitted();
        string scope = StorePath.CommonDirectory(now.Select(StorePath.Parent).ToList());
        // The scope must be a directory the index knows (a lost mkdir: its parent).
        while (scope.Length > 0 && _store.LookupPath(scope, StorePoint.Latest) is not { Kind: FileKind.Directory })
            scope = StorePath.Parent(scope);
        try
        {
            var report = _store.Reconcile(scope: scope, leaveAlone: Busy, leaveAloneInode: InodeBusy, agent: new Actor(StoreConstants.RepairAgent, AgentVia.Repair));
            Interlocked.Increment(ref _repairs);
            Interlocked.Add(ref _repairEvents, report.Events.Count);
            _repairRetryTicks = 0;
            Console.Error.WriteLine($"lighthouse: repaired the record of '{(scope.Length == 0 ? "." : scope)}' after failed records: " +
                $"{report.Events.Count} events by {StoreConstants.RepairAgent}");
        }
        catch (Exception e)
        {
            // Tried again later (the disk may be full): 2 s, then twice as long each time, at most a minute apart.
            _repairRetryTicks = Math.Min(Math.Max(2 * _repairRetryTicks, 2 * Stopwatch.Frequency), 60 * Stopwatch.Frequency);
            lock (_toRepair)
            {
                foreach (var p in now) _toRepair.Add(p);
                _repairDue = Math.Min(_repairDue, Stopwatch.GetTimestamp() + _repairRetryTicks);
            }
            LastError = $"repairing the record of '{(scope.Length == 0 ? "." : scope)}' (tried again in {_repairRetryTicks / Stopwatch.Frequency} s): {e.Message}";
            Console.Error.WriteLine($"lighthouse: {LastError}");
        }
    }

    /// <summary>Whether we may still be changing <paramref name="path"/> (or its inode), as far as a repair is concerned:
    /// what <see cref="MayBeOurs(string)"/> says, with changes of ours counted within <see cref="RepairQuiet"/>.</summary>
    private bool Busy(string path) => MayBeOurs(path, RepairQuietTicks);

    private bool InodeBusy(long inode) => InodeMayBeOurs(inode, RepairQuietTicks);

    /// <summary>Records what is still queued, then stops the recorder thread.</summary>
    public void Dispose()
    {
        if (_queue.IsAddingCompleted) return;
        Flush();
        _queue.CompleteAdding();
        _thread.Join();
        _hurry.Dispose();
    }

    /// <summary>A capture queued by <see cref="Written"/>: it holds a descriptor of the file until its bytes are read
    /// (when its record runs, or earlier: <see cref="ReadEarly"/>); later writes may join it until then.</summary>
    private sealed class PendingCapture(string path, FileKey file, Actor agent, SafeFileHandle content, SemaphoreSlim slots)
    {
        public readonly string Path = path;
        public readonly FileKey File = file;
        public readonly Actor Agent = agent;
        /// <summary>Whether later writes may join it (<see cref="TryJoin"/>): not a creation's capture.</summary>
        public bool Joinable { get; init; } = true;
        private readonly object _gate = new();
        private SafeFileHandle? _content = content; // until read
        private bool _reading, _read;
        private CapturedContent? _bytes;
        private Exception? _error;
        private Task? _commit; // set once the event is handed to the store (or the capture failed)

        public bool IsCommitted => Volatile.Read(ref _commit) is { IsCompleted: true };

        /// <summary>True if it has not started reading the file: it will read what a joining write wrote.</summary>
        public bool TryJoin()
        {
            lock (_gate) return !_reading && !_read;
        }

        /// <summary>Reads the bytes now if nobody has; errors are kept for <see cref="Read"/>.</summary>
        public void ReadEarly(IProjectStore store)
        {
            try { Read(store); } catch { /* reported by the record, which calls Read again */ }
        }

        /// <summary>The bytes, read on the first call (a later one waits for it); throws what reading threw.</summary>
        public CapturedContent? Read(IProjectStore store)
        {
            SafeFileHandle content;
            lock (_gate)
            {
                while (_reading) Monitor.Wait(_gate);
                if (_read) return _error is null ? _bytes : throw _error;
                _reading = true;
                content = _content!;
            }
            CapturedContent? bytes = null;
            Exception? error = null;
            try { bytes = store.ReadContent(content, Path); }
            catch (Exception e) { error = e; }
            finally
            {
                content.Dispose();
                slots.Release();
                lock (_gate)
                {
                    (_bytes, _error, _read, _reading, _content) = (bytes, error, true, false, null);
                    Monitor.PulseAll(_gate);
                }
            }
            return error is null ? bytes : throw error;
        }

        public void Handed(Task commit) => Volatile.Write(ref _commit, commit);
    }
}
