using Lighthouse.Store.Events;
using Lighthouse.Store.Native;

namespace Lighthouse.Store;

// Recording mutations. Contract with the caller (the mount):
//  - before a syscall that destroys bytes (open for write/O_TRUNC, truncate, unlink, rename over a file),
//    call CaptureBeforeModify(path) so a version never captured yet is saved first (copy-on-write);
//  - after the syscall succeeded, call the matching Record* method;
//  - when a file that was written is closed or fsync'ed, call CaptureOnClose(path).
// The work items of these calls check the index before they append (and append one event), so they run without a
// savepoint of their own (savepoint: false, see EventWriter.RunItems).
public sealed partial class ProjectStore
{
    private static void CheckAgent(string agent) => ArgumentException.ThrowIfNullOrWhiteSpace(agent);

    private NodeAttributes StatOrThrow(string path) =>
        FileStat.Lstat(AbsolutePath(path)) ?? throw new StorePathNotFoundException(path, "now (not on disk)");

    /// <summary>Records a new file, directory or symlink (kind from its attributes) after it was created.</summary>
    public StoreEvent RecordCreate(string agent, string path, NodeAttributes? attributes = null) =>
        Wait(RecordCreateAsync(agent, path, attributes));

    /// <summary>
    /// As <see cref="RecordCreate"/>, returning once the event is queued; the task completes at commit.
    /// Lets one thread keep many changes in flight (they share group commits).
    /// </summary>
    /// <summary>Asks the writer to commit what is queued now rather than at the end of its batch
    /// window: call it before waiting for a task an asynchronous <c>Record*Async</c> returned.</summary>
    public void CommitSoon() => _writer.Expedite();

    private T Wait<T>(Task<T> recorded)
    {
        _writer.Expedite();
        return recorded.GetAwaiter().GetResult();
    }

    public Task<StoreEvent> RecordCreateAsync(string agent, string path, NodeAttributes? attributes = null, byte[]? symlinkTarget = null)
    {
        CheckAgent(agent);
        path = StorePath.Normalize(path);
        if (path.Length == 0) throw new InvalidStorePathException(path, "the project root always exists");
        var attrs = attributes ?? StatOrThrow(path);
        var (state, hash) = attrs.Kind == FileKind.File && attrs.Size == 0 ? (ContentState.Captured, EmptyHash)
            : attrs.Kind == FileKind.Symlink && symlinkTarget is not null ? (ContentState.Captured, Objects.StoreBytes(symlinkTarget))
            : attrs.Kind is FileKind.File or FileKind.Symlink ? _capture.Capture(path, attrs)
            : (ContentState.None, null);
        var op = attrs.Kind switch { FileKind.Directory => EventOp.Mkdir, FileKind.Symlink => EventOp.Symlink, _ => EventOp.Create };
        return _writer.SubmitAsync(ctx =>
        {
            var parent = ctx.Index.ResolveDirCurrent(StorePath.Parent(path))!.Value;
            if (ctx.Index.LiveEntry(parent, StorePath.Name(path)) is not null)
                throw new IndexConflictException($"cannot record the creation of '{path}': it already exists in the index");
            return ctx.Append(new EventDraft(agent, op, path, NewVersion: true, Attributes: attrs, ContentState: state, ContentHash: hash));
        }, savepoint: false);
    }

    /// <summary>
    /// Copy-on-write capture: if the current version of <paramref name="path"/> was recorded by
    /// metadata only, saves its bytes now, before they are changed. Returns the event, or null when
    /// there was nothing to do. If the file no longer matches its recorded metadata (changed outside
    /// Lighthouse), the change is recorded as a write by <c>external</c> instead.
    /// </summary>
    public StoreEvent? CaptureBeforeModify(string agent, string path)
    {
        CheckAgent(agent);
        path = StorePath.Normalize(path);
        using (var s = Read())
        {
            var entry = s.Resolve(path, s.MaxSeq);
            if (entry is null) return null;
            var v = s.VersionAt(entry.FileId, s.MaxSeq);
            if (v is null || v.ContentState != ContentState.NotCaptured) return null;
        }
        var attrs = FileStat.Lstat(AbsolutePath(path));
        if (attrs is null) return null;
        var (state, hash) = _capture.Capture(path, attrs);
        return _writer.Submit(ctx =>
        {
            var found = ctx.Index.ResolveCurrent(path);
            if (found is null) return null;
            var v = ctx.Index.CurrentVersion(found.Value.FileId);
            if (v is null || v.ContentState != ContentState.NotCaptured) return null;
            var a = v.Attributes;
            if (a.Kind == attrs.Kind && a.Size == attrs.Size && a.MtimeNs == attrs.MtimeNs && a.Inode == attrs.Inode)
                return ctx.Append(new EventDraft(agent, EventOp.Capture, path, FileId: v.FileId, BeforeVersion: v.VersionSeq,
                    AfterVersion: v.VersionSeq, Attributes: a, ContentState: state, ContentHash: hash));
            return ctx.Append(new EventDraft(StoreConstants.ExternalAgent, EventOp.Write, path, FileId: v.FileId, BeforeVersion: v.VersionSeq,
                NewVersion: true, Attributes: attrs, ContentState: state, ContentHash: hash));
        }, savepoint: false);
    }

    /// <summary>
    /// A file that was written has been closed or fsync'ed: captures its bytes as a new version by
    /// <paramref name="agent"/>. Returns null if nothing changed (same bytes and metadata) or the file is gone.
    /// </summary>
    public StoreEvent? CaptureOnClose(string agent, string path) => Wait(CaptureOnCloseAsync(agent, path));

    /// <summary>As <see cref="CaptureOnClose"/>: the bytes are captured before it returns; the task completes at the
    /// event's commit, so captures in a row share commits.</summary>
    public Task<StoreEvent?> CaptureOnCloseAsync(string agent, string path)
    {
        CheckAgent(agent);
        path = StorePath.Normalize(path);
        var attrs = FileStat.Lstat(AbsolutePath(path));
        if (attrs is null || attrs.Kind is not (FileKind.File or FileKind.Symlink)) return Task.FromResult<StoreEvent?>(null);
        var (state, hash) = _capture.Capture(path, attrs);
        return _writer.SubmitAsync(ctx =>
        {
            var found = ctx.Index.ResolveCurrent(path)
                ?? throw new IndexConflictException($"cannot record a write to '{path}': it is not in the index (record its creation first)");
            var v = ctx.Index.CurrentVersion(found.FileId)!;
            if (v.Attributes == attrs && v.ContentState == state && v.ContentHash == hash) return null;
            return ctx.Append(new EventDraft(agent, EventOp.Write, path, FileId: v.FileId, BeforeVersion: v.VersionSeq,
                NewVersion: true, Attributes: attrs, ContentState: state, ContentHash: hash));
        }, savepoint: false);
    }

    /// <summary>
    /// Whether a current version of a file with this inode was recorded by metadata only, so that
    /// <see cref="CaptureBeforeModify"/> of it would save bytes. An in-memory lookup, for callers that must decide
    /// before every change; it reflects the events the writer has applied (not a change still queued behind them).
    /// </summary>
    public bool HasUncapturedContent(long inode) => _writer.Uncaptured.Contains(inode);

    /// <summary>Same as <see cref="CaptureOnClose"/>: a write is recorded when its bytes are captured.</summary>
    public StoreEvent? RecordWrite(string agent, string path) => CaptureOnClose(agent, path);

    /// <summary>
    /// Records a metadata change (chmod, utimens, truncate). A change of size or mtime is a content
    /// change and is captured like a write.
    /// </summary>
    public StoreEvent? RecordSetAttributes(string agent, string path, NodeAttributes? attributes = null)
    {
        CheckAgent(agent);
        path = StorePath.Normalize(path);
        if (attributes is null)
        {
            var attrs = StatOrThrow(path);
            NodeVersion? current;
            using (var s = Read())
            {
                var entry = s.Resolve(path, s.MaxSeq) ?? throw new StorePathNotFoundException(path, "the latest event");
                current = s.VersionAt(entry.FileId, s.MaxSeq);
            }
            if (current is not null && attrs.Kind == FileKind.File
                && (current.Size != attrs.Size || current.Attributes.MtimeNs != attrs.MtimeNs || current.Attributes.Inode != attrs.Inode))
                return CaptureOnClose(agent, path);
            // A metadata change is a modification too: save never-captured bytes first so the old version keeps them.
            if (current?.ContentState == ContentState.NotCaptured) CaptureBeforeModify(agent, path);
            attributes = attrs;
        }
        return Wait(RecordSetAttributesAsync(agent, path, attributes));
    }

    /// <summary>
    /// Records attributes the caller already knows (no stat, no capture): a new metadata version.
    /// If size or mtime differ from the current version, the new version's bytes are marked not captured.
    /// </summary>
    public Task<StoreEvent?> RecordSetAttributesAsync(string agent, string path, NodeAttributes attributes)
    {
        CheckAgent(agent);
        path = StorePath.Normalize(path);
        var attrs = attributes;
        return _writer.SubmitAsync<StoreEvent?>(ctx =>
        {
            var found = ctx.Index.ResolveCurrent(path)
                ?? throw new IndexConflictException($"cannot record an attribute change of '{path}': it is not in the index");
            var v = ctx.Index.CurrentVersion(found.FileId)!;
            if (v.Attributes == attrs) return null;
            var contentSame = v.Kind != FileKind.File || (v.Size == attrs.Size && v.Attributes.MtimeNs == attrs.MtimeNs);
            // Bytes changed without a capture (e.g. truncate reported by the caller): empty, too large or not captured.
            var (state, hash) = contentSame ? (v.ContentState, v.ContentHash) : InitialContent(attrs);
            return ctx.Append(new EventDraft(agent, EventOp.SetAttributes, path, FileId: v.FileId, BeforeVersion: v.VersionSeq,
                NewVersion: true, Attributes: attrs, ContentState: state, ContentHash: hash));
        }, savepoint: false);
    }

    /// <summary>Records an unlink or rmdir (by the kind the index knows). Earlier versions stay reachable.</summary>
    public StoreEvent RecordUnlink(string agent, string path) => Wait(RecordUnlinkAsync(agent, path));

    /// <summary>As <see cref="RecordUnlink"/>, returning once the event is queued; the task completes at commit.</summary>
    public Task<StoreEvent> RecordUnlinkAsync(string agent, string path)
    {
        CheckAgent(agent);
        path = StorePath.Normalize(path);
        if (path.Length == 0) throw new InvalidStorePathException(path, "the project root cannot be removed");
        return _writer.SubmitAsync(ctx =>
        {
            var (fileId, kind) = ctx.Index.ResolveCurrent(path)
                ?? throw new IndexConflictException($"cannot record the removal of '{path}': it is not in the index");
            if (kind == FileKind.Directory && ctx.Index.HasLiveChildren(fileId))
                throw new IndexConflictException($"cannot record the removal of directory '{path}': it is not empty in the index");
            var v = ctx.Index.CurrentVersion(fileId);
            return ctx.Append(new EventDraft(agent, kind == FileKind.Directory ? EventOp.Rmdir : EventOp.Unlink, path,
                FileId: fileId, BeforeVersion: v?.VersionSeq));
        }, savepoint: false);
    }

    /// <summary>Records a rename (over an existing target, which then stays reachable in history). Null for a POSIX no-op.</summary>
    public StoreEvent? RecordRename(string agent, string from, string to) => Wait(RecordRenameAsync(agent, from, to));

    /// <summary>As <see cref="RecordRename"/>, returning once the event is queued; the task completes at commit.</summary>
    public Task<StoreEvent?> RecordRenameAsync(string agent, string from, string to)
    {
        CheckAgent(agent);
        from = StorePath.Normalize(from);
        to = StorePath.Normalize(to);
        if (from.Length == 0 || to.Length == 0) throw new InvalidStorePathException(from.Length == 0 ? from : to, "the project root cannot be renamed");
        if (from == to) return Task.FromResult<StoreEvent?>(null);
        if (StorePath.IsSelfOrUnder(to, from))
            throw new IndexConflictException($"cannot record moving '{from}' into itself ('{to}')");
        return _writer.SubmitAsync<StoreEvent?>(ctx =>
        {
            var (fileId, kind) = ctx.Index.ResolveCurrent(from)
                ?? throw new IndexConflictException($"cannot record the rename of '{from}': it is not in the index");
            var parent = ctx.Index.ResolveDirCurrent(StorePath.Parent(to))!.Value;
            long? replaced = null;
            if (ctx.Index.LiveEntry(parent, StorePath.Name(to)) is { } target)
            {
                if (target.FileId == fileId) return null;
                if (target.Kind == FileKind.Directory && ctx.Index.HasLiveChildren(target.FileId))
                    throw new IndexConflictException($"cannot record renaming '{from}' over '{to}': the target directory is not empty in the index");
                replaced = target.FileId;
            }
            var v = ctx.Index.CurrentVersion(fileId);
            return ctx.Append(new EventDraft(agent, EventOp.Rename, from, to, FileId: fileId, BeforeVersion: v?.VersionSeq,
                AfterVersion: v?.VersionSeq, OtherFileId: replaced));
        }, savepoint: false);
    }

    /// <summary>Records a hard link: <paramref name="newPath"/> names the same file as <paramref name="existing"/>.</summary>
    public StoreEvent RecordLink(string agent, string existing, string newPath) => Wait(RecordLinkAsync(agent, existing, newPath));

    /// <summary>As <see cref="RecordLink"/>, returning once the event is queued; the task completes at commit.</summary>
    public Task<StoreEvent> RecordLinkAsync(string agent, string existing, string newPath)
    {
        CheckAgent(agent);
        existing = StorePath.Normalize(existing);
        newPath = StorePath.Normalize(newPath);
        return _writer.SubmitAsync(ctx =>
        {
            var (fileId, kind) = ctx.Index.ResolveCurrent(existing)
                ?? throw new IndexConflictException($"cannot record a link to '{existing}': it is not in the index");
            if (kind == FileKind.Directory) throw new IndexConflictException($"cannot record a hard link to directory '{existing}'");
            var parent = ctx.Index.ResolveDirCurrent(StorePath.Parent(newPath))!.Value;
            if (ctx.Index.LiveEntry(parent, StorePath.Name(newPath)) is not null)
                throw new IndexConflictException($"cannot record the link '{newPath}': it already exists in the index");
            var v = ctx.Index.CurrentVersion(fileId)!;
            return ctx.Append(new EventDraft(agent, EventOp.Link, existing, newPath, FileId: fileId, BeforeVersion: v.VersionSeq,
                AfterVersion: v.VersionSeq, Attributes: v.Attributes));
        }, savepoint: false);
    }

    // ---------------------------------------------------------------- snapshots

    public Snapshot CreateSnapshot(string agent, string name, StorePoint? point = null)
    {
        CheckAgent(agent);
        ValidateSnapshotName(name);
        long seq;
        using (var s = Read()) seq = s.ResolvePoint(point ?? StorePoint.Latest);
        var e = _writer.Submit(ctx =>
        {
            using (var cmd = ctx.Connection.CreateCommand())
            {
                cmd.CommandText = "SELECT seq FROM snapshots WHERE name=$n";
                cmd.Parameters.AddWithValue("$n", name);
                if (cmd.ExecuteScalar() is long existing) throw new SnapshotExistsException(name, existing);
            }
            return ctx.Append(new EventDraft(agent, EventOp.SnapshotCreate, name, FileId: 0, Point: seq));
        });
        return new Snapshot(name, seq, e.Seq, agent, e.TimeUtc);
    }

    public void DeleteSnapshot(string agent, string name)
    {
        CheckAgent(agent);
        _writer.Submit(ctx =>
        {
            using (var cmd = ctx.Connection.CreateCommand())
            {
                cmd.CommandText = "SELECT seq FROM snapshots WHERE name=$n";
                cmd.Parameters.AddWithValue("$n", name);
                if (cmd.ExecuteScalar() is not long) throw new PointNotFoundException($"there is no snapshot named '{name}'");
            }
            return ctx.Append(new EventDraft(agent, EventOp.SnapshotDelete, name, FileId: 0));
        });
    }

    private static void ValidateSnapshotName(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (name == "latest" || name[0] == '@' || name.Contains('/') || (char.IsAsciiDigit(name[0]) && name.Contains('T')))
            throw new StoreException($"'{name}' cannot name a snapshot: it must not be 'latest', start with '@', contain '/', or look like a time");
        StorePath.ValidateName(name, name);
    }
}
