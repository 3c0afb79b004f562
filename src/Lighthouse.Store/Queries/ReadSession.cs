using System.Globalization;
using Lighthouse.Store.Events;
using Lighthouse.Store.Sqlite;
using Microsoft.Data.Sqlite;

namespace Lighthouse.Store.Queries;

/// <summary>
/// One read transaction on a pooled connection: every query in it sees the same committed state
/// (WAL snapshot), so "latest" means the same event throughout an API call.
/// Every as-of query is an index seek: (parent, name, from_seq) for names, (file, from_seq) for versions.
/// </summary>
internal sealed class ReadSession : IDisposable, Objects.SqliteCommandSource
{
    private readonly Database _db;
    private readonly SqliteConnection _c;
    private readonly SqliteTransaction _t;
    private long _maxSeq = -1;

    public ReadSession(Database db)
    {
        _db = db;
        try
        {
            _c = db.OpenReader();
            _t = _c.BeginTransaction(deferred: true);
        }
        catch (Exception e)
        {
            throw db.Translate(e, "opening a read transaction");
        }
    }

    public SqliteCommand Command(string sql, params object?[] args)
    {
        var cmd = _c.CreateCommand();
        cmd.Transaction = _t;
        cmd.CommandText = sql;
        for (var i = 0; i < args.Length; i++)
            cmd.Parameters.AddWithValue("$" + (char)('a' + i), args[i] ?? DBNull.Value);
        return cmd;
    }

    public Exception Translate(Exception e, string doing) => _db.Translate(e, doing);

    public long MaxSeq
    {
        get
        {
            if (_maxSeq < 0)
            {
                using var cmd = Command("SELECT coalesce(max(seq), 0) FROM events");
                _maxSeq = (long)cmd.ExecuteScalar()!;
            }
            return _maxSeq;
        }
    }

    public long ResolvePoint(StorePoint point)
    {
        switch (point.Kind)
        {
            case StorePoint.PointKind.Latest:
                return MaxSeq;
            case StorePoint.PointKind.Event:
                if (point.Seq < 1 || point.Seq > MaxSeq)
                    throw new PointNotFoundException($"event @{point.Seq} does not exist; the log holds @1..@{MaxSeq}");
                return point.Seq;
            case StorePoint.PointKind.Time:
            {
                var seq = LastSeqAtOrBefore(point.TimeUtc.Ticks);
                return seq > 0 ? seq : throw new PointNotFoundException($"{point} is before the first event of this project");
            }
            default:
            {
                using var cmd = Command("SELECT seq FROM snapshots WHERE name = $a", point.SnapshotName);
                return cmd.ExecuteScalar() is long seq
                    ? seq
                    : throw new PointNotFoundException($"there is no snapshot named '{point.SnapshotName}'");
            }
        }
    }

    /// <summary>
    /// The last event at or before a time (in ticks), 0 if none: times never go backwards along the log (the writer
    /// clamps them), so it is a binary search over seq, about 20 seeks for a million events, with no time index.
    /// </summary>
    public long LastSeqAtOrBefore(long ticks)
    {
        // Each probe takes the first event at or after a seq, so gaps in the numbering (a damaged log) do no harm.
        using var probe = Command("SELECT seq, time_ticks FROM events WHERE seq >= $a ORDER BY seq LIMIT 1", 0L);
        long lo = 1, hi = MaxSeq, found = 0;
        while (lo <= hi)
        {
            probe.Parameters[0].Value = lo + (hi - lo) / 2;
            using var r = probe.ExecuteReader();
            if (!r.Read()) break;
            long seq = r.GetInt64(0);
            if (r.GetInt64(1) <= ticks && seq <= hi)
            {
                found = seq;
                lo = seq + 1;
            }
            else hi = lo + (hi - lo) / 2 - 1;
        }
        return found;
    }

    public DirEntry? LookupEntry(long parentId, string name, long asOf)
    {
        using var cmd = Command("SELECT file_id, kind, to_seq FROM entries WHERE parent_id=$a AND name=$b AND from_seq <= $c ORDER BY from_seq DESC LIMIT 1", parentId, name, asOf);
        using var r = cmd.ExecuteReader();
        if (!r.Read() || r.GetInt64(2) <= asOf) return null;
        return new DirEntry(name, r.GetInt64(0), (FileKind)r.GetInt32(1));
    }

    public DirEntry? Resolve(string path, long asOf)
    {
        if (path.Length == 0) return new DirEntry("", StoreConstants.RootFileId, FileKind.Directory);
        long parent = StoreConstants.RootFileId;
        DirEntry? entry = null;
        foreach (var name in path.Split('/'))
        {
            if (entry is not null && entry.Kind != FileKind.Directory) return null;
            entry = LookupEntry(parent, name, asOf);
            if (entry is null) return null;
            parent = entry.FileId;
        }
        return entry;
    }

    public List<DirEntry> List(long dirId, long asOf)
    {
        // Scan whichever side is shorter: names born up to asOf (early points) or names still alive after it (late points).
        var index = asOf * 2 < MaxSeq ? "entries_by_start" : "entries_by_end";
        using var cmd = Command($"SELECT name, file_id, kind FROM entries INDEXED BY {index} WHERE parent_id=$a AND to_seq > $b AND from_seq <= $b ORDER BY name", dirId, asOf);
        using var r = cmd.ExecuteReader();
        var list = new List<DirEntry>();
        while (r.Read()) list.Add(new DirEntry(r.GetString(0), r.GetInt64(1), (FileKind)r.GetInt32(2)));
        return list;
    }

    public NodeVersion? VersionAt(long fileId, long asOf)
    {
        using var cmd = Command("SELECT from_seq, to_seq, kind, size, mode, mtime_ns, inode, content_state, content_hash, uid, gid, rdev FROM versions WHERE file_id=$a AND from_seq <= $b ORDER BY from_seq DESC LIMIT 1", fileId, asOf);
        using var r = cmd.ExecuteReader();
        if (!r.Read() || r.GetInt64(1) <= asOf) return null;
        return new NodeVersion(fileId, r.GetInt64(0), r.GetInt64(1), Schema.ReadAttributes(r, 2, 9),
            (ContentState)r.GetInt32(7), r.IsDBNull(8) ? null : r.GetString(8));
    }

    /// <summary>How many names a node had as of <paramref name="asOf"/>: a directory 2 + its subdirectories (as ext4
    /// counts), anything else its live entries (hard links).</summary>
    public long LinkCount(long fileId, FileKind kind, long asOf)
    {
        using var cmd = kind == FileKind.Directory
            ? Command("SELECT 2 + count(*) FROM entries WHERE parent_id=$a AND kind=$c AND from_seq <= $b AND to_seq > $b", fileId, asOf, (int)FileKind.Directory)
            : Command("SELECT count(*) FROM entries WHERE file_id=$a AND from_seq <= $b AND to_seq > $b", fileId, asOf);
        return (long)cmd.ExecuteScalar()!;
    }

    /// <summary>A directory's modification time as of <paramref name="asOf"/> (see <see cref="IProjectStore.DirectoryMtime"/>): the
    /// last event up to then that added or removed one of its entries is the later of the last entry born and the last one
    /// ended — one seek each on (parent, from_seq) and (parent, to_seq).</summary>
    public long? DirectoryMtime(long dirId, long asOf)
    {
        var v = VersionAt(dirId, asOf);
        if (v is null || v.Kind != FileKind.Directory) return null;
        using var cmd = Command("""
            SELECT seq, file_id, path2, dir_mtime_ns, dir2_mtime_ns FROM events WHERE seq = max(
                coalesce((SELECT from_seq FROM entries INDEXED BY entries_by_start WHERE parent_id=$a AND from_seq <= $b ORDER BY from_seq DESC LIMIT 1), 0),
                coalesce((SELECT to_seq FROM entries INDEXED BY entries_by_end WHERE parent_id=$a AND to_seq <= $b ORDER BY to_seq DESC LIMIT 1), 0))
            """, dirId, asOf);
        using var r = cmd.ExecuteReader();
        // Its own version (mkdir, chmod, utimensat) came after the last change of its entries: its mtime is that version's.
        if (!r.Read() || r.GetInt64(0) < v.VersionSeq) return v.Attributes.MtimeNs;
        if (!r.IsDBNull(4) && IsSecondDirectory(dirId, r.GetInt64(0), r.GetInt64(1), r.GetString(2))) return r.GetInt64(4);
        return r.IsDBNull(3) ? v.Attributes.MtimeNs : r.GetInt64(3); // recorded before schema 3: as the version has it
    }

    /// <summary>Whether a rename or exchange between two directories changed <paramref name="dirId"/> as the directory of its
    /// second path: the file that was at the first path got the second path's name in it then.</summary>
    private bool IsSecondDirectory(long dirId, long seq, long fileId, string path2)
    {
        using var cmd = Command("SELECT 1 FROM entries WHERE parent_id=$a AND name=$b AND from_seq=$c AND file_id=$d", dirId, StorePath.Name(path2), seq, fileId);
        return cmd.ExecuteScalar() is not null;
    }

    public IEnumerable<StoreEvent> Events(string whereAndOrder, params object?[] args)
    {
        using var cmd = Command($"SELECT {EventCodec.Columns} FROM events {whereAndOrder}", args);
        using var r = cmd.ExecuteReader();
        while (r.Read()) yield return EventCodec.Read(r, _db.LegacyOwner);
    }

    public static string Seq(long seq) => "@" + seq.ToString(CultureInfo.InvariantCulture);

    public void Dispose()
    {
        _t.Dispose();
        _c.Dispose();
    }
}
