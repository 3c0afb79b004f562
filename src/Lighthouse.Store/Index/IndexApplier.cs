using Lighthouse.Store.Sqlite;
using Microsoft.Data.Sqlite;

namespace Lighthouse.Store.Index;

/// <summary>
/// Applies events to the temporal index (entries, versions, snapshots). The live writer and
/// <see cref="ProjectStore.RebuildIndex"/> both go through <see cref="Apply"/>, so a rebuild from
/// the log gives the index the writer built, by construction.
/// Also answers "current" (to_seq = open) questions on the writer's connection, which sees the
/// uncommitted earlier events of the same batch.
/// Statements are bound by position (<see cref="RawStatement"/>): the writer runs several per event, and
/// Microsoft.Data.Sqlite's named binding and data readers cost more than the SQL itself.
/// </summary>
internal sealed class IndexApplier : IDisposable
{
    private const long Open = StoreConstants.Open;
    private readonly RawStatement _liveEntry, _insertEntry, _closeEntry, _liveEntryCount, _liveChild;
    private readonly RawStatement _insertVersion, _closeVersion, _currentVersion, _captureVersion;
    private readonly RawStatement _insertSnapshot, _deleteSnapshot;
    // Directory path -> file id of the current tree; cleared whenever a directory moves or goes away.
    private readonly Dictionary<string, long> _dirCache = new(StringComparer.Ordinal);
    // The last two live-entry lookups and the last current-version lookup: a mutation checks them (a rename both
    // of its names), then Apply asks again for the same ones. Forgotten at every write to entries (versions) and
    // at ClearCaches.
    private (long Parent, string? Name, (long FileId, FileKind Kind)? Entry) _lastEntry, _entryBefore;
    private (long FileId, NodeVersion? Version) _lastVersion = (-1, null);
    private readonly SqliteConnection _connection;

    public IndexApplier(SqliteConnection c)
    {
        _connection = c;
        _liveEntry = new(c, "SELECT file_id, kind, to_seq FROM entries WHERE parent_id=?1 AND name=?2 ORDER BY from_seq DESC LIMIT 1");
        _insertEntry = new(c, "INSERT INTO entries(parent_id, name, from_seq, to_seq, file_id, kind) VALUES(?1, ?2, ?3, ?4, ?5, ?6)");
        _closeEntry = new(c, "UPDATE entries SET to_seq=?3 WHERE parent_id=?1 AND name=?2 AND to_seq=?4");
        _liveEntryCount = new(c, "SELECT count(*) FROM entries WHERE file_id=?1 AND to_seq=?2");
        _liveChild = new(c, "SELECT 1 FROM entries WHERE parent_id=?1 AND to_seq=?2 LIMIT 1");
        _insertVersion = new(c, "INSERT INTO versions(file_id, from_seq, to_seq, kind, size, mode, mtime_ns, inode, content_state, content_hash, captured_seq, uid, gid, rdev) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)");
        _closeVersion = new(c, "UPDATE versions SET to_seq=?2 WHERE file_id=?1 AND from_seq=?3 AND to_seq=?4 RETURNING inode, content_state");
        _currentVersion = new(c, "SELECT from_seq, to_seq, kind, size, mode, mtime_ns, inode, content_state, content_hash, uid, gid, rdev FROM versions WHERE file_id=?1 ORDER BY from_seq DESC LIMIT 1");
        _captureVersion = new(c, "UPDATE versions SET content_state=?3, content_hash=?4, captured_seq=?5 WHERE file_id=?1 AND from_seq=?2");
        _insertSnapshot = new(c, "INSERT INTO snapshots(name, seq, created_seq) VALUES(?1, ?2, ?3)");
        _deleteSnapshot = new(c, "DELETE FROM snapshots WHERE name=?1");
        Uncaptured.Load(c);
    }

    /// <summary>Inodes of current versions not captured, as the events applied so far leave them.</summary>
    public UncapturedInodes Uncaptured { get; } = new();

    /// <summary>Forgets what is remembered of the index: after a rollback (<paramref name="reload"/>: reads
    /// again what is derived from it) or a rebuild.</summary>
    public void ClearCaches(bool reload = true)
    {
        _dirCache.Clear();
        EntriesChanged();
        VersionsChanged();
        if (reload) Uncaptured.Load(_connection);
    }

    private void EntriesChanged() => _lastEntry = _entryBefore = default;
    private void VersionsChanged() => _lastVersion = (-1, null);

    /// <summary>The live entry (file id, kind) at a name, if any.</summary>
    public (long FileId, FileKind Kind)? LiveEntry(long parentId, string name)
    {
        if (_lastEntry.Parent == parentId && _lastEntry.Name == name) return _lastEntry.Entry;
        if (_entryBefore.Parent == parentId && _entryBefore.Name == name) return _entryBefore.Entry;
        (long, FileKind)? entry = null;
        try
        {
            if (_liveEntry.Bind(1, parentId).Bind(2, name).Read() && _liveEntry.Int64(2) == Open)
                entry = (_liveEntry.Int64(0), (FileKind)_liveEntry.Int64(1));
        }
        finally { _liveEntry.Reset(); }
        _entryBefore = _lastEntry;
        _lastEntry = (parentId, name, entry);
        return entry;
    }

    public (long FileId, FileKind Kind)? ResolveCurrent(string path)
    {
        if (path.Length == 0) return (StoreConstants.RootFileId, FileKind.Directory);
        var parent = ResolveDirCurrent(StorePath.Parent(path), throwIfMissing: false);
        return parent is null ? null : LiveEntry(parent.Value, StorePath.Name(path));
    }

    public long? ResolveDirCurrent(string path, bool throwIfMissing = true)
    {
        if (path.Length == 0) return StoreConstants.RootFileId;
        if (_dirCache.TryGetValue(path, out var cached)) return cached;
        var parent = ResolveDirCurrent(StorePath.Parent(path), throwIfMissing);
        if (parent is null) return null;
        var entry = LiveEntry(parent.Value, StorePath.Name(path));
        if (entry is null || entry.Value.Kind != FileKind.Directory)
        {
            if (!throwIfMissing) return null;
            throw new IndexConflictException(entry is null
                ? $"directory '{path}' is not in the index"
                : $"'{path}' is not a directory in the index");
        }
        _dirCache[path] = entry.Value.FileId;
        return entry.Value.FileId;
    }

    public NodeVersion? CurrentVersion(long fileId)
    {
        if (_lastVersion.FileId == fileId) return _lastVersion.Version;
        NodeVersion? version = null;
        var r = _currentVersion;
        try
        {
            // Owner columns are NULL only in rows from before schema 2 that an upgrade did not fill (read as Schema.ReadAttributes does).
            if (r.Bind(1, fileId).Read() && r.Int64(1) == Open)
                version = new NodeVersion(fileId, r.Int64(0), Open,
                    new NodeAttributes((FileKind)r.Int64(2), r.Int64(3), (int)r.Int64(4), r.Int64(5), r.Int64(6),
                        r.IsNull(9) ? 0 : r.Int64(9), r.IsNull(9) ? 0 : r.Int64(10), r.IsNull(9) ? 0 : r.Int64(11)),
                    (ContentState)r.Int64(7), r.Text(8));
        }
        finally { r.Reset(); }
        _lastVersion = (fileId, version);
        return version;
    }

    public bool HasLiveChildren(long dirId)
    {
        try { return _liveChild.Bind(1, dirId).Bind(2, Open).Read(); }
        finally { _liveChild.Reset(); }
    }

    private long LiveEntryCount(long fileId)
    {
        try
        {
            _liveEntryCount.Bind(1, fileId).Bind(2, Open).Read();
            return _liveEntryCount.Int64(0);
        }
        finally { _liveEntryCount.Reset(); }
    }

    public void Apply(StoreEvent e)
    {
        switch (e.Op)
        {
            case EventOp.Init:
                InsertVersion(e);
                break;
            case EventOp.Baseline or EventOp.Create or EventOp.Mkdir or EventOp.Symlink:
            {
                var parent = ResolveDirCurrent(StorePath.Parent(e.Path))!.Value;
                var name = StorePath.Name(e.Path);
                if (LiveEntry(parent, name) is not null)
                    throw new IndexConflictException($"'{e.Path}' already exists in the index (event @{e.Seq})");
                InsertEntry(parent, name, e.Seq, e.FileId, e.Attributes!.Kind);
                InsertVersion(e);
                break;
            }
            case EventOp.Write or EventOp.SetAttributes:
                // Closing by (file, from_seq) is one seek, however many versions the file has.
                if (CloseVersion(e.FileId, e.BeforeVersion, e.Seq) != 1)
                    throw new IndexConflictException($"file #{e.FileId} ('{e.Path}') has no current version (event @{e.Seq})");
                InsertVersion(e);
                break;
            case EventOp.Capture:
                if (CurrentVersion(e.FileId) is { ContentState: ContentState.NotCaptured } captured && captured.VersionSeq == e.AfterVersion
                    && e.ContentState != ContentState.NotCaptured)
                    Uncaptured.Remove(captured.Attributes.Inode);
                VersionsChanged();
                if (_captureVersion.Bind(1, e.FileId).Bind(2, e.AfterVersion).Bind(3, (long)e.ContentState).Bind(4, e.ContentHash).Bind(5, e.Seq).Execute() != 1)
                    throw new IndexConflictException($"version @{e.AfterVersion} of file #{e.FileId} is not in the index (event @{e.Seq})");
                break;
            case EventOp.Unlink or EventOp.Rmdir:
                CloseEntry(e.Path, e.Seq);
                EndIfUnreferenced(e.FileId, e.Seq);
                if (e.Op == EventOp.Rmdir) _dirCache.Clear();
                break;
            case EventOp.Rename:
            {
                var kind = CloseEntry(e.Path, e.Seq);
                if (e.OtherFileId is { } replaced)
                {
                    CloseEntry(e.Path2!, e.Seq);
                    EndIfUnreferenced(replaced, e.Seq);
                }
                if (kind == FileKind.Directory || e.OtherFileId is not null) _dirCache.Clear();
                var parent = ResolveDirCurrent(StorePath.Parent(e.Path2!))!.Value;
                InsertEntry(parent, StorePath.Name(e.Path2!), e.Seq, e.FileId, kind);
                break;
            }
            case EventOp.Exchange:
            {
                // Both parents first: a swap moves neither (one name is never under the other).
                var parentA = ResolveDirCurrent(StorePath.Parent(e.Path))!.Value;
                var parentB = ResolveDirCurrent(StorePath.Parent(e.Path2!))!.Value;
                var kindA = CloseEntry(e.Path, e.Seq);
                var kindB = CloseEntry(e.Path2!, e.Seq);
                InsertEntry(parentB, StorePath.Name(e.Path2!), e.Seq, e.FileId, kindA);
                InsertEntry(parentA, StorePath.Name(e.Path), e.Seq, e.OtherFileId!.Value, kindB);
                if (kindA == FileKind.Directory || kindB == FileKind.Directory) _dirCache.Clear();
                break;
            }
            case EventOp.Link:
            {
                var parent = ResolveDirCurrent(StorePath.Parent(e.Path2!))!.Value;
                InsertEntry(parent, StorePath.Name(e.Path2!), e.Seq, e.FileId, e.Attributes!.Kind);
                break;
            }
            case EventOp.SnapshotCreate:
                _insertSnapshot.Bind(1, e.Path).Bind(2, e.Point).Bind(3, e.Seq).Execute();
                break;
            case EventOp.SnapshotDelete:
                _deleteSnapshot.Bind(1, e.Path).Execute();
                break;
            case EventOp.Deny or EventOp.Policy or EventOp.Agents:
                break; // a refusal, a policy change: nothing in the tree changes

            default:
                throw new StoreException($"event @{e.Seq} has operation {e.Op}, which the index does not know");
        }
    }

    private void InsertEntry(long parent, string name, long seq, long fileId, FileKind kind)
    {
        EntriesChanged();
        _insertEntry.Bind(1, parent).Bind(2, name).Bind(3, seq).Bind(4, Open).Bind(5, fileId).Bind(6, (long)kind).Execute();
    }

    private FileKind CloseEntry(string path, long seq)
    {
        var parent = ResolveDirCurrent(StorePath.Parent(path))!.Value;
        var name = StorePath.Name(path);
        var live = LiveEntry(parent, name)
            ?? throw new IndexConflictException($"'{path}' is not in the index (event @{seq})");
        EntriesChanged();
        _closeEntry.Bind(1, parent).Bind(2, name).Bind(3, seq).Bind(4, Open).Execute();
        return live.Kind;
    }

    private int CloseVersion(long fileId, long? versionSeq, long seq)
    {
        VersionsChanged();
        var r = _closeVersion.Bind(1, fileId).Bind(2, seq).Bind(3, versionSeq).Bind(4, Open);
        try
        {
            if (!r.Read()) return 0;
            if (r.Int64(1) == (long)ContentState.NotCaptured) Uncaptured.Remove(r.Int64(0));
            return 1;
        }
        finally { r.Reset(); }
    }

    private void EndIfUnreferenced(long fileId, long seq)
    {
        if (LiveEntryCount(fileId) == 0 && CurrentVersion(fileId) is { } current)
            CloseVersion(fileId, current.VersionSeq, seq);
    }

    private void InsertVersion(StoreEvent e)
    {
        var a = e.Attributes!;
        VersionsChanged();
        if (e.ContentState == ContentState.NotCaptured) Uncaptured.Add(a.Inode);
        _insertVersion.Bind(1, e.FileId).Bind(2, e.Seq).Bind(3, Open).Bind(4, (long)a.Kind).Bind(5, a.Size).Bind(6, a.Mode).Bind(7, a.MtimeNs).Bind(8, a.Inode)
            .Bind(9, (long)e.ContentState).Bind(10, e.ContentHash).Bind(11, e.ContentState == ContentState.Captured ? e.Seq : null)
            .Bind(12, a.Uid).Bind(13, a.Gid).Bind(14, a.Rdev).Execute();
    }

    public void Dispose()
    {
        foreach (var c in new[] { _liveEntry, _insertEntry, _closeEntry, _liveEntryCount, _liveChild, _insertVersion, _closeVersion, _currentVersion, _captureVersion, _insertSnapshot, _deleteSnapshot })
            c.Dispose();
    }
}
