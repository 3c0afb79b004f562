using Microsoft.Win32.SafeHandles;

namespace Lighthouse.Store;

/// <summary>
/// A project's history store: what the mount, the CLI and the servers need, so that they hold an
/// <see cref="IProjectStore"/> and never a backend class. <see cref="ProjectStore"/> is the SQLite
/// implementation (a PostgreSQL one can follow); open one through an <see cref="IProjectStoreFactory"/>
/// (<see cref="SqliteProjectStoreFactory.Instance"/>). Thread-safe. See README.md for the capture contract.
/// </summary>
/// <remarks>
/// Paths are project-relative store paths ("" is the root; see <see cref="StorePath"/>); a path that is not
/// valid throws <see cref="InvalidStorePathException"/>. Every failure is a <see cref="StoreException"/>
/// subclass with a message meant for users (or <see cref="ArgumentException"/> for a blank agent).
/// </remarks>
public interface IProjectStore : IDisposable
{
    // ---------------------------------------------------------------- identity and state

    /// <summary>The project directory (absolute, no trailing separator).</summary>
    string ProjectDir { get; }

    /// <summary>
    /// True for a store opened read-only (<see cref="IProjectStoreFactory.OpenReadOnly"/>): queries see every
    /// committed event, including those a writer in another process commits later; every mutation,
    /// <see cref="Reconcile"/>, <see cref="RebuildIndex"/> and <see cref="Watch"/> throw <see cref="StoreReadOnlyException"/>.
    /// </summary>
    bool IsReadOnly { get; }

    /// <summary>The sequence number of the last committed event (0 for an empty log).</summary>
    long LastSeq { get; }

    /// <summary>
    /// The report of the baseline (a new store) or reconciliation (an existing one) that opening ran; null when
    /// opening ran neither (read-only, or <see cref="StoreOptions.ReconcileOnOpen"/> off on an existing store).
    /// </summary>
    ReconcileReport? OpenReport { get; }

    /// <summary>Group commits (transactions) and events committed by this instance since it was opened; zero when read-only.</summary>
    CommitStats CommitStats { get; }

    /// <summary>How many objects (captured bytes) the store keeps and their size on disk; captures in progress are not counted.</summary>
    ObjectStats ObjectStatistics();

    /// <summary>What the store takes on disk and keeps: sizes, de-duplication and compression, the largest files by kept history.</summary>
    StoreUsage Usage(int largest = 10);

    /// <summary>The project's retention policy (<c>.lighthouse/retention.json</c>, or the default).</summary>
    Retention.RetentionPolicy Retention { get; }

    /// <summary>Thins old versions by the policy (the project's when null) and removes chunks, blobs and object files nothing
    /// refers to any more, while the store records; <paramref name="dryRun"/> only reports. Crash-safe at any point.</summary>
    Retention.GcReport CollectGarbage(Retention.RetentionPolicy? policy = null, bool dryRun = false, DateTime? now = null, Action<string>? progress = null);

    /// <summary>
    /// Raised after each group commit with its events, in order, on the writer's thread (keep handlers short; an
    /// exception from a handler is logged, never rethrown to the recorder). Never raised by a read-only store.
    /// </summary>
    event Action<IReadOnlyList<StoreEvent>>? Committed;

    // ---------------------------------------------------------------- mutations
    // Capture around the syscall, record after it succeeded; BeginMutation keeps the watcher off those paths meanwhile.
    // Every Record* call appends one event and its index update in one transaction, and returns once it is committed
    // (durable as StoreOptions.Durability says). A change that contradicts the index (creating a name that exists,
    // removing one that does not) throws IndexConflictException and records nothing. The *Async variants return once
    // the change is queued; their task completes at its commit (or faults with the same exceptions), so one thread
    // can keep many in flight; they are committed in the order they were queued.
    // A change of a directory's entries (create, link, unlink, rename, exchange) records the directory's modification time
    // after it, which history shows: the caller passes it (dirMtimeNs…, from a stat right after its syscall), or the
    // directory is lstat'ed when the call is made.

    /// <summary>
    /// Marks paths as being changed by the caller until the handle is disposed: take it before the syscall and
    /// dispose it after the Record* call, so a reconciliation that runs in between leaves those paths (and their
    /// subtrees) to the caller instead of recording them as <c>external</c>.
    /// </summary>
    IDisposable BeginMutation(params string[] paths);

    /// <summary>
    /// Copy-on-write: if the current version of <paramref name="path"/> was recorded by metadata only, saves its bytes
    /// now, before a syscall destroys them, reading them from <paramref name="file"/> (an open regular file: read from
    /// offset 0 by positional calls, never through its file position; the caller keeps it). Null when there was nothing
    /// to do (already captured, not a file, gone). If the file no longer matches its recorded metadata, records a
    /// <c>write</c> by <paramref name="changedBy"/> instead (default <c>external</c>: a caller that knows who wrote to the
    /// file since, e.g. through a descriptor whose writes it does not see, names them).
    /// </summary>
    StoreEvent? CaptureBeforeModify(Actor agent, string path, SafeFileHandle file, Actor? changedBy = null);

    /// <summary>
    /// As <see cref="CaptureBeforeModify(string, string, SafeFileHandle)"/> for a caller that holds no descriptor (a
    /// tool or a restore working beside the mount): the node now at <paramref name="path"/>, reached from the project
    /// directory (never by absolute path, so at any depth).
    /// </summary>
    StoreEvent? CaptureBeforeModify(Actor agent, string path);

    /// <summary>
    /// A written file reached a capture point (closed, fsync'ed, renamed): captures the bytes of <paramref name="file"/>
    /// (read as <see cref="CaptureBeforeModify(string, string, SafeFileHandle)"/> says; the caller keeps it) as a new
    /// version (a <c>write</c> event) of the file recorded at <paramref name="path"/>. The path is resolved in order with
    /// the changes recorded before, so it is the name the file had at the capture point, even if it was renamed or
    /// removed since. Null if its bytes and metadata are unchanged; <see cref="IndexConflictException"/> if it was never recorded.
    /// </summary>
    StoreEvent? CaptureOnClose(Actor agent, string path, SafeFileHandle file);

    /// <summary>
    /// As <see cref="CaptureOnClose(string, string, SafeFileHandle)"/>, returning once the bytes are captured (the caller
    /// may close <paramref name="file"/>) and the event is queued; the task completes at its commit.
    /// </summary>
    Task<StoreEvent?> CaptureOnCloseAsync(Actor agent, string path, SafeFileHandle file);

    /// <summary>
    /// The first half of <see cref="CaptureOnCloseAsync(string, string, SafeFileHandle)"/>: reads the bytes of
    /// <paramref name="file"/> into the store now (the caller may close it then), for a record made later, in order with
    /// other records, by <see cref="RecordWriteAsync"/>. For a caller that must read the bytes before it replies (a file
    /// other processes keep writing to) but may not record before the changes queued ahead of it. Null if it is not a
    /// regular file.
    /// </summary>
    CapturedContent? ReadContent(SafeFileHandle file, string path);

    /// <summary>The second half: records <paramref name="content"/> as <see cref="CaptureOnCloseAsync(string, string, SafeFileHandle)"/> would.</summary>
    Task<StoreEvent?> RecordWriteAsync(Actor agent, string path, CapturedContent? content);

    /// <summary>
    /// The second half of <see cref="CaptureBeforeModify(string, string, SafeFileHandle, string?)"/> for bytes read before
    /// by <see cref="ReadContent"/>: in order with the records before it, gives them to the current version at
    /// <paramref name="path"/> if that was recorded by metadata only (a <c>capture</c> event), or records them as a write of
    /// <paramref name="changedBy"/> (else <c>external</c>) if the file no longer matches that version; null when the
    /// current version has its bytes already.
    /// </summary>
    Task<StoreEvent?> RecordCaptureBeforeModifyAsync(Actor agent, string path, CapturedContent? content, Actor? changedBy = null);

    /// <summary>
    /// As <see cref="CaptureOnClose(string, string, SafeFileHandle)"/> for a caller that holds no descriptor: the node now
    /// at <paramref name="path"/> (a file or a symlink), reached from the project directory. Null if it is gone.
    /// </summary>
    StoreEvent? CaptureOnClose(Actor agent, string path);

    /// <summary>
    /// Whether the current version of a file with this inode was recorded by metadata only (a baseline, a change
    /// made outside), so that <see cref="CaptureBeforeModify"/> would have bytes to save. Answered from memory, for
    /// a caller deciding before every change: false means there is nothing to save, as of the changes the store has
    /// applied (a change still queued in the store is not seen: the caller knows its own).
    /// </summary>
    bool HasUncapturedContent(long inode);

    /// <summary>Same as <see cref="CaptureOnClose(string, string)"/>.</summary>
    StoreEvent? RecordWrite(Actor agent, string path);

    /// <summary>
    /// Records a new file, directory, symlink, fifo, socket or device node (the kind, owner and device number from its
    /// attributes; lstat'ed when <paramref name="attributes"/>
    /// is null, <see cref="StorePathNotFoundException"/> if it is not on disk). A file's or symlink's bytes are captured.
    /// </summary>
    StoreEvent RecordCreate(Actor agent, string path, NodeAttributes? attributes = null);

    /// <inheritdoc cref="RecordCreate"/>
    /// <param name="symlinkTarget">A symlink's target as the request that made it carried it: kept as given, without
    /// reading the link back (it may be gone by the time the record is made). Null: read from disk.</param>
    /// <param name="dirMtimeNs">The modification time of the directory holding <paramref name="path"/> right after the creation.</param>
    /// <param name="content">A descriptor to read a new file's bytes from (an O_TMPFILE given a name), instead of its path.</param>
    Task<StoreEvent> RecordCreateAsync(Actor agent, string path, NodeAttributes? attributes = null, byte[]? symlinkTarget = null, long? dirMtimeNs = null, SafeFileHandle? content = null);
    /// <summary>The creation of a file born with bytes (an O_TMPFILE given a name), with its bytes read before by
    /// <see cref="ReadContent"/> (null: not readable, recorded as the other overload would).</summary>
    Task<StoreEvent> RecordCreateAsync(Actor agent, string path, NodeAttributes attributes, CapturedContent? content, long? dirMtimeNs = null);

    /// <summary>
    /// Records a metadata change (chmod, utimens, truncate). With <paramref name="attributes"/> null the node is
    /// lstat'ed and a change of size or mtime is captured like a write. Null when nothing changed.
    /// </summary>
    StoreEvent? RecordSetAttributes(Actor agent, string path, NodeAttributes? attributes = null);

    /// <summary>
    /// Records attributes the caller already knows (no stat, no capture) as a new version; if size or mtime changed,
    /// the new version's bytes are marked not captured. The task's result is null when nothing changed.
    /// </summary>
    Task<StoreEvent?> RecordSetAttributesAsync(Actor agent, string path, NodeAttributes attributes);

    /// <summary>Records an unlink or rmdir (by the kind the index knows; a directory must be empty in the index). Earlier versions stay reachable.</summary>
    StoreEvent RecordUnlink(Actor agent, string path);

    /// <inheritdoc cref="RecordUnlink"/>
    /// <param name="dirMtimeNs">The modification time of the directory that held <paramref name="path"/> right after the removal.</param>
    Task<StoreEvent> RecordUnlinkAsync(Actor agent, string path, long? dirMtimeNs = null);

    /// <summary>
    /// Records a rename, also over an existing target (which stays reachable in history; a directory target must be
    /// empty). A directory takes its subtree along. Null for a POSIX no-op (same path, or two names of one file).
    /// </summary>
    StoreEvent? RecordRename(Actor agent, string from, string to);

    /// <inheritdoc cref="RecordRename"/>
    /// <param name="fromDirMtimeNs">The modification time of the directory that held <paramref name="from"/> right after the rename.</param>
    /// <param name="toDirMtimeNs">The same of the directory holding <paramref name="to"/>.</param>
    Task<StoreEvent?> RecordRenameAsync(Actor agent, string from, string to, long? fromDirMtimeNs = null, long? toDirMtimeNs = null);

    /// <summary>
    /// Records renameat2(RENAME_EXCHANGE) as one <c>exchange</c> event: the names <paramref name="a"/> and <paramref name="b"/>
    /// (files or directories, any mix, in any directories) swap their files, which keep their ids and versions; a directory
    /// takes its subtree along. Null for a no-op (one path twice, or two names of one file).
    /// </summary>
    StoreEvent? RecordExchange(Actor agent, string a, string b);

    /// <inheritdoc cref="RecordExchange"/>
    /// <param name="aDirMtimeNs">The modification time of the directory holding <paramref name="a"/> right after the exchange.</param>
    /// <param name="bDirMtimeNs">The same of the directory holding <paramref name="b"/>.</param>
    Task<StoreEvent?> RecordExchangeAsync(Actor agent, string a, string b, long? aDirMtimeNs = null, long? bDirMtimeNs = null);

    /// <summary>Records a hard link: <paramref name="newPath"/> names the same file (same file id) as <paramref name="existing"/>.</summary>
    StoreEvent RecordLink(Actor agent, string existing, string newPath);

    /// <inheritdoc cref="RecordLink"/>
    /// <param name="dirMtimeNs">The modification time of the directory holding <paramref name="newPath"/> right after the link.</param>
    Task<StoreEvent> RecordLinkAsync(Actor agent, string existing, string newPath, long? dirMtimeNs = null);

    /// <summary>
    /// Asks the writer to commit what is queued now rather than at the end of its batch window
    /// (<see cref="StoreOptions.BatchWindow"/>): call it before waiting for a task a <c>Record*Async</c> call returned.
    /// </summary>
    void CommitSoon();

    // ---------------------------------------------------------------- as-of queries
    // Each sees one committed state; "as of N" means "after event N". A point that does not exist (an event after the
    // last, an unknown snapshot, a time before the first event) throws PointNotFoundException.

    /// <summary>The event number a point stands for (latest, @N, a UTC time, a snapshot name).</summary>
    long Resolve(StorePoint point);

    /// <summary>The entry <paramref name="name"/> in directory <paramref name="dir"/> as of a point, or null (also when <paramref name="dir"/> is not a directory then).</summary>
    DirEntry? Lookup(string dir, string name, StorePoint point);

    /// <summary>The entry at a path as of a point, or null. The root is the entry named "" with file id <see cref="StoreConstants.RootFileId"/>.</summary>
    DirEntry? LookupPath(string path, StorePoint point);

    /// <summary>The entries of a directory as of a point, sorted by name (ordinal). <see cref="StorePathNotFoundException"/> if it did not exist.</summary>
    IReadOnlyList<DirEntry> List(string dir, StorePoint point);

    /// <summary>The version (attributes, content state) of the node at a path as of a point; <see cref="StorePathNotFoundException"/> if there was none.</summary>
    NodeVersion Attributes(string path, StorePoint point);

    /// <summary>The version of a file (by stable id) as of a point, or null if it did not exist then.</summary>
    NodeVersion? AttributesOf(long fileId, StorePoint point);

    /// <summary>
    /// How many links a node had as of a point, as stat's st_nlink counts them: for a file its names then (hard links), for a
    /// directory 2 plus its subdirectories then; 0 if it did not exist then.
    /// </summary>
    long LinkCount(long fileId, StorePoint point);

    /// <summary>
    /// The modification time a directory (by stable id) had as of a point, as stat showed it: the time recorded by the last
    /// change of its entries up to then (a name created, removed or renamed in it), unless its own last version (mkdir,
    /// chmod, utimensat…) came later; that version's mtime when its entries' changes carry none (recorded before schema 3).
    /// Null if it was no directory then.
    /// </summary>
    long? DirectoryMtime(long fileId, StorePoint point);

    /// <summary>Where the bytes of a path as of a point can be read (an object or the live file), or why they cannot; <see cref="ObjectMissingException"/> if a captured object is gone.</summary>
    FileContent Content(string path, StorePoint point);

    /// <summary>Opens the live file that holds a version's bytes (<see cref="FileContent.LivePath"/>: a current version recorded
    /// by metadata only), reached from the project directory's descriptor (at any depth).</summary>
    SafeFileHandle OpenLive(FileContent content);

    /// <summary>Opens the bytes of a path as of a point; <see cref="ContentUnavailableException"/> says why they are not kept.</summary>
    Stream OpenContent(string path, StorePoint point);

    /// <summary>Opens the bytes a <see cref="Content"/> answer names: chunks, a whole object, or the live file; throws
    /// <see cref="ContentUnavailableException"/> if none (<paramref name="point"/> names the point in the message), and
    /// <see cref="ContentCorruptException"/> from a read of a damaged chunk.</summary>
    Stream OpenStored(FileContent content, string point);

    /// <summary>Positional reads of bytes kept as chunks (<see cref="FileContent.ChunkedHash"/>); null for any other kind.</summary>
    Objects.ChunkedContent? OpenChunked(FileContent content);

    /// <summary>The bytes of a path as of a point (as <see cref="OpenContent"/>, read whole).</summary>
    byte[] ReadAllBytes(string path, StorePoint point);

    // ---------------------------------------------------------------- the log, versions, snapshots

    /// <summary>Events newest first, filtered and paged (continue with <see cref="LogPage.NextBefore"/> as <see cref="LogQuery.BeforeSeq"/>).</summary>
    LogPage Log(LogQuery query);

    /// <summary>
    /// Events after <paramref name="afterSeq"/>, oldest first, at most <paramref name="limit"/> (1–10,000): read a feed
    /// from an event number and resume from the last one returned.
    /// </summary>
    IReadOnlyList<StoreEvent> EventsAfter(long afterSeq, int limit = 1000);

    /// <summary>Every version of the file at <paramref name="path"/> (as of <paramref name="point"/>, default latest), across renames, oldest first.</summary>
    IReadOnlyList<FileVersion> Versions(string path, StorePoint? point = null);

    /// <summary>
    /// The history of the name <paramref name="path"/> up to <paramref name="point"/> (default latest), followed like
    /// <c>git log --follow</c>, newest first: the versions of every file that held that name, each up to when it stopped
    /// holding it — the file there now, and those it replaced or that held the name before (an atomic save renames a
    /// temporary file over the name: both files' versions are listed, the temporary file's from before the rename
    /// too). A file that came to the name from another name brings its versions from there, and that name is followed
    /// back in turn. Each version has its own file id and the name it had. <see cref="StorePathNotFoundException"/> if
    /// nothing ever held the name up to that point.
    /// </summary>
    IReadOnlyList<FileVersion> PathHistory(string path, StorePoint? point = null);

    /// <summary>Every version of a file by stable id, oldest first (empty for an unknown id).</summary>
    IReadOnlyList<FileVersion> Versions(long fileId);

    /// <summary>The paths whose node differs between two points (in either order), and how.</summary>
    IReadOnlyList<ChangedPath> Changed(StorePoint from, StorePoint to);

    /// <summary>Names a point (default latest) with a <c>snapshot</c> event; <see cref="SnapshotExistsException"/> if the name is taken.</summary>
    Snapshot CreateSnapshot(Actor agent, string name, StorePoint? point = null);

    /// <summary>The live snapshots, ordered by the event they name (then by name).</summary>
    IReadOnlyList<Snapshot> Snapshots();

    /// <summary>Removes a snapshot name with a <c>snapshot-delete</c> event; <see cref="PointNotFoundException"/> if there is none.</summary>
    void DeleteSnapshot(Actor agent, string name);

    /// <summary>
    /// Remembers, for each note, the version of the file its agent read: the version valid at the note's time (a file
    /// changed since is not counted as read). Not events: one row per agent and file, the latest read wins. Paths that
    /// name no file now are skipped. Returns once written.
    /// </summary>
    Task NoteReadsAsync(IReadOnlyList<ReadNote> reads);

    /// <summary>The versions <paramref name="agent"/> (every agent when null) last read, newest first, with each file's current path.</summary>
    IReadOnlyList<AgentRead> LastReads(string? agent = null, int limit = 1000);

    /// <summary>Records an access-control event that changes nothing in the tree, hash-chained like every other:
    /// <see cref="EventOp.Deny"/> (the policy refused, or in audit mode would have refused, <paramref name="agent"/>
    /// something on <paramref name="path"/>, and <paramref name="path2"/> for a rename) or <see cref="EventOp.Policy"/>
    /// (the policy changed; path is the policy file's name) or <see cref="EventOp.Agents"/> (the named agents changed). <paramref name="detail"/> is a JSON object: which
    /// operation, rule and command, or what happened to the policy. Returns once queued.</summary>
    Task<StoreEvent> RecordAuditAsync(Actor agent, EventOp op, string path, string? path2, string detail);

    // ---------------------------------------------------------------- integrity and reconciliation

    /// <summary>
    /// Walks the whole hash chain: sequence numbers without gaps, each prev_hash the hash before it, each hash
    /// recomputed. Reports the first broken link (never throws for a broken or unreadable log). Works read-only.
    /// </summary>
    VerifyResult Verify();

    /// <summary>
    /// The quick version of <see cref="Verify"/>: checks the last <paramref name="count"/> events the same way, and
    /// that the first of them links to the event before it. Cost grows with <paramref name="count"/>, not the log.
    /// Works read-only, while a writer appends (the end checked is the one committed when it starts).
    /// </summary>
    VerifyResult VerifyTail(int count);

    /// <summary>Rebuilds the temporal index from the event log alone, in one transaction, and says whether it agreed with the index it replaced.</summary>
    IndexRebuildResult RebuildIndex();

    /// <summary>
    /// Records, as events of <paramref name="agent"/>, every difference between the directory (or the
    /// subtree <paramref name="scope"/>) and the index's current tree; paths held by <see cref="BeginMutation"/> are left alone.
    /// </summary>
    /// <param name="leaveAlone">Paths (and what is under them) the caller will record itself: a server's own changes,
    /// which reach the directory before their records reach the store.</param>
    /// <param name="leaveAloneInode">The same by inode: files the caller is changing under any of their names (hard links).</param>
    /// <param name="agent">Whom the differences are credited to: <see cref="StoreConstants.ExternalAgent"/> (changes made
    /// beside the servers), or <see cref="StoreConstants.RepairAgent"/> (a server's changes whose records were lost).</param>
    ReconcileReport Reconcile(IProgress<ReconcileProgress>? progress = null, string scope = "", Func<string, bool>? leaveAlone = null,
        Func<long, bool>? leaveAloneInode = null, Actor? agent = null);

    /// <summary>Starts a live watcher (inotify) that reconciles the parts of the tree that change, after <paramref name="debounce"/> (default 200 ms) of quiet.</summary>
    ProjectWatcher Watch(TimeSpan? debounce = null);
}

/// <summary>
/// Opens project stores: the one place that names a backend. Consumers take an <see cref="IProjectStoreFactory"/>
/// (or an <see cref="IProjectStore"/>) from the composition root; <see cref="SqliteProjectStoreFactory.Instance"/> is the default.
/// </summary>
public interface IProjectStoreFactory
{
    /// <summary>
    /// Opens (or creates) the store of <paramref name="projectDir"/> for writing; this process owns it until disposed.
    /// A new store records a metadata-only baseline of the tree; an existing one is checked and reconciled
    /// (see <see cref="IProjectStore.OpenReport"/>). Throws <see cref="StoreLockedException"/> if another process has it,
    /// <see cref="StoreCorruptException"/> for a damaged store, <see cref="StoreException"/> if the directory does not exist.
    /// </summary>
    IProjectStore Open(string projectDir, StoreOptions? options = null);

    /// <summary>
    /// Opens an existing store for queries only, alongside a process that has it open for writing (no lock, no
    /// baseline, no reconciliation). Throws <see cref="StoreException"/> if the project has no store.
    /// </summary>
    IProjectStore OpenReadOnly(string projectDir, StoreOptions? options = null);

    /// <summary>Whether <paramref name="projectDir"/> holds an initialised store (one that <see cref="OpenReadOnly"/> can open).</summary>
    bool Exists(string projectDir);
}

/// <summary>The SQLite store (<see cref="ProjectStore"/>): event log, index and objects under <c>&lt;project&gt;/.lighthouse/</c>.</summary>
public sealed class SqliteProjectStoreFactory : IProjectStoreFactory
{
    public static SqliteProjectStoreFactory Instance { get; } = new();

    private SqliteProjectStoreFactory()
    {
    }

    public IProjectStore Open(string projectDir, StoreOptions? options = null) => ProjectStore.Open(projectDir, options);

    public IProjectStore OpenReadOnly(string projectDir, StoreOptions? options = null) => ProjectStore.OpenReadOnly(projectDir, options);

    public bool Exists(string projectDir) => ProjectStore.Exists(projectDir);
}
