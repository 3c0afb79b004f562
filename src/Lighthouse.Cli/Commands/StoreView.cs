using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Lighthouse.Store;
using Microsoft.Data.Sqlite;

namespace Lighthouse.Cli.Commands;

/// <summary>
/// What the read-only verbs (status, log, history, diff) need from a project's history. Two backends:
/// <see cref="ApiStoreView"/> (the store's own API, used when no other process has the store open) and
/// <see cref="SqliteStoreView"/> (a read-only SQLite connection, used while a mount owns the store, whose
/// exclusive lock keeps <see cref="ProjectStore.Open"/> out). Both return the store's own record types.
/// </summary>
public interface IStoreView : IDisposable
{
    string ProjectDir { get; }
    /// <summary>"store" or "read-only database (the store is in use by pid N)".</summary>
    string Backend { get; }
    long LastSeq { get; }
    long Resolve(StorePoint point);
    LogPage Log(LogQuery query);
    IReadOnlyList<FileVersion> Versions(string path, StorePoint? point = null);
    IReadOnlyList<ChangedPath> Changed(StorePoint from, StorePoint to);
    IReadOnlyList<Snapshot> Snapshots();
    DirEntry? LookupPath(string path, StorePoint point);
    IReadOnlyList<DirEntry> List(string dir, StorePoint point);
    NodeVersion Attributes(string path, StorePoint point);
    /// <summary>Where the bytes of a path as of a point are (object or live file), or why they are not available.</summary>
    FileContent Content(string path, StorePoint point);
    VerifyResult Verify();
    /// <summary>Checks only that the last <paramref name="count"/> events link to each other (cheap).</summary>
    VerifyResult VerifyTail(int count);
    string ObjectsDir { get; }
}

public static class StoreAccess
{
    public static readonly StoreOptions ReadOptions = new() { ReconcileOnOpen = false, CheckIntegrityOnOpen = false, FsyncObjects = false };

    /// <summary>
    /// Opens a project's history for reading, never reconciling or writing: through the store's API when
    /// nothing else holds the store, else (a running mount owns it) through a read-only database connection.
    /// </summary>
    public static IStoreView OpenReadOnly(string projectDir, bool preferDatabase = false)
    {
        var mount = MountState.ReadLive(projectDir);
        if (mount is null && !preferDatabase)
        {
            // ProjectStore.Open records a baseline into an empty log: a reader must never do that.
            var empty = false;
            using (var probe = new SqliteStoreView(projectDir, "probe")) empty = probe.LastSeq == 0;
            if (empty) return new SqliteStoreView(projectDir, "the event log is empty; run `lighthouse init`");
            try
            {
                return new ApiStoreView(ProjectStore.Open(projectDir, ReadOptions));
            }
            catch (StoreLockedException)
            {
                // Another process (a mount starting, another verb) holds it: read the database directly.
            }
        }
        return new SqliteStoreView(projectDir, mount is null ? "the store is in use by another process" : $"the store is owned by the mount, pid {mount.Pid}");
    }

    /// <summary>Opens the store for writing (this process becomes its owner), with a clear message if a mount or another process has it.</summary>
    public static ProjectStore OpenForWriting(string projectDir, StoreOptions? options = null)
    {
        if (MountState.ReadLive(projectDir) is { } m)
            throw new CliException($"the project is mounted on {m.MountPoint} (pid {m.Pid}); this change must go through the mount", ExitCodes.Failure);
        try
        {
            return ProjectStore.Open(projectDir, options ?? new StoreOptions { ReconcileOnOpen = false });
        }
        catch (StoreLockedException)
        {
            throw new CliException($"the store of {projectDir} is in use by another process (a mount starting, or another lighthouse command); try again when it is done", ExitCodes.Failure);
        }
    }

    /// <summary>Number of objects and their total size, by walking objects/ (tmp/ excluded).</summary>
    public static (long Count, long Bytes) ObjectStats(string objectsDir)
    {
        long count = 0, bytes = 0;
        if (!Directory.Exists(objectsDir)) return (0, 0);
        foreach (var sub in Directory.EnumerateDirectories(objectsDir))
        {
            if (Path.GetFileName(sub) is not { Length: 2 }) continue;
            foreach (var f in new DirectoryInfo(sub).EnumerateFiles())
            {
                count++;
                bytes += f.Length;
            }
        }
        return (count, bytes);
    }

    /// <summary>Opens the bytes of a <see cref="FileContent"/>, or throws saying why they are not available.</summary>
    public static Stream Open(FileContent c, string point)
    {
        if (c.ObjectPath is not null) return new FileStream(c.ObjectPath, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        if (c.LivePath is not null) return new FileStream(c.LivePath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 16);
        throw new ContentUnavailableException(c.Path, point, c.Unavailable ?? "unknown reason");
    }

    public static byte[] ReadAll(FileContent c, string point)
    {
        using var s = Open(c, point);
        using var ms = new MemoryStream();
        s.CopyTo(ms);
        return ms.ToArray();
    }
}

/// <summary>The store's API. This process holds the store's lock while the view is open.</summary>
public sealed class ApiStoreView(ProjectStore store) : IStoreView
{
    public ProjectStore Store { get; } = store;
    public string ProjectDir => Store.ProjectDir;
    public string Backend => "store";
    public long LastSeq => Store.LastSeq;
    public string ObjectsDir => Store.Objects.Root;
    public long Resolve(StorePoint point) => Store.Resolve(point);
    public LogPage Log(LogQuery query) => Store.Log(query);
    public IReadOnlyList<FileVersion> Versions(string path, StorePoint? point = null) => Store.Versions(path, point);
    public IReadOnlyList<ChangedPath> Changed(StorePoint from, StorePoint to) => Store.Changed(from, to);
    public IReadOnlyList<Snapshot> Snapshots() => Store.Snapshots();
    public DirEntry? LookupPath(string path, StorePoint point) => Store.LookupPath(path, point);
    public IReadOnlyList<DirEntry> List(string dir, StorePoint point) => Store.List(dir, point);
    public NodeVersion Attributes(string path, StorePoint point) => Store.Attributes(path, point);
    public FileContent Content(string path, StorePoint point) => Store.Content(path, point);
    public VerifyResult Verify() => Store.Verify();
    public VerifyResult VerifyTail(int count) => SqliteStoreView.VerifyTail(Store.DatabasePath, count);
    public void Dispose() => Store.Dispose();
}

/// <summary>
/// Read-only access to lighthouse.db while another process (the mount) owns the store. Mirrors the
/// store's queries over its schema (events, entries, versions, snapshots); it never writes.
/// </summary>
public sealed class SqliteStoreView : IStoreView
{
    private const long Open = StoreConstants.Open;
    private const string Columns =
        "seq, time_ticks, agent, op, path, path2, file_id, before_version, after_version, other_file_id, " +
        "kind, size, mode, mtime_ns, inode, content_state, content_hash, point, prev_hash, hash";

    private static readonly Dictionary<string, EventOp> OpsByName = new()
    {
        ["init"] = EventOp.Init, ["baseline"] = EventOp.Baseline, ["create"] = EventOp.Create, ["mkdir"] = EventOp.Mkdir,
        ["symlink"] = EventOp.Symlink, ["write"] = EventOp.Write, ["setattr"] = EventOp.SetAttributes, ["capture"] = EventOp.Capture,
        ["unlink"] = EventOp.Unlink, ["rmdir"] = EventOp.Rmdir, ["rename"] = EventOp.Rename, ["link"] = EventOp.Link,
        ["snapshot"] = EventOp.SnapshotCreate, ["snapshot-delete"] = EventOp.SnapshotDelete,
    };
    private static readonly Dictionary<EventOp, string> NamesByOp = OpsByName.ToDictionary(kv => kv.Value, kv => kv.Key);

    private readonly SqliteConnection _c;
    private SqliteTransaction? _t;

    public SqliteStoreView(string projectDir, string why)
    {
        ProjectDir = projectDir;
        Backend = $"read-only database ({why})";
        DatabasePath = Path.Combine(projectDir, StoreConstants.StateDirName, "lighthouse.db");
        ObjectsDir = Path.Combine(projectDir, StoreConstants.StateDirName, "objects");
        _c = OpenConnection(DatabasePath);
    }

    public string ProjectDir { get; }
    public string Backend { get; }
    public string DatabasePath { get; }
    public string ObjectsDir { get; }

    private static SqliteConnection OpenConnection(string path)
    {
        if (!File.Exists(path)) throw new CliException($"no event log at {path}; run `lighthouse init`", ExitCodes.Usage);
        var c = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = path, Mode = SqliteOpenMode.ReadOnly, Pooling = false, DefaultTimeout = 30,
        }.ToString());
        try
        {
            c.Open();
        }
        catch (SqliteException e)
        {
            c.Dispose();
            throw new StoreException($"cannot open {path} read-only: {e.Message}", e);
        }
        return c;
    }

    /// <summary>Runs <paramref name="f"/> in one read transaction (one consistent WAL snapshot), as the store does.</summary>
    private T Tx<T>(Func<T> f)
    {
        if (_t is not null) return f();
        try
        {
            _t = _c.BeginTransaction(deferred: true);
            try { return f(); }
            finally { _t.Dispose(); _t = null; }
        }
        catch (SqliteException e)
        {
            throw new StoreException($"database error while reading {DatabasePath}: {e.Message}", e);
        }
    }

    private SqliteCommand Cmd(string sql, params object?[] args)
    {
        var cmd = _c.CreateCommand();
        cmd.Transaction = _t;
        cmd.CommandText = sql;
        for (var i = 0; i < args.Length; i++) cmd.Parameters.AddWithValue("$" + (char)('a' + i), args[i] ?? DBNull.Value);
        return cmd;
    }

    private long MaxSeq()
    {
        using var cmd = Cmd("SELECT coalesce(max(seq), 0) FROM events");
        return (long)cmd.ExecuteScalar()!;
    }

    public long LastSeq => Tx(MaxSeq);

    public long Resolve(StorePoint point) => Tx(() => ResolveIn(point));

    private long ResolveIn(StorePoint point)
    {
        switch (point.Kind)
        {
            case StorePoint.PointKind.Latest:
                return MaxSeq();
            case StorePoint.PointKind.Event:
            {
                var max = MaxSeq();
                if (point.Seq < 1 || point.Seq > max) throw new PointNotFoundException($"event @{point.Seq} does not exist; the log holds @1..@{max}");
                return point.Seq;
            }
            case StorePoint.PointKind.Time:
            {
                using var cmd = Cmd("SELECT seq FROM events WHERE time_ticks <= $a ORDER BY time_ticks DESC, seq DESC LIMIT 1", point.TimeUtc.Ticks);
                return cmd.ExecuteScalar() is long seq ? seq : throw new PointNotFoundException($"{point} is before the first event of this project");
            }
            default:
            {
                using var cmd = Cmd("SELECT seq FROM snapshots WHERE name = $a", point.SnapshotName);
                return cmd.ExecuteScalar() is long seq ? seq : throw new PointNotFoundException($"there is no snapshot named '{point.SnapshotName}'");
            }
        }
    }

    private IEnumerable<StoreEvent> Events(string whereAndOrder, params object?[] args)
    {
        using var cmd = Cmd($"SELECT {Columns} FROM events {whereAndOrder}", args);
        using var r = cmd.ExecuteReader();
        while (r.Read()) yield return ReadEvent(r);
    }

    private static StoreEvent ReadEvent(SqliteDataReader r)
    {
        NodeAttributes? attrs = r.IsDBNull(10) ? null
            : new NodeAttributes((FileKind)r.GetInt32(10), r.GetInt64(11), r.GetInt32(12), r.GetInt64(13), r.GetInt64(14));
        var opName = r.GetString(3);
        if (!OpsByName.TryGetValue(opName, out var op)) throw new StoreException($"unknown operation '{opName}' in the event log (a newer Lighthouse wrote it?)");
        return new StoreEvent(r.GetInt64(0), new DateTime(r.GetInt64(1), DateTimeKind.Utc), r.GetString(2), op, r.GetString(4),
            r.IsDBNull(5) ? null : r.GetString(5), r.GetInt64(6), r.IsDBNull(7) ? null : r.GetInt64(7), r.IsDBNull(8) ? null : r.GetInt64(8),
            r.IsDBNull(9) ? null : r.GetInt64(9), attrs, (ContentState)r.GetInt32(15), r.IsDBNull(16) ? null : r.GetString(16),
            r.IsDBNull(17) ? null : r.GetInt64(17), (byte[])r.GetValue(18), (byte[])r.GetValue(19));
    }

    public LogPage Log(LogQuery q) => Tx(() =>
    {
        if (q.Limit is < 1 or > 10_000) throw new ArgumentOutOfRangeException(nameof(q), q.Limit, "Limit must be between 1 and 10000");
        var where = new StringBuilder("WHERE 1=1");
        var args = new List<object?>();
        string Arg(object? value)
        {
            args.Add(value);
            return "$" + (char)('a' + args.Count - 1);
        }
        if (q.Agent is not null) where.Append(" AND agent = ").Append(Arg(q.Agent));
        if (q.PathPrefix is not null && StorePath.Normalize(q.PathPrefix) is { Length: > 0 } prefix)
        {
            var p = Arg(prefix);
            var lo = Arg(prefix + "/");
            var hi = Arg(prefix + "0");
            where.Append($" AND (path = {p} OR (path >= {lo} AND path < {hi}) OR path2 = {p} OR (path2 >= {lo} AND path2 < {hi}))");
        }
        if (q.Operations is { Count: > 0 } ops)
            where.Append(" AND op IN (").Append(string.Join(", ", ops.Select(o => Arg(NamesByOp[o])))).Append(')');
        if (q.FromUtc is { } from) where.Append(" AND time_ticks >= ").Append(Arg(from.ToUniversalTime().Ticks));
        if (q.ToUtc is { } to) where.Append(" AND time_ticks < ").Append(Arg(to.ToUniversalTime().Ticks));
        if (q.BeforeSeq is { } before) where.Append(" AND seq < ").Append(Arg(before));
        where.Append(" ORDER BY seq DESC LIMIT ").Append(Arg(q.Limit + 1));
        var events = Events(where.ToString(), args.ToArray()).ToList();
        long? next = null;
        if (events.Count > q.Limit)
        {
            events.RemoveAt(events.Count - 1);
            next = events[^1].Seq;
        }
        return new LogPage(events, next);
    });

    private DirEntry? LookupEntry(long parentId, string name, long asOf)
    {
        using var cmd = Cmd("SELECT file_id, kind, to_seq FROM entries WHERE parent_id=$a AND name=$b AND from_seq <= $c ORDER BY from_seq DESC LIMIT 1", parentId, name, asOf);
        using var r = cmd.ExecuteReader();
        if (!r.Read() || r.GetInt64(2) <= asOf) return null;
        return new DirEntry(name, r.GetInt64(0), (FileKind)r.GetInt32(1));
    }

    private DirEntry? ResolvePath(string path, long asOf)
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

    private NodeVersion? VersionAt(long fileId, long asOf)
    {
        using var cmd = Cmd("SELECT from_seq, to_seq, kind, size, mode, mtime_ns, inode, content_state, content_hash FROM versions WHERE file_id=$a AND from_seq <= $b ORDER BY from_seq DESC LIMIT 1", fileId, asOf);
        using var r = cmd.ExecuteReader();
        if (!r.Read() || r.GetInt64(1) <= asOf) return null;
        return new NodeVersion(fileId, r.GetInt64(0), r.GetInt64(1),
            new NodeAttributes((FileKind)r.GetInt32(2), r.GetInt64(3), r.GetInt32(4), r.GetInt64(5), r.GetInt64(6)),
            (ContentState)r.GetInt32(7), r.IsDBNull(8) ? null : r.GetString(8));
    }

    public IReadOnlyList<FileVersion> Versions(string path, StorePoint? point = null) => Tx(() =>
    {
        path = StorePath.Normalize(path);
        var seq = ResolveIn(point ?? StorePoint.Latest);
        var e = ResolvePath(path, seq) ?? throw new StorePathNotFoundException(path, (point ?? StorePoint.Latest).ToString());
        var versions = new List<FileVersion>();
        var current = "";
        foreach (var ev in Events("WHERE file_id = $a ORDER BY seq", e.FileId).ToList())
        {
            switch (ev.Op)
            {
                case EventOp.Rename:
                    current = ev.Path2!;
                    break;
                case EventOp.Capture:
                {
                    var i = versions.FindLastIndex(v => v.VersionSeq == ev.AfterVersion);
                    if (i >= 0) versions[i] = versions[i] with { ContentState = ev.ContentState, ContentHash = ev.ContentHash, CapturedAtSeq = ev.Seq };
                    break;
                }
                case EventOp.Init or EventOp.Baseline or EventOp.Create or EventOp.Mkdir or EventOp.Symlink or EventOp.Write or EventOp.SetAttributes:
                    current = ev.Path;
                    versions.Add(new FileVersion(ev.FileId, ev.Seq, current, ev.Agent, ev.TimeUtc, ev.Op, ev.Attributes!, ev.ContentState, ev.ContentHash,
                        ev.ContentState == ContentState.Captured ? ev.Seq : null));
                    break;
            }
        }
        return (IReadOnlyList<FileVersion>)versions;
    });

    public IReadOnlyList<ChangedPath> Changed(StorePoint fromPoint, StorePoint toPoint) => Tx(() =>
    {
        var from = ResolveIn(fromPoint);
        var to = ResolveIn(toPoint);
        if (from > to) (from, to) = (to, from);
        var paths = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var e in Events("WHERE seq > $a AND seq <= $b ORDER BY seq", from, to).ToList())
        {
            if (e.Op is EventOp.SnapshotCreate or EventOp.SnapshotDelete or EventOp.Init) continue;
            paths.Add(e.Path);
            if (e.Path2 is not null) paths.Add(e.Path2);
        }
        var result = new List<ChangedPath>();
        foreach (var path in paths)
        {
            var before = ResolvePath(path, from);
            var after = ResolvePath(path, to);
            ChangeKind kind;
            if (before is null && after is null) continue;
            if (before is null) kind = ChangeKind.Added;
            else if (after is null) kind = ChangeKind.Deleted;
            else if (before.FileId != after.FileId) kind = ChangeKind.Replaced;
            else
            {
                var vb = VersionAt(before.FileId, from);
                var va = VersionAt(after.FileId, to);
                if (vb?.VersionSeq == va?.VersionSeq && vb?.ContentHash == va?.ContentHash) continue;
                if (vb is not null && va is not null && vb.Attributes == va.Attributes && vb.ContentHash == va.ContentHash) continue;
                kind = ChangeKind.Modified;
            }
            result.Add(new ChangedPath(path, kind, before?.FileId, after?.FileId));
        }
        return (IReadOnlyList<ChangedPath>)result;
    });

    public IReadOnlyList<Snapshot> Snapshots() => Tx(() =>
    {
        var list = new List<Snapshot>();
        using var cmd = Cmd("SELECT sn.name, sn.seq, sn.created_seq, e.agent, e.time_ticks FROM snapshots sn JOIN events e ON e.seq = sn.created_seq ORDER BY sn.seq, sn.name");
        using var r = cmd.ExecuteReader();
        while (r.Read()) list.Add(new Snapshot(r.GetString(0), r.GetInt64(1), r.GetInt64(2), r.GetString(3), new DateTime(r.GetInt64(4), DateTimeKind.Utc)));
        return (IReadOnlyList<Snapshot>)list;
    });

    public DirEntry? LookupPath(string path, StorePoint point) => Tx(() => ResolvePath(StorePath.Normalize(path), ResolveIn(point)));

    public IReadOnlyList<DirEntry> List(string dir, StorePoint point) => Tx(() =>
    {
        dir = StorePath.Normalize(dir);
        var seq = ResolveIn(point);
        var d = ResolvePath(dir, seq) ?? throw new StorePathNotFoundException(dir, point.ToString());
        if (d.Kind != FileKind.Directory) throw new StoreException($"'{dir}' is not a directory as of {point}");
        using var cmd = Cmd("SELECT name, file_id, kind FROM entries WHERE parent_id=$a AND to_seq > $b AND from_seq <= $b ORDER BY name", d.FileId, seq);
        using var r = cmd.ExecuteReader();
        var list = new List<DirEntry>();
        while (r.Read()) list.Add(new DirEntry(r.GetString(0), r.GetInt64(1), (FileKind)r.GetInt32(2)));
        return (IReadOnlyList<DirEntry>)list;
    });

    public NodeVersion Attributes(string path, StorePoint point) => Tx(() =>
    {
        path = StorePath.Normalize(path);
        var seq = ResolveIn(point);
        var e = ResolvePath(path, seq) ?? throw new StorePathNotFoundException(path, point.ToString());
        return VersionAt(e.FileId, seq) ?? throw new StoreException($"the index has no version of '{path}' (file #{e.FileId}) as of @{seq}");
    });

    public FileContent Content(string path, StorePoint point) => Tx(() =>
    {
        path = StorePath.Normalize(path);
        var seq = ResolveIn(point);
        var e = ResolvePath(path, seq) ?? throw new StorePathNotFoundException(path, point.ToString());
        var v = VersionAt(e.FileId, seq) ?? throw new StorePathNotFoundException(path, point.ToString());
        switch (v.ContentState)
        {
            case ContentState.Captured:
                return new FileContent(path, v, v.ContentState, ObjectPath(v.ContentHash!), null, null);
            case ContentState.NotCaptured:
            {
                // Bytes recorded by metadata only: a later version with the same bytes may have them, or the live file.
                var candidate = v;
                while (true)
                {
                    if (candidate.ContentState == ContentState.Captured)
                        return new FileContent(path, v, v.ContentState, ObjectPath(candidate.ContentHash!), null, null);
                    if (candidate.IsCurrent)
                    {
                        var live = CurrentPathOf(e.FileId);
                        if (live is not null && Lstat(Path.Combine(ProjectDir, live)) is { } st && SameBytes(st, v.Attributes))
                            return new FileContent(path, v, v.ContentState, null, Path.Combine(ProjectDir, live), null);
                        break;
                    }
                    var next = VersionAt(e.FileId, candidate.ToSeq);
                    if (next is null || !SameBytes(next.Attributes, v.Attributes)) break;
                    candidate = next;
                }
                return new FileContent(path, v, v.ContentState, null, null, v.IsCurrent
                    ? "the file changed outside Lighthouse after this version was recorded by metadata only; run a reconciliation"
                    : $"version @{v.VersionSeq} was recorded by metadata only (baseline or external change) and replaced before its bytes were captured");
            }
            case ContentState.TooLarge:
                return new FileContent(path, v, v.ContentState, null, null, $"the file ({v.Size} bytes) is larger than the capture limit: its history keeps metadata only");
            default:
                return new FileContent(path, v, v.ContentState, null, null, $"'{path}' is a {v.Kind.ToString().ToLowerInvariant()}, which has no content");
        }
    });

    private string ObjectPath(string hash) => Path.Combine(ObjectsDir, hash[..2], hash[2..]);

    private static bool SameBytes(NodeAttributes a, NodeAttributes b) => a.Inode == b.Inode && a.Size == b.Size && a.MtimeNs == b.MtimeNs;

    private static NodeAttributes? Lstat(string path)
    {
        try { return Native.Lstat(path); }
        catch (IOException) { return null; }
    }

    private string? CurrentPathOf(long fileId)
    {
        var names = new List<string>();
        var id = fileId;
        while (id != StoreConstants.RootFileId)
        {
            using var cmd = Cmd("SELECT parent_id, name FROM entries WHERE file_id=$a AND to_seq=$b LIMIT 1", id, Open);
            using var r = cmd.ExecuteReader();
            if (!r.Read()) return null;
            names.Add(r.GetString(1));
            id = r.GetInt64(0);
        }
        names.Reverse();
        return string.Join('/', names);
    }

    public VerifyResult Verify() => VerifyRange(_c, null);

    public VerifyResult VerifyTail(int count) => VerifyRange(_c, count);

    public static VerifyResult VerifyTail(string databasePath, int count)
    {
        using var c = OpenConnection(databasePath);
        return VerifyRange(c, count);
    }

    /// <summary>
    /// Walks the chain as the store's verifier does (seq without gaps, prev_hash links, each hash recomputed
    /// from the canonical encoding). With <paramref name="tail"/>, only the last events, starting from the
    /// stored hash of the one before them.
    /// </summary>
    private static VerifyResult VerifyRange(SqliteConnection c, int? tail)
    {
        long checkedCount = 0, lastGood = 0, expected = 1;
        byte[] prev = new byte[32];
        try
        {
            using var t = c.BeginTransaction(deferred: true);
            long start = 1;
            if (tail is { } n)
            {
                using var max = c.CreateCommand();
                max.Transaction = t;
                max.CommandText = "SELECT coalesce(max(seq), 0) FROM events";
                var last = (long)max.ExecuteScalar()!;
                start = Math.Max(1, last - n + 1);
                if (start > 1)
                {
                    using var p = c.CreateCommand();
                    p.Transaction = t;
                    p.CommandText = "SELECT hash FROM events WHERE seq = $a";
                    p.Parameters.AddWithValue("$a", start - 1);
                    if (p.ExecuteScalar() is not byte[] h)
                        return new VerifyResult(false, 0, 0, start - 1, $"event @{start - 1} is missing");
                    prev = h;
                    lastGood = start - 1;
                }
                expected = start;
            }
            using var cmd = c.CreateCommand();
            cmd.Transaction = t;
            cmd.CommandText = $"SELECT {Columns} FROM events WHERE seq >= $a ORDER BY seq";
            cmd.Parameters.AddWithValue("$a", start);
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                StoreEvent e;
                try { e = ReadEvent(r); }
                catch (Exception ex) when (ex is InvalidCastException or StoreException or FormatException)
                {
                    return new VerifyResult(false, checkedCount, lastGood, expected, $"event row cannot be decoded: {ex.Message}");
                }
                if (e.Seq != expected)
                    return new VerifyResult(false, checkedCount, lastGood, expected, $"event @{expected} is missing (next is @{e.Seq})");
                if (!e.PrevHash.AsSpan().SequenceEqual(prev))
                    return new VerifyResult(false, checkedCount, lastGood, e.Seq, "its prev_hash does not match the hash of the event before it");
                if (!ComputeHash(e).AsSpan().SequenceEqual(e.Hash))
                    return new VerifyResult(false, checkedCount, lastGood, e.Seq, "its content does not match its hash (the event was altered)");
                prev = e.Hash;
                lastGood = e.Seq;
                expected++;
                checkedCount++;
            }
        }
        catch (SqliteException e)
        {
            return new VerifyResult(false, checkedCount, lastGood, expected, $"the database cannot be read past @{lastGood}: {e.Message}");
        }
        return new VerifyResult(true, checkedCount, lastGood, null, null);
    }

    /// <summary>The store's canonical event encoding: SHA-256 over length-prefixed, null-marked fields.</summary>
    private static byte[] ComputeHash(StoreEvent e)
    {
        var b = new List<byte>(256);
        void Long(long? v)
        {
            b.Add(v.HasValue ? (byte)1 : (byte)0);
            if (!v.HasValue) return;
            Span<byte> tmp = stackalloc byte[8];
            BinaryPrimitives.WriteInt64LittleEndian(tmp, v.Value);
            foreach (var x in tmp) b.Add(x);
        }
        void Text(string? s)
        {
            if (s is null) { Long(null); return; }
            var bytes = Encoding.UTF8.GetBytes(s);
            Long(bytes.Length);
            b.AddRange(bytes);
        }
        Long(e.Seq);
        Long(e.TimeUtc.Ticks);
        Text(e.Agent);
        Text(NamesByOp[e.Op]);
        Text(e.Path);
        Text(e.Path2);
        Long(e.FileId);
        Long(e.BeforeVersion);
        Long(e.AfterVersion);
        Long(e.OtherFileId);
        Long(e.Attributes is null ? null : (long)e.Attributes.Kind);
        Long(e.Attributes?.Size);
        Long(e.Attributes?.Mode);
        Long(e.Attributes?.MtimeNs);
        Long(e.Attributes?.Inode);
        Long((long)e.ContentState);
        Text(e.ContentHash);
        Long(e.Point);
        Long(e.PrevHash.Length);
        b.AddRange(e.PrevHash);
        return SHA256.HashData(b.ToArray());
    }

    public void Dispose()
    {
        _t?.Dispose();
        _c.Dispose();
    }
}
