namespace Lighthouse.Store;

/// <summary>A node's type. <see cref="Other"/>: a special file recorded before schema 2, whose exact type was not kept.</summary>
public enum FileKind { Directory = 1, File = 2, Symlink = 3, Other = 4, Fifo = 5, Socket = 6, CharDevice = 7, BlockDevice = 8 }

/// <summary>What an event did. Stored as lower-case text in the log so the database reads well.</summary>
public enum EventOp
{
    Init,
    Baseline,
    Create,
    Mkdir,
    Symlink,
    Write,
    SetAttributes,
    Capture,
    Unlink,
    Rmdir,
    Rename,
    /// <summary>renameat2(RENAME_EXCHANGE): the names Path and Path2 swapped their files (FileId and OtherFileId).</summary>
    Exchange,
    Link,
    SnapshotCreate,
    SnapshotDelete,
    /// <summary>The access policy refused (or, in audit mode, would have refused) an operation: Path (and Path2 for a
    /// rename) is what was asked for, <see cref="StoreEvent.Detail"/> says which operation, rule and command. Changes nothing.</summary>
    Deny,
    /// <summary>The access policy changed: loaded, removed, or refused as invalid (the previous one stays);
    /// <see cref="StoreEvent.Detail"/> says which and why. Changes nothing.</summary>
    Policy,
    /// <summary>The named agents changed (added, removed, a token issued or revoked, a uid mapped): Path is the registry's
    /// file name, <see cref="StoreEvent.Detail"/> lists the changes. Changes nothing in the tree.</summary>
    Agents,
}

/// <summary>Whether the bytes of a file version are kept.</summary>
public enum ContentState
{
    /// <summary>Directories have no content.</summary>
    None = 0,
    /// <summary>The bytes are in the object store under <c>ContentHash</c>.</summary>
    Captured = 1,
    /// <summary>Recorded by metadata only (baseline or external change); captured before the first modification through Lighthouse.</summary>
    NotCaptured = 2,
    /// <summary>Larger than <see cref="StoreOptions.MaxCaptureBytes"/>: history is metadata-only by policy.</summary>
    TooLarge = 3,
    /// <summary>Captured once, then thinned by the retention policy: the event (and the hash of the bytes) stays, the bytes do not.</summary>
    Pruned = 4,
}

/// <summary>Metadata of a node as seen by lstat. Times are nanoseconds since the Unix epoch.</summary>
/// <param name="Mode">The permission bits (set-id and sticky included), without the type.</param>
/// <param name="Rdev">A device node's device number in glibc's makedev encoding; 0 for anything else.</param>
/// <remarks>Events recorded before schema 2 kept no owner, group or device: they read as the owner of the
/// project directory when the store was upgraded, and rdev 0.</remarks>
public sealed record NodeAttributes(FileKind Kind, long Size, int Mode, long MtimeNs, long Inode, long Uid, long Gid, long Rdev)
{
    /// <summary>lstat of an absolute path, as the store records it; null if it does not exist.</summary>
    public static NodeAttributes? Of(string absolutePath) => Native.FileStat.Lstat(absolutePath);
}

/// <summary>One version of a file: valid for events in [FromSeq, ToSeq).</summary>
public sealed record NodeVersion(
    long FileId,
    long VersionSeq,
    long ToSeq,
    NodeAttributes Attributes,
    ContentState ContentState,
    string? ContentHash)
{
    public FileKind Kind => Attributes.Kind;
    public long Size => Attributes.Size;
    public bool IsCurrent => ToSeq == StoreConstants.Open;
}

public sealed record DirEntry(string Name, long FileId, FileKind Kind);

/// <summary>Bytes of a file read into the store (<see cref="IProjectStore.ReadContent"/>), not recorded yet; <paramref name="Attributes"/>
/// from the file's fstat at the time.</summary>
public sealed record CapturedContent(NodeAttributes Attributes, ContentState State, string? Hash)
{
    /// <summary>The chunks read, for bytes kept as chunks: inserted with the event that records them.</summary>
    internal Objects.StoredBlob? Blob { get; init; }

    internal Capture.Captured ToCaptured() => new(State, Hash, Blob);
}

/// <param name="Format">The encoding its hash covers: 1 for an event with attributes recorded before schema 2 (no owner,
/// group or device kept), <see cref="CurrentFormat"/> otherwise.</param>
/// <param name="DirMtimeNs">For an event that changed the entries of a directory (create, mkdir, symlink, link, unlink,
/// rmdir, rename, exchange): that directory's modification time right after it — of the directory holding
/// <paramref name="Path"/>, for a link the one holding <paramref name="Path2"/>. Null when not known (events recorded
/// before schema 3).</param>
/// <param name="Dir2MtimeNs">For a rename or exchange between two directories: the modification time of the one holding
/// <paramref name="Path2"/> right after it; null otherwise.</param>
public sealed record StoreEvent(
    long Seq,
    DateTime TimeUtc,
    string Agent,
    EventOp Op,
    string Path,
    string? Path2,
    long FileId,
    long? BeforeVersion,
    long? AfterVersion,
    long? OtherFileId,
    NodeAttributes? Attributes,
    ContentState ContentState,
    string? ContentHash,
    long? Point,
    byte[] PrevHash,
    byte[] Hash,
    int Format = StoreEvent.CurrentFormat,
    long? DirMtimeNs = null,
    long? Dir2MtimeNs = null,
    string? AgentVia = null,
    string? Detail = null)
{
    /// <summary>The encoding of events since schema 3: their attributes' owner, group and device are hashed (format 2), and
    /// the directory modification times they carry (format 3; an event without them is encoded as in format 2).</summary>
    public const int CurrentFormat = 3;
}

/// <summary>A version of one file as listed by <see cref="IProjectStore.Versions(string, StorePoint?)"/>.</summary>
public sealed record FileVersion(
    long FileId,
    long VersionSeq,
    string Path,
    string Agent,
    DateTime TimeUtc,
    EventOp Op,
    NodeAttributes Attributes,
    ContentState ContentState,
    string? ContentHash,
    long? CapturedAtSeq);

public enum ChangeKind { Added, Deleted, Modified, Replaced }

public sealed record ChangedPath(string Path, ChangeKind Change, long? FileIdBefore, long? FileIdAfter);

public sealed record Snapshot(string Name, long Seq, long CreatedAtSeq, string CreatedBy, DateTime CreatedUtc);

public sealed record VerifyResult(bool Ok, long EventsChecked, long LastGoodSeq, long? FirstBrokenSeq, string? Problem)
{
    public override string ToString() => Ok
        ? $"hash chain intact: {EventsChecked} events, last @{LastGoodSeq}"
        : $"hash chain broken at @{FirstBrokenSeq}: {Problem} (last good event @{LastGoodSeq})";
}

/// <summary>The objects a store keeps (file versions' bytes, de-duplicated): how many and their total size on disk.</summary>
public readonly record struct ObjectStats(long Count, long Bytes);

/// <summary>
/// What a store takes on disk and what it keeps. <see cref="KeptBytes"/>: the sizes of every kept version of every file
/// added up (what a copy of each would take); the distinct content: <see cref="ChunkRawBytes"/> (chunks, once each) plus
/// <see cref="ObjectFileBytes"/> (whole object files: versions captured before chunks, symlink targets, reflink clones).
/// </summary>
public sealed record StoreUsage(
    long DatabaseBytes,
    long DatabaseFreeBytes,
    long ObjectFiles,
    long ObjectFileBytes,
    long Chunks,
    long ChunkRawBytes,
    long ChunkStoredBytes,
    long Blobs,
    long BlobBytes,
    long KeptVersions,
    long KeptBytes,
    long PrunedVersions,
    long MetadataOnlyVersions,
    IReadOnlyList<FileUsage> Largest)
{
    /// <summary>Everything under .lighthouse/ that holds history: the database (and its log) and the object files.</summary>
    public long StoreBytes => DatabaseBytes + ObjectFileBytes;
    /// <summary>Kept bytes per distinct byte: how much versions and files share.</summary>
    public double DedupRatio => ChunkRawBytes + ObjectFileBytes == 0 ? 1 : (double)KeptBytes / (ChunkRawBytes + ObjectFileBytes);
    /// <summary>Raw chunk bytes per stored chunk byte.</summary>
    public double CompressionRatio => ChunkStoredBytes == 0 ? 1 : (double)ChunkRawBytes / ChunkStoredBytes;
}

/// <summary>A file's kept history: its path (current, or last known with "(removed)"), how many versions keep bytes, and their sizes added up.</summary>
public sealed record FileUsage(long FileId, string Path, long Versions, long Bytes);

/// <summary>Group commits since the store was opened: transactions, and the events they committed.</summary>
public readonly record struct CommitStats(long Batches, long Events);

public sealed record LogQuery
{
    public string? Agent { get; init; }
    /// <summary>A path and everything under it; matches either side of a rename.</summary>
    public string? PathPrefix { get; init; }
    public IReadOnlyCollection<EventOp>? Operations { get; init; }
    public DateTime? FromUtc { get; init; }
    /// <summary>Exclusive.</summary>
    public DateTime? ToUtc { get; init; }
    /// <summary>Paging cursor: only events with seq below this (take <see cref="LogPage.NextBefore"/>).</summary>
    public long? BeforeSeq { get; init; }
    public int Limit { get; init; } = 100;
}

public sealed record LogPage(IReadOnlyList<StoreEvent> Events, long? NextBefore);

/// <summary>A file's content as of a point, or why it is not available.</summary>
public sealed record FileContent(string Path, NodeVersion Version, ContentState State, string? ObjectPath, string? LivePath, string? Unavailable)
{
    /// <summary>The hash of the bytes when they are kept as chunks in the database (open with <see cref="IProjectStore.OpenStored"/>
    /// or <see cref="IProjectStore.OpenChunked"/>); <see cref="ObjectPath"/> is then null.</summary>
    public string? ChunkedHash { get; init; }
    public bool IsStored => ObjectPath is not null || ChunkedHash is not null;
    public bool IsAvailable => IsStored || LivePath is not null;
}

public sealed record ReconcileReport(
    IReadOnlyList<StoreEvent> Events,
    IReadOnlyList<string> Skipped,
    int Scanned,
    TimeSpan Elapsed)
{
    public int Created => Events.Count(e => e.Op is EventOp.Create or EventOp.Mkdir or EventOp.Symlink or EventOp.Baseline);
    public int Modified => Events.Count(e => e.Op is EventOp.Write or EventOp.SetAttributes);
    public int Deleted => Events.Count(e => e.Op is EventOp.Unlink or EventOp.Rmdir);
    public int Renamed => Events.Count(e => e.Op is EventOp.Rename);
}

public readonly record struct ReconcileProgress(string Phase, int Done, int Total);

/// <summary>An agent opened <see cref="Path"/> for reading at <see cref="TimeUtc"/> (through a server).</summary>
public readonly record struct ReadNote(string Agent, string Path, DateTime TimeUtc);

/// <summary>The version of a file an agent last read: <see cref="VersionSeq"/> is the version valid when it read it.</summary>
public sealed record AgentRead(string Agent, long FileId, string? Path, long VersionSeq, DateTime TimeUtc);

/// <summary>
/// Who made a change, as its event records it: the agent's name and how that name was found (<see cref="AgentVia"/>:
/// "ancestor", "token", "uid", "fallback", "kernel", "external", "system", "repair"; null in events recorded before
/// schema 5, and for callers that do not say). A plain name converts to an actor of unstated provenance.
/// </summary>
public readonly record struct Actor(string Name, string? Via = null)
{
    public static implicit operator Actor(string name) => new(name);

    public override string ToString() => Name;
}

/// <summary>How an event's agent was identified (<see cref="StoreEvent.AgentVia"/>): the words the log shows.</summary>
public static class AgentVia
{
    /// <summary>A process started by <c>lighthouse run --agent</c>, or one of its descendants.</summary>
    public const string Ancestor = "ancestor";
    /// <summary>A valid LIGHTHOUSE_TOKEN in the process's environment.</summary>
    public const string Token = "token";
    /// <summary>A uid mapped to the agent (<c>lighthouse agent map-uid</c>).</summary>
    public const string Uid = "uid";
    /// <summary>None of the above: named "&lt;user&gt;/&lt;command&gt;".</summary>
    public const string Fallback = "fallback";
    /// <summary>The kernel's own request (writeback, release) with no opener known.</summary>
    public const string Kernel = "kernel";
    /// <summary>A change made beside the mount.</summary>
    public const string External = "external";
    /// <summary>Lighthouse itself (baseline, snapshot, restore without a mount), or a CLI user through the control socket.</summary>
    public const string System = "system";
    /// <summary>A reconciliation after a lost record.</summary>
    public const string Repair = "repair";
}

public static class StoreConstants
{
    /// <summary>to_seq of something still valid.</summary>
    public const long Open = long.MaxValue;
    public const long RootFileId = 1;
    public const string ExternalAgent = "external";
    /// <summary>Credited with what a reconciliation after a failed record finds: changes made through a server whose
    /// records (and so their agents) were lost. Like <see cref="ExternalAgent"/>, not a name an agent can take.</summary>
    public const string RepairAgent = "repair";
    public const string StateDirName = ".lighthouse";
}
