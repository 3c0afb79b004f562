using Lighthouse.Store.Events;
using Lighthouse.Store.Capture;
using Lighthouse.Store.Native;
using Lighthouse.Store.Objects;
using Microsoft.Win32.SafeHandles;

namespace Lighthouse.Store;

// Recording mutations. Contract with the caller (the mount):
//  - before a syscall that destroys bytes (open for write/O_TRUNC, truncate, unlink, rename over a file),
//    call CaptureBeforeModify(path, file) so a version never captured yet is saved first (copy-on-write);
//  - after the syscall succeeded, call the matching Record* method;
//  - at a capture point of a written file (close, fsync, rename), call CaptureOnClose(path, file).
// Bytes are read from the descriptor the caller hands over (never by path: the name may be gone or lead to another
// file by then, or be longer than PATH_MAX); the path says where the version is recorded, resolved in order with the
// records queued before it. The overloads without a descriptor, for callers that have none, reach the file from the
// project directory's descriptor.
// The work items of these calls check the index before they append (and append one event), so they run without a
// savepoint of their own (savepoint: false, see EventWriter.RunItems).
public sealed partial class ProjectStore
{
    private static void CheckAgent(Actor agent) => ArgumentException.ThrowIfNullOrWhiteSpace(agent.Name, nameof(agent));

    private NodeAttributes StatOrThrow(string path) =>
        ProjectTree.Lstat(RootFd, path) ?? throw new StorePathNotFoundException(path, "now (not on disk)");

    /// <summary>The modification time of the directory holding <paramref name="path"/> after a change of its entries: as the
    /// caller gave it, else as lstat gives it now (the caller records right after its change); null if it is gone.</summary>
    private long? DirMtime(string path, long? given) => given ?? ProjectTree.Lstat(RootFd, StorePath.Parent(path))?.MtimeNs;

    /// <summary>Records a new file, directory or symlink (kind from its attributes) after it was created.</summary>
    public StoreEvent RecordCreate(Actor agent, string path, NodeAttributes? attributes = null) =>
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

    public Task<StoreEvent> RecordCreateAsync(Actor agent, string path, NodeAttributes? attributes = null, byte[]? symlinkTarget = null, long? dirMtimeNs = null, SafeFileHandle? content = null)
    {
        CheckAgent(agent);
        path = StorePath.Normalize(path);
        if (path.Length == 0) throw new InvalidStorePathException(path, "the project root always exists");
        var attrs = attributes ?? StatOrThrow(path);
        Captured captured = attrs.Kind == FileKind.File && attrs.Size == 0 ? (ContentState.Captured, EmptyHash)
            : attrs.Kind == FileKind.Symlink && symlinkTarget is not null ? (ContentState.Captured, Objects.StoreBytes(symlinkTarget))
            : attrs.Kind == FileKind.File && content is not null ? _capture.Capture(content, attrs, path)
            : attrs.Kind is FileKind.File or FileKind.Symlink ? _capture.CaptureAt(path, attrs)
            : (ContentState.None, null);
        return RecordCreate(agent, path, attrs, captured, dirMtimeNs);
    }

    /// <summary>As the other overload, for a file born with bytes (an O_TMPFILE given a name) read before by
    /// <see cref="ReadContent"/>: the event carries those bytes, whatever the file holds by the time it is recorded.</summary>
    public Task<StoreEvent> RecordCreateAsync(Actor agent, string path, NodeAttributes attributes, CapturedContent? content, long? dirMtimeNs = null)
    {
        if (content is null) return RecordCreateAsync(agent, path, attributes, null, dirMtimeNs, (SafeFileHandle?)null);
        CheckAgent(agent);
        path = StorePath.Normalize(path);
        if (path.Length == 0) throw new InvalidStorePathException(path, "the project root always exists");
        // The size and times of the bytes read: the attributes given are the file's at its creation, the bytes may be
        // the same (read early) or the file's now.
        return RecordCreate(agent, path, content.Attributes with { Mode = attributes.Mode, Uid = attributes.Uid, Gid = attributes.Gid }, content.ToCaptured(), dirMtimeNs);
    }

    private Task<StoreEvent> RecordCreate(Actor agent, string path, NodeAttributes attrs, Captured captured, long? dirMtimeNs)
    {
        var (state, hash, blob) = captured;
        var op = attrs.Kind switch { FileKind.Directory => EventOp.Mkdir, FileKind.Symlink => EventOp.Symlink, _ => EventOp.Create };
        var dirMtime = DirMtime(path, dirMtimeNs);
        return _writer.SubmitAsync(ctx =>
        {
            var parent = ctx.Index.ResolveDirCurrent(StorePath.Parent(path))!.Value;
            if (ctx.Index.LiveEntry(parent, StorePath.Name(path)) is not null)
                throw new IndexConflictException($"cannot record the creation of '{path}': it already exists in the index");
            StoreBlob(ctx, blob);
            return ctx.Append(new EventDraft(agent, op, path, NewVersion: true, Attributes: attrs, ContentState: state, ContentHash: hash,
                DirMtimeNs: dirMtime));
        }, savepoint: false, settled: blob is null ? null : blob.Release);
    }

    /// <summary>
    /// Copy-on-write capture: if the current version of <paramref name="path"/> was recorded by
    /// metadata only, saves its bytes now, before they are changed. Returns the event, or null when
    /// there was nothing to do. If the file no longer matches its recorded metadata (changed outside
    /// Lighthouse), the change is recorded as a write by <c>external</c> instead.
    /// </summary>
    public StoreEvent? CaptureBeforeModify(Actor agent, string path)
    {
        CheckAgent(agent);
        path = StorePath.Normalize(path);
        if (!NotCapturedNow(path)) return null;
        var attrs = ProjectTree.Lstat(RootFd, path);
        if (attrs is null) return null;
        return RecordCaptureBeforeModify(agent, path, attrs, _capture.CaptureAt(path, attrs));
    }

    /// <summary>As <see cref="CaptureBeforeModify(string, string)"/>, reading the bytes from <paramref name="file"/>
    /// (an open regular file, read from offset 0; the caller keeps it).</summary>
    public StoreEvent? CaptureBeforeModify(Actor agent, string path, SafeFileHandle file, Actor? changedBy = null)
    {
        CheckAgent(agent);
        path = StorePath.Normalize(path);
        if (!NotCapturedNow(path)) return null;
        var attrs = FileStat.Of(file);
        if (attrs.Kind != FileKind.File) return null;
        return RecordCaptureBeforeModify(agent, path, attrs, _capture.Capture(file, attrs, path), changedBy);
    }

    /// <summary>Whether the current version at <paramref name="path"/> is recorded by metadata only (as committed so far).</summary>
    private bool NotCapturedNow(string path)
    {
        using var s = Read();
        var entry = s.Resolve(path, s.MaxSeq);
        if (entry is null) return false;
        var v = s.VersionAt(entry.FileId, s.MaxSeq);
        return v is { ContentState: ContentState.NotCaptured };
    }

    /// <summary>As <see cref="IProjectStore.RecordCaptureBeforeModifyAsync"/>.</summary>
    public Task<StoreEvent?> RecordCaptureBeforeModifyAsync(Actor agent, string path, CapturedContent? content, Actor? changedBy = null)
    {
        CheckAgent(agent);
        if (content is null) return Task.FromResult<StoreEvent?>(null);
        return CaptureBeforeModifyItem(agent, StorePath.Normalize(path), content.Attributes, content.ToCaptured(), changedBy);
    }

    private StoreEvent? RecordCaptureBeforeModify(Actor agent, string path, NodeAttributes attrs, Captured content,
        Actor? changedBy = null) => Wait(CaptureBeforeModifyItem(agent, path, attrs, content, changedBy));

    private Task<StoreEvent?> CaptureBeforeModifyItem(Actor agent, string path, NodeAttributes attrs, Captured content,
        Actor? changedBy)
    {
        var (state, hash, blob) = content;
        return _writer.SubmitAsync<StoreEvent?>(ctx =>
        {
            var found = ctx.Index.ResolveCurrent(path);
            if (found is null) return null;
            var v = ctx.Index.CurrentVersion(found.Value.FileId);
            if (v is null || v.ContentState != ContentState.NotCaptured) return null;
            StoreBlob(ctx, blob);
            var a = v.Attributes;
            if (a.Kind == attrs.Kind && a.Size == attrs.Size && a.MtimeNs == attrs.MtimeNs && a.Inode == attrs.Inode)
                return ctx.Append(new EventDraft(agent, EventOp.Capture, path, FileId: v.FileId, BeforeVersion: v.VersionSeq,
                    AfterVersion: v.VersionSeq, Attributes: a, ContentState: state, ContentHash: hash));
            return ctx.Append(new EventDraft(changedBy ?? new Actor(StoreConstants.ExternalAgent, AgentVia.External), EventOp.Write, path, FileId: v.FileId, BeforeVersion: v.VersionSeq,
                NewVersion: true, Attributes: attrs, ContentState: state, ContentHash: hash));
        }, savepoint: false, settled: blob is null ? null : blob.Release);
    }

    /// <summary>
    /// A file that was written has been closed or fsync'ed: captures its bytes as a new version by
    /// <paramref name="agent"/>. Returns null if nothing changed (same bytes and metadata) or the file is gone.
    /// </summary>
    public StoreEvent? CaptureOnClose(Actor agent, string path) => Wait(CaptureOnCloseAsync(agent, path));

    /// <summary>As <see cref="CaptureOnClose"/>: the bytes are captured before it returns; the task completes at the
    /// event's commit, so captures in a row share commits.</summary>
    public Task<StoreEvent?> CaptureOnCloseAsync(Actor agent, string path)
    {
        CheckAgent(agent);
        path = StorePath.Normalize(path);
        var attrs = ProjectTree.Lstat(RootFd, path);
        if (attrs is null || attrs.Kind is not (FileKind.File or FileKind.Symlink)) return Task.FromResult<StoreEvent?>(null);
        return RecordWriteAsync(agent, path, attrs, _capture.CaptureAt(path, attrs));
    }

    /// <summary>As <see cref="CaptureOnClose(string, string)"/>, reading the bytes from <paramref name="file"/>.</summary>
    public StoreEvent? CaptureOnClose(Actor agent, string path, SafeFileHandle file) => Wait(CaptureOnCloseAsync(agent, path, file));

    /// <summary>
    /// As <see cref="CaptureOnClose(string, string, SafeFileHandle)"/>, returning once the bytes are captured and the
    /// event is queued (the caller may close <paramref name="file"/> then); the task completes at commit.
    /// </summary>
    public Task<StoreEvent?> CaptureOnCloseAsync(Actor agent, string path, SafeFileHandle file) =>
        RecordWriteAsync(agent, path, ReadContent(file, path));

    /// <summary>Reads the bytes of <paramref name="file"/> into the store now, for <see cref="RecordWriteAsync(string, string, CapturedContent)"/>
    /// later; null if it is not a regular file.</summary>
    public CapturedContent? ReadContent(SafeFileHandle file, string path)
    {
        path = StorePath.Normalize(path);
        var attrs = FileStat.Of(file);
        if (attrs.Kind != FileKind.File) return null;
        var (state, hash, blob) = _capture.Capture(file, attrs, path);
        return new CapturedContent(attrs, state, hash) { Blob = blob };
    }

    /// <summary>As <see cref="CaptureOnCloseAsync"/>, with bytes read before by <see cref="ReadContent"/>.</summary>
    public Task<StoreEvent?> RecordWriteAsync(Actor agent, string path, CapturedContent? content)
    {
        CheckAgent(agent);
        if (content is null) return Task.FromResult<StoreEvent?>(null);
        return RecordWriteAsync(agent, StorePath.Normalize(path), content.Attributes, content.ToCaptured());
    }

    private Task<StoreEvent?> RecordWriteAsync(Actor agent, string path, NodeAttributes attrs, Captured content)
    {
        var (state, hash, blob) = content;
        return _writer.SubmitAsync<StoreEvent?>(ctx =>
        {
            var found = ctx.Index.ResolveCurrent(path)
                ?? throw new IndexConflictException($"cannot record a write to '{path}': it is not in the index (record its creation first)");
            var v = ctx.Index.CurrentVersion(found.FileId)!;
            if (v.Attributes == attrs && v.ContentState == state && v.ContentHash == hash) return null;
            StoreBlob(ctx, blob);
            return ctx.Append(new EventDraft(agent, EventOp.Write, path, FileId: v.FileId, BeforeVersion: v.VersionSeq,
                NewVersion: true, Attributes: attrs, ContentState: state, ContentHash: hash));
        }, savepoint: false, settled: blob is null ? null : blob.Release);
    }

    /// <summary>Inserts a captured blob (and its new chunks) in the writer's transaction, before the event that names it.</summary>
    private void StoreBlob(WriteContext ctx, StoredBlob? blob)
    {
        if (blob is not null) Chunks.Insert(ctx.Connection, blob);
    }

    /// <summary>
    /// Whether a current version of a file with this inode was recorded by metadata only, so that
    /// <see cref="CaptureBeforeModify"/> of it would save bytes. An in-memory lookup, for callers that must decide
    /// before every change; it reflects the events the writer has applied (not a change still queued behind them).
    /// </summary>
    public bool HasUncapturedContent(long inode) => _writer.Uncaptured.Contains(inode);

    /// <summary>Same as <see cref="CaptureOnClose"/>: a write is recorded when its bytes are captured.</summary>
    public StoreEvent? RecordWrite(Actor agent, string path) => CaptureOnClose(agent, path);

    /// <summary>
    /// Records a metadata change (chmod, utimens, truncate). A change of size or mtime is a content
    /// change and is captured like a write.
    /// </summary>
    public StoreEvent? RecordSetAttributes(Actor agent, string path, NodeAttributes? attributes = null)
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
    public Task<StoreEvent?> RecordSetAttributesAsync(Actor agent, string path, NodeAttributes attributes)
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
    public StoreEvent RecordUnlink(Actor agent, string path) => Wait(RecordUnlinkAsync(agent, path));

    /// <summary>As <see cref="RecordUnlink"/>, returning once the event is queued; the task completes at commit.</summary>
    public Task<StoreEvent> RecordUnlinkAsync(Actor agent, string path, long? dirMtimeNs = null)
    {
        CheckAgent(agent);
        path = StorePath.Normalize(path);
        if (path.Length == 0) throw new InvalidStorePathException(path, "the project root cannot be removed");
        var dirMtime = DirMtime(path, dirMtimeNs);
        return _writer.SubmitAsync(ctx =>
        {
            var (fileId, kind) = ctx.Index.ResolveCurrent(path)
                ?? throw new IndexConflictException($"cannot record the removal of '{path}': it is not in the index");
            if (kind == FileKind.Directory && ctx.Index.HasLiveChildren(fileId))
                throw new IndexConflictException($"cannot record the removal of directory '{path}': it is not empty in the index");
            var v = ctx.Index.CurrentVersion(fileId);
            return ctx.Append(new EventDraft(agent, kind == FileKind.Directory ? EventOp.Rmdir : EventOp.Unlink, path,
                FileId: fileId, BeforeVersion: v?.VersionSeq, DirMtimeNs: dirMtime));
        }, savepoint: false);
    }

    /// <summary>Checks the agent and the two paths of a rename or exchange (normalized in place); false when they are one path.</summary>
    private static bool TwoPaths(Actor agent, ref string a, ref string b, string done)
    {
        CheckAgent(agent);
        a = StorePath.Normalize(a);
        b = StorePath.Normalize(b);
        if (a.Length == 0 || b.Length == 0) throw new InvalidStorePathException(a.Length == 0 ? a : b, $"the project root cannot be {done}");
        return a != b;
    }

    /// <summary>Records a rename (over an existing target, which then stays reachable in history). Null for a POSIX no-op.</summary>
    public StoreEvent? RecordRename(Actor agent, string from, string to) => Wait(RecordRenameAsync(agent, from, to));

    /// <summary>As <see cref="RecordRename"/>, returning once the event is queued; the task completes at commit.</summary>
    public Task<StoreEvent?> RecordRenameAsync(Actor agent, string from, string to, long? fromDirMtimeNs = null, long? toDirMtimeNs = null)
    {
        if (!TwoPaths(agent, ref from, ref to, "renamed")) return Task.FromResult<StoreEvent?>(null);
        if (StorePath.IsSelfOrUnder(to, from))
            throw new IndexConflictException($"cannot record moving '{from}' into itself ('{to}')");
        var (dirMtime, dir2Mtime) = DirMtimes(from, to, fromDirMtimeNs, toDirMtimeNs);
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
                AfterVersion: v?.VersionSeq, OtherFileId: replaced, DirMtimeNs: dirMtime, Dir2MtimeNs: dir2Mtime));
        }, savepoint: false);
    }

    /// <summary>The directory times a rename or exchange between <paramref name="a"/> and <paramref name="b"/> carries: the
    /// second only when the two names are in different directories (one directory has one mtime).</summary>
    private (long? Dir, long? Dir2) DirMtimes(string a, string b, long? aDirMtimeNs, long? bDirMtimeNs) =>
        (DirMtime(a, aDirMtimeNs), StorePath.Parent(a) == StorePath.Parent(b) ? null : DirMtime(b, bDirMtimeNs));

    /// <summary>Records renameat2(RENAME_EXCHANGE): the names <paramref name="a"/> and <paramref name="b"/> swap their files. Null for a no-op.</summary>
    public StoreEvent? RecordExchange(Actor agent, string a, string b) => Wait(RecordExchangeAsync(agent, a, b));

    /// <summary>As <see cref="RecordExchange"/>, returning once the event is queued; the task completes at commit.</summary>
    public Task<StoreEvent?> RecordExchangeAsync(Actor agent, string a, string b, long? aDirMtimeNs = null, long? bDirMtimeNs = null)
    {
        if (!TwoPaths(agent, ref a, ref b, "exchanged")) return Task.FromResult<StoreEvent?>(null);
        if (StorePath.IsSelfOrUnder(a, b) || StorePath.IsSelfOrUnder(b, a))
            throw new IndexConflictException($"cannot record exchanging '{a}' with '{b}': one is inside the other");
        var (dirMtime, dir2Mtime) = DirMtimes(a, b, aDirMtimeNs, bDirMtimeNs);
        return _writer.SubmitAsync<StoreEvent?>(ctx =>
        {
            var (fileA, _) = ctx.Index.ResolveCurrent(a)
                ?? throw new IndexConflictException($"cannot record the exchange of '{a}': it is not in the index");
            var (fileB, _) = ctx.Index.ResolveCurrent(b)
                ?? throw new IndexConflictException($"cannot record the exchange of '{b}': it is not in the index");
            if (fileA == fileB) return null; // two names of one file: nothing moves
            var v = ctx.Index.CurrentVersion(fileA);
            return ctx.Append(new EventDraft(agent, EventOp.Exchange, a, b, FileId: fileA, BeforeVersion: v?.VersionSeq,
                AfterVersion: v?.VersionSeq, OtherFileId: fileB, DirMtimeNs: dirMtime, Dir2MtimeNs: dir2Mtime));
        }, savepoint: false);
    }

    /// <summary>Records a hard link: <paramref name="newPath"/> names the same file as <paramref name="existing"/>.</summary>
    public StoreEvent RecordLink(Actor agent, string existing, string newPath) => Wait(RecordLinkAsync(agent, existing, newPath));

    /// <summary>As <see cref="RecordLink"/>, returning once the event is queued; the task completes at commit.</summary>
    public Task<StoreEvent> RecordLinkAsync(Actor agent, string existing, string newPath, long? dirMtimeNs = null)
    {
        CheckAgent(agent);
        existing = StorePath.Normalize(existing);
        newPath = StorePath.Normalize(newPath);
        var dirMtime = DirMtime(newPath, dirMtimeNs); // only the new name's directory changed
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
                AfterVersion: v.VersionSeq, Attributes: v.Attributes, DirMtimeNs: dirMtime));
        }, savepoint: false);
    }

    // ---------------------------------------------------------------- snapshots

    public Snapshot CreateSnapshot(Actor agent, string name, StorePoint? point = null)
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
        return new Snapshot(name, seq, e.Seq, agent.Name, e.TimeUtc);
    }

    public void DeleteSnapshot(Actor agent, string name)
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

    public Task NoteReadsAsync(IReadOnlyList<ReadNote> reads)
    {
        if (reads.Count == 0) return Task.CompletedTask;
        return _writer.SubmitAsync(ctx =>
        {
            using var version = ctx.Connection.CreateCommand();
            version.CommandText = "SELECT v.from_seq FROM versions v JOIN events e ON e.seq = v.from_seq " +
                "WHERE v.file_id = $f AND e.time_ticks <= $t ORDER BY v.from_seq DESC LIMIT 1";
            var file = version.Parameters.Add("$f", Microsoft.Data.Sqlite.SqliteType.Integer);
            var time = version.Parameters.Add("$t", Microsoft.Data.Sqlite.SqliteType.Integer);
            using var upsert = ctx.Connection.CreateCommand();
            upsert.CommandText = "INSERT INTO reads(agent, file_id, version_seq, time_ticks) VALUES($a, $f, $v, $t) " +
                "ON CONFLICT(agent, file_id) DO UPDATE SET version_seq = excluded.version_seq, time_ticks = excluded.time_ticks " +
                "WHERE excluded.time_ticks >= reads.time_ticks";
            var agent = upsert.Parameters.Add("$a", Microsoft.Data.Sqlite.SqliteType.Text);
            var upFile = upsert.Parameters.Add("$f", Microsoft.Data.Sqlite.SqliteType.Integer);
            var upVersion = upsert.Parameters.Add("$v", Microsoft.Data.Sqlite.SqliteType.Integer);
            var upTime = upsert.Parameters.Add("$t", Microsoft.Data.Sqlite.SqliteType.Integer);
            int noted = 0;
            foreach (var read in reads)
            {
                string path;
                try { path = StorePath.Normalize(read.Path); }
                catch (InvalidStorePathException) { continue; }
                if (ctx.Index.ResolveCurrent(path) is not { } found) continue;
                file.Value = found.FileId;
                time.Value = read.TimeUtc.Ticks;
                if (version.ExecuteScalar() is not long seq) continue; // created after the read was noted
                agent.Value = read.Agent;
                upFile.Value = found.FileId;
                upVersion.Value = seq;
                upTime.Value = read.TimeUtc.Ticks;
                noted += upsert.ExecuteNonQuery();
            }
            return noted;
        });
    }

    public Task<StoreEvent> RecordAuditAsync(Actor agent, EventOp op, string path, string? path2, string detail)
    {
        CheckAgent(agent);
        if (op is not (EventOp.Deny or EventOp.Policy or EventOp.Agents)) throw new ArgumentException($"{op} is not an access-control event", nameof(op));
        path = StorePath.Normalize(path);
        if (path2 is not null) path2 = StorePath.Normalize(path2);
        return _writer.SubmitAsync(ctx => ctx.Append(new EventDraft(agent, op, path, path2, FileId: 0, Detail: detail)));
    }

    private static void ValidateSnapshotName(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (name == "latest" || name[0] == '@' || name.Contains('/') || (char.IsAsciiDigit(name[0]) && name.Contains('T')))
            throw new StoreException($"'{name}' cannot name a snapshot: it must not be 'latest', start with '@', contain '/', or look like a time");
        StorePath.ValidateName(name, name);
    }
}
