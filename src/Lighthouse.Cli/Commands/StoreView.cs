using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Lighthouse.Store;
using Microsoft.Data.Sqlite;

namespace Lighthouse.Cli.Commands;

/// <summary>
/// What the read-only verbs (status, log, history, diff, and restore's reading side) need from a project's
/// history: the store's own query API, opened with <see cref="ProjectStore.OpenReadOnly"/> (no lock, no baseline,
/// no reconciliation), so it works alongside a running mount and never keeps a mount from starting.
/// </summary>
public interface IStoreView : IDisposable
{
    string ProjectDir { get; }
    /// <summary>How the history is read (for diagnostics).</summary>
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
    /// <summary>Opens a project's store for writing: the one place the CLI (the composition root) names the implementation.</summary>
    public static ProjectStore OpenStore(string projectDir, StoreOptions options) => ProjectStore.Open(projectDir, options);

    public static readonly StoreOptions ReadOptions = new() { ReconcileOnOpen = false, CheckIntegrityOnOpen = false, FsyncObjects = false };

    /// <summary>
    /// Opens a project's history for reading through the store's read-only mode: never locks, reconciles or writes,
    /// so it works while a mount owns the store.
    /// </summary>
    public static IStoreView OpenReadOnly(string projectDir) => new ApiStoreView(ProjectStore.OpenReadOnly(projectDir, ReadOptions));

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
    public string Backend => Store.IsReadOnly ? "store (read-only)" : "store";
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
    public VerifyResult VerifyTail(int count) => ChainCheck.VerifyTail(Store.DatabasePath, count);
    public void Dispose() => Store.Dispose();
}

/// <summary>
/// A quick check of the end of the hash chain (the store's <see cref="ProjectStore.Verify"/> walks it all):
/// the last N events are read on a read-only connection and checked as the store's verifier does — sequence
/// numbers without gaps, each prev_hash equal to the hash before it, each hash recomputed from the store's
/// canonical encoding (mirrored here; a test keeps the two in step).
/// </summary>
public static class ChainCheck
{
    private const string Columns =
        "seq, time_ticks, agent, op, path, path2, file_id, before_version, after_version, other_file_id, " +
        "kind, size, mode, mtime_ns, inode, content_state, content_hash, point, prev_hash, hash";

    public static VerifyResult VerifyTail(string databasePath, int count)
    {
        using var c = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = databasePath, Mode = SqliteOpenMode.ReadOnly, Pooling = false, DefaultTimeout = 30,
        }.ToString());
        long checkedCount = 0, lastGood = 0, expected = 1;
        var prev = new byte[32];
        try
        {
            c.Open();
            using var t = c.BeginTransaction(deferred: true);
            SqliteCommand Cmd(string sql, long arg)
            {
                var cmd = c.CreateCommand();
                cmd.Transaction = t;
                cmd.CommandText = sql;
                cmd.Parameters.AddWithValue("$a", arg);
                return cmd;
            }
            long last;
            using (var max = Cmd("SELECT coalesce(max(seq), 0) FROM events WHERE $a = $a", 0)) last = (long)max.ExecuteScalar()!;
            var start = Math.Max(1, last - count + 1);
            if (start > 1)
            {
                using var p = Cmd("SELECT hash FROM events WHERE seq = $a", start - 1);
                if (p.ExecuteScalar() is not byte[] h) return new VerifyResult(false, 0, 0, start - 1, $"event @{start - 1} is missing");
                prev = h;
                lastGood = start - 1;
            }
            expected = start;
            using var cmd = Cmd($"SELECT {Columns} FROM events WHERE seq >= $a ORDER BY seq", start);
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                var seq = r.GetInt64(0);
                if (seq != expected) return new VerifyResult(false, checkedCount, lastGood, expected, $"event @{expected} is missing (next is @{seq})");
                var prevHash = (byte[])r.GetValue(18);
                var hash = (byte[])r.GetValue(19);
                if (!prevHash.AsSpan().SequenceEqual(prev))
                    return new VerifyResult(false, checkedCount, lastGood, seq, "its prev_hash does not match the hash of the event before it");
                if (!ComputeHash(r).AsSpan().SequenceEqual(hash))
                    return new VerifyResult(false, checkedCount, lastGood, seq, "its content does not match its hash (the event was altered)");
                prev = hash;
                lastGood = seq;
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

    /// <summary>The store's canonical event encoding: SHA-256 over length-prefixed, null-marked fields, from a row.</summary>
    private static byte[] ComputeHash(SqliteDataReader r)
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
        long? L(int i) => r.IsDBNull(i) ? null : r.GetInt64(i);
        string? S(int i) => r.IsDBNull(i) ? null : r.GetString(i);
        var hasAttributes = !r.IsDBNull(10);
        Long(r.GetInt64(0));
        Long(r.GetInt64(1));
        Text(r.GetString(2));
        Text(r.GetString(3));
        Text(r.GetString(4));
        Text(S(5));
        Long(r.GetInt64(6));
        Long(L(7));
        Long(L(8));
        Long(L(9));
        Long(hasAttributes ? r.GetInt64(10) : null);
        Long(hasAttributes ? r.GetInt64(11) : null);
        Long(hasAttributes ? r.GetInt64(12) : null);
        Long(hasAttributes ? r.GetInt64(13) : null);
        Long(hasAttributes ? r.GetInt64(14) : null);
        Long(r.GetInt64(15));
        Text(S(16));
        Long(L(17));
        var prevHash = (byte[])r.GetValue(18);
        Long(prevHash.Length);
        b.AddRange(prevHash);
        return SHA256.HashData(b.ToArray());
    }
}
