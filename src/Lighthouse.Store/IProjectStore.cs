namespace Lighthouse.Store;

/// <summary>
/// What the mount and the servers need from a project's history store; <see cref="ProjectStore"/> is
/// the SQLite implementation (a PostgreSQL one can follow). See README.md for the capture contract.
/// </summary>
public interface IProjectStore : IDisposable
{
    string ProjectDir { get; }
    bool IsReadOnly { get; }
    long LastSeq { get; }

    /// <summary>Raised after each group commit with its events, in order.</summary>
    event Action<IReadOnlyList<StoreEvent>>? Committed;

    // Mutations: capture around the syscall, record after it succeeded; BeginMutation keeps the watcher off those paths meanwhile.
    IDisposable BeginMutation(params string[] paths);
    StoreEvent? CaptureBeforeModify(string agent, string path);
    StoreEvent? CaptureOnClose(string agent, string path);
    StoreEvent RecordCreate(string agent, string path, NodeAttributes? attributes = null);
    Task<StoreEvent> RecordCreateAsync(string agent, string path, NodeAttributes? attributes = null);
    StoreEvent? RecordWrite(string agent, string path);
    StoreEvent? RecordSetAttributes(string agent, string path, NodeAttributes? attributes = null);
    Task<StoreEvent?> RecordSetAttributesAsync(string agent, string path, NodeAttributes attributes);
    StoreEvent RecordUnlink(string agent, string path);
    StoreEvent? RecordRename(string agent, string from, string to);
    StoreEvent RecordLink(string agent, string existing, string newPath);

    // As-of queries.
    long Resolve(StorePoint point);
    DirEntry? Lookup(string dir, string name, StorePoint point);
    DirEntry? LookupPath(string path, StorePoint point);
    IReadOnlyList<DirEntry> List(string dir, StorePoint point);
    NodeVersion Attributes(string path, StorePoint point);
    NodeVersion? AttributesOf(long fileId, StorePoint point);
    FileContent Content(string path, StorePoint point);
    Stream OpenContent(string path, StorePoint point);

    // Log queries and snapshots.
    LogPage Log(LogQuery query);
    IReadOnlyList<FileVersion> Versions(string path, StorePoint? point = null);
    IReadOnlyList<FileVersion> Versions(long fileId);
    IReadOnlyList<ChangedPath> Changed(StorePoint from, StorePoint to);
    Snapshot CreateSnapshot(string agent, string name, StorePoint? point = null);
    IReadOnlyList<Snapshot> Snapshots();
    void DeleteSnapshot(string agent, string name);

    // Integrity and reconciliation.
    VerifyResult Verify();
    IndexRebuildResult RebuildIndex();
    ReconcileReport Reconcile(IProgress<ReconcileProgress>? progress = null, string scope = "");
    ProjectWatcher Watch(TimeSpan? debounce = null);
}
