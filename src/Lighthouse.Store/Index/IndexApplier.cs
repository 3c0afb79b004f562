using Microsoft.Data.Sqlite;

namespace Lighthouse.Store.Index;

/// <summary>
/// Applies events to the temporal index (entries, versions, snapshots). The live writer and
/// <see cref="ProjectStore.RebuildIndex"/> both go through <see cref="Apply"/>, so a rebuild from
/// the log gives the index the writer built, by construction.
/// Also answers "current" (to_seq = open) questions on the writer's connection, which sees the
/// uncommitted earlier events of the same batch.
/// </summary>
internal sealed class IndexApplier : IDisposable
{
    private const long Open = StoreConstants.Open;
    private readonly SqliteCommand _liveEntry, _insertEntry, _closeEntry, _liveEntryCount, _liveChild;
    private readonly SqliteCommand _insertVersion, _closeVersion, _currentVersion, _captureVersion;
    private readonly SqliteCommand _insertSnapshot, _deleteSnapshot;
    // Directory path -> file id of the current tree; cleared whenever a directory moves or goes away.
    private readonly Dictionary<string, long> _dirCache = new(StringComparer.Ordinal);

    public IndexApplier(SqliteConnection c)
    {
        _liveEntry = Prepare(c, "SELECT file_id, kind, to_seq FROM entries WHERE parent_id=$a AND name=$b ORDER BY from_seq DESC LIMIT 1", 2);
        _insertEntry = Prepare(c, "INSERT INTO entries(parent_id, name, from_seq, to_seq, file_id, kind) VALUES($a, $b, $c, $d, $e, $f)", 6);
        _closeEntry = Prepare(c, "UPDATE entries SET to_seq=$c WHERE parent_id=$a AND name=$b AND to_seq=$d", 4);
        _liveEntryCount = Prepare(c, "SELECT count(*) FROM entries WHERE file_id=$a AND to_seq=$b", 2);
        _liveChild = Prepare(c, "SELECT 1 FROM entries WHERE parent_id=$a AND to_seq=$b LIMIT 1", 2);
        _insertVersion = Prepare(c, "INSERT INTO versions(file_id, from_seq, to_seq, kind, size, mode, mtime_ns, inode, content_state, content_hash, captured_seq, uid, gid, rdev) VALUES($a,$b,$c,$d,$e,$f,$g,$h,$i,$j,$k,$l,$m,$n)", 14);
        _closeVersion = Prepare(c, "UPDATE versions SET to_seq=$b WHERE file_id=$a AND from_seq=$c AND to_seq=$d", 4);
        _currentVersion = Prepare(c, "SELECT from_seq, to_seq, kind, size, mode, mtime_ns, inode, content_state, content_hash, uid, gid, rdev FROM versions WHERE file_id=$a ORDER BY from_seq DESC LIMIT 1", 1);
        _captureVersion = Prepare(c, "UPDATE versions SET content_state=$c, content_hash=$d, captured_seq=$e WHERE file_id=$a AND from_seq=$b", 5);
        _insertSnapshot = Prepare(c, "INSERT INTO snapshots(name, seq, created_seq) VALUES($a, $b, $c)", 3);
        _deleteSnapshot = Prepare(c, "DELETE FROM snapshots WHERE name=$a", 1);
    }

    private static SqliteCommand Prepare(SqliteConnection c, string sql, int parameters)
    {
        var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        for (var i = 0; i < parameters; i++)
            cmd.Parameters.Add(new SqliteParameter("$" + (char)('a' + i), null));
        cmd.Prepare();
        return cmd;
    }

    private static SqliteCommand Bind(SqliteCommand cmd, params object?[] values)
    {
        for (var i = 0; i < values.Length; i++)
            cmd.Parameters[i].Value = values[i] ?? DBNull.Value;
        return cmd;
    }

    public void ClearCaches() => _dirCache.Clear();

    /// <summary>The live entry (file id, kind) at a name, if any.</summary>
    public (long FileId, FileKind Kind)? LiveEntry(long parentId, string name)
    {
        using var r = Bind(_liveEntry, parentId, name).ExecuteReader();
        if (!r.Read() || r.GetInt64(2) != Open) return null;
        return (r.GetInt64(0), (FileKind)r.GetInt32(1));
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
        using var r = Bind(_currentVersion, fileId).ExecuteReader();
        if (!r.Read() || r.GetInt64(1) != Open) return null;
        return new NodeVersion(fileId, r.GetInt64(0), Open, Sqlite.Schema.ReadAttributes(r, 2, 9),
            (ContentState)r.GetInt32(7), r.IsDBNull(8) ? null : r.GetString(8));
    }

    public bool HasLiveChildren(long dirId) => Bind(_liveChild, dirId, Open).ExecuteScalar() is not null;

    private long LiveEntryCount(long fileId) => (long)Bind(_liveEntryCount, fileId, Open).ExecuteScalar()!;

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
                Bind(_insertEntry, parent, name, e.Seq, Open, e.FileId, (int)e.Attributes!.Kind).ExecuteNonQuery();
                InsertVersion(e);
                break;
            }
            case EventOp.Write or EventOp.SetAttributes:
                // Closing by (file, from_seq) is one seek, however many versions the file has.
                if (Bind(_closeVersion, e.FileId, e.Seq, e.BeforeVersion, Open).ExecuteNonQuery() != 1)
                    throw new IndexConflictException($"file #{e.FileId} ('{e.Path}') has no current version (event @{e.Seq})");
                InsertVersion(e);
                break;
            case EventOp.Capture:
                if (Bind(_captureVersion, e.FileId, e.AfterVersion, (int)e.ContentState, e.ContentHash, e.Seq).ExecuteNonQuery() != 1)
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
                Bind(_insertEntry, parent, StorePath.Name(e.Path2!), e.Seq, Open, e.FileId, (int)kind).ExecuteNonQuery();
                break;
            }
            case EventOp.Exchange:
            {
                // Both parents first: a swap moves neither (one name is never under the other).
                var parentA = ResolveDirCurrent(StorePath.Parent(e.Path))!.Value;
                var parentB = ResolveDirCurrent(StorePath.Parent(e.Path2!))!.Value;
                var kindA = CloseEntry(e.Path, e.Seq);
                var kindB = CloseEntry(e.Path2!, e.Seq);
                Bind(_insertEntry, parentB, StorePath.Name(e.Path2!), e.Seq, Open, e.FileId, (int)kindA).ExecuteNonQuery();
                Bind(_insertEntry, parentA, StorePath.Name(e.Path), e.Seq, Open, e.OtherFileId, (int)kindB).ExecuteNonQuery();
                if (kindA == FileKind.Directory || kindB == FileKind.Directory) _dirCache.Clear();
                break;
            }
            case EventOp.Link:
            {
                var parent = ResolveDirCurrent(StorePath.Parent(e.Path2!))!.Value;
                Bind(_insertEntry, parent, StorePath.Name(e.Path2!), e.Seq, Open, e.FileId, (int)e.Attributes!.Kind).ExecuteNonQuery();
                break;
            }
            case EventOp.SnapshotCreate:
                Bind(_insertSnapshot, e.Path, e.Point, e.Seq).ExecuteNonQuery();
                break;
            case EventOp.SnapshotDelete:
                Bind(_deleteSnapshot, e.Path).ExecuteNonQuery();
                break;
            default:
                throw new StoreException($"event @{e.Seq} has operation {e.Op}, which the index does not know");
        }
    }

    private FileKind CloseEntry(string path, long seq)
    {
        var parent = ResolveDirCurrent(StorePath.Parent(path))!.Value;
        var name = StorePath.Name(path);
        var live = LiveEntry(parent, name)
            ?? throw new IndexConflictException($"'{path}' is not in the index (event @{seq})");
        Bind(_closeEntry, parent, name, seq, Open).ExecuteNonQuery();
        return live.Kind;
    }

    private void EndIfUnreferenced(long fileId, long seq)
    {
        if (LiveEntryCount(fileId) == 0 && CurrentVersion(fileId) is { } current)
            Bind(_closeVersion, fileId, seq, current.VersionSeq, Open).ExecuteNonQuery();
    }

    private void InsertVersion(StoreEvent e)
    {
        var a = e.Attributes!;
        Bind(_insertVersion, e.FileId, e.Seq, Open, (int)a.Kind, a.Size, a.Mode, a.MtimeNs, a.Inode,
            (int)e.ContentState, e.ContentHash, e.ContentState == ContentState.Captured ? e.Seq : null, a.Uid, a.Gid, a.Rdev).ExecuteNonQuery();
    }

    public void Dispose()
    {
        foreach (var c in new[] { _liveEntry, _insertEntry, _closeEntry, _liveEntryCount, _liveChild, _insertVersion, _closeVersion, _currentVersion, _captureVersion, _insertSnapshot, _deleteSnapshot })
            c.Dispose();
    }
}
