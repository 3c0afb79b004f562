using System.Diagnostics;
using Lighthouse.Store.Events;
using Lighthouse.Store.Objects;
using Microsoft.Data.Sqlite;

namespace Lighthouse.Store.Retention;

/// <summary>What a garbage collection did (or, dry, would do).</summary>
public sealed record GcReport(
    bool DryRun,
    RetentionPolicy Policy,
    long VersionsPruned,
    long BytesOfVersionsPruned,
    long BlobsRemoved,
    long ChunksRemoved,
    long ChunkBytesRemoved,
    long ObjectFilesRemoved,
    long ObjectFileBytesRemoved,
    long DatabaseBytesReleased,
    long PinnedKept,
    TimeSpan Elapsed)
{
    /// <summary>Bytes of storage freed: removed chunks as stored plus removed object files.</summary>
    public long BytesFreed => ChunkBytesRemoved + ObjectFileBytesRemoved;

    /// <summary>The phases a collection announces as it goes (its progress callback), in order.</summary>
    public static IReadOnlyList<string> Phases => GarbageCollector.Phases;
}

/// <summary>
/// Thins old versions by the <see cref="RetentionPolicy"/> and removes what nothing refers to any more: blobs no kept
/// version names, chunks no kept blob lists, whole object files no kept version names.
/// <para>
/// Crash-safe by construction: everything in the database happens in one transaction of the event writer (a kill
/// before its commit leaves the store as it was, after it the store as gc left it); object files are removed only
/// after that commit, and only those that nothing referred to, so a kill in between leaves unreferenced files that the
/// next collection removes. Captures running meanwhile are safe: the pins of their chunks and blobs are respected,
/// and the pin gate is held from the moment gc decides what is unreferenced until its commit; whole object files
/// younger than <see cref="ObjectGrace"/> are left alone (a capture that finds an object already stored touches it).
/// </para>
/// </summary>
internal sealed class GarbageCollector(ProjectStore store)
{
    /// <summary>What a collection says as it goes (each may be followed by details in parentheses).</summary>
    public static readonly string[] Phases =
    [
        "thinning versions by the retention policy",
        "finding unreferenced chunks",
        "committed; removing object files",
        "giving free database pages back to the filesystem",
    ];

    /// <summary>Whole object files younger than this are never removed: their event may not have committed yet.</summary>
    public static readonly TimeSpan ObjectGrace = TimeSpan.FromHours(1);

    /// <param name="progress">Told each phase as it starts (<see cref="Phases"/>, in that order; the last two only when not dry).</param>
    public GcReport Run(RetentionPolicy policy, bool dryRun, DateTime? now = null, Action<string>? progress = null)
    {
        var sw = Stopwatch.StartNew();
        var at = now ?? DateTime.UtcNow;
        var pins = store.Chunks.Pins;
        var dbBefore = store.DatabaseFileBytes();
        List<string> deadFiles = [];
        GcReport report;
        pins.Gate.Wait();
        try
        {
            report = store.Writer.Submit(ctx =>
            {
                var c = ctx.Connection;
                progress?.Invoke(Phases[0]);
                var (pruned, prunedBytes) = Thin(c, policy, at, dryRun);
                var referenced = ReferencedHashes(c, dryRun ? pruned : null);
                referenced.Add(store.EmptyHash);
                long pinnedKept = 0, blobsRemoved = 0, chunksRemoved = 0, chunkBytes = 0;

                // Blobs no kept version names.
                var liveChunks = new HashSet<ChunkKey>();
                var deadBlobs = new List<string>();
                using (var cmd = Command(c, "SELECT hash, recipe FROM blobs"))
                using (var r = cmd.ExecuteReader())
                    while (r.Read())
                    {
                        var hash = r.GetString(0);
                        if (!referenced.Contains(hash))
                        {
                            if (pins.IsPinned(hash)) pinnedKept++;
                            else { deadBlobs.Add(hash); continue; }
                        }
                        var recipe = (byte[])r.GetValue(1);
                        for (int i = 0; i + 36 <= recipe.Length; i += 36) liveChunks.Add(new ChunkKey(recipe.AsSpan(i, 32)));
                    }
                blobsRemoved = deadBlobs.Count;
                progress?.Invoke($"{Phases[1]} ({deadBlobs.Count:N0} version lists unreferenced)");
                if (!dryRun)
                    using (var del = Command(c, "DELETE FROM blobs WHERE hash=$a", ""))
                        foreach (var hash in deadBlobs) { del.Parameters[0].Value = hash; del.ExecuteNonQuery(); }

                // Chunks no kept blob lists, and no kept chunk is stored against (its base, and the base's base…): one pass
                // over the chunks finds those no blob lists (pinned ones kept), then the bases of everything kept are kept.
                var candidates = new List<(long Id, byte[] Hash, long Bytes)>();
                using (var cmd = Command(c, "SELECT rowid, hash, length(data) FROM chunks"))
                using (var r = cmd.ExecuteReader())
                    while (r.Read())
                    {
                        var hash = (byte[])r.GetValue(1);
                        var key = new ChunkKey(hash);
                        if (liveChunks.Contains(key)) continue;
                        if (pins.IsPinned(Convert.ToHexStringLower(hash))) { pinnedKept++; liveChunks.Add(key); continue; }
                        candidates.Add((r.GetInt64(0), hash, r.GetInt64(2)));
                    }
                // A delta's bases: chunk_bases.base holds their 32-byte hashes one after the other.
                var bases = new Dictionary<ChunkKey, List<ChunkKey>>();
                using (var cmd = Command(c, "SELECT hash, base FROM chunk_bases"))
                using (var r = cmd.ExecuteReader())
                    while (r.Read())
                    {
                        var list = new List<ChunkKey>();
                        var bytes = (byte[])r.GetValue(1);
                        for (int i = 0; i + 32 <= bytes.Length; i += 32) list.Add(new ChunkKey(bytes.AsSpan(i, 32)));
                        bases[new ChunkKey((byte[])r.GetValue(0))] = list;
                    }
                var toVisit = new Stack<ChunkKey>(liveChunks);
                while (toVisit.TryPop(out var k))
                    if (bases.TryGetValue(k, out var list))
                        foreach (var b in list)
                            if (liveChunks.Add(b)) toVisit.Push(b);
                var deadChunks = candidates.Where(x => !liveChunks.Contains(new ChunkKey(x.Hash))).ToList();
                chunkBytes = deadChunks.Sum(x => x.Bytes);
                chunksRemoved = deadChunks.Count;
                if (!dryRun)
                    using (var del = Command(c, "DELETE FROM chunks WHERE rowid=$a", 0L))
                    using (var delBase = Command(c, "DELETE FROM chunk_bases WHERE hash=$a", Array.Empty<byte>()))
                        foreach (var (id, hash, _) in deadChunks)
                        {
                            del.Parameters[0].Value = id;
                            del.ExecuteNonQuery();
                            delBase.Parameters[0].Value = hash;
                            delBase.ExecuteNonQuery();
                        }

                // Whole object files (versions captured before schema 4, symlink targets, reflink clones).
                long fileBytes = 0;
                foreach (var (hash, path, size, mtime) in store.Objects.Enumerate())
                {
                    if (referenced.Contains(hash) || at - mtime < ObjectGrace) continue;
                    deadFiles.Add(path);
                    fileBytes += size;
                }
                return new GcReport(dryRun, policy, pruned.Count, prunedBytes, blobsRemoved, chunksRemoved, chunkBytes,
                    deadFiles.Count, fileBytes, 0, pinnedKept, TimeSpan.Zero);
            });
        }
        finally
        {
            pins.Gate.Release();
        }
        if (!dryRun)
        {
            // After the commit: nothing refers to these any more (a kill here leaves them for the next collection).
            progress?.Invoke($"{Phases[2]} ({deadFiles.Count:N0} object files to remove)");
            foreach (var path in deadFiles)
            {
                try { File.Delete(path); }
                catch (IOException) { /* removed by the next collection */ }
            }
            progress?.Invoke(Phases[3]);
            store.Writer.Submit(ctx => { Sqlite.Database.Exec(ctx.Connection, "PRAGMA incremental_vacuum"); return 0; });
        }
        return report with { DatabaseBytesReleased = Math.Max(0, dbBefore - store.DatabaseFileBytes()), Elapsed = sw.Elapsed };
    }

    /// <summary>Marks the versions the policy thins (unless dry): their bytes are no longer kept. Returns them and their total size.</summary>
    private static (List<long> Pruned, long Bytes) Thin(SqliteConnection c, RetentionPolicy policy, DateTime now, bool dryRun)
    {
        var snapshots = new List<long>();
        using (var cmd = Command(c, "SELECT seq FROM snapshots"))
        using (var r = cmd.ExecuteReader())
            while (r.Read()) snapshots.Add(r.GetInt64(0));

        var pruned = new List<long>();
        long bytes = 0;
        // Every version of every file, in order, with the time of the event that made it: a version is the last of its
        // hour (or day) when the next one, whatever its state, came in a later one.
        using (var cmd = Command(c, """
            SELECT v.file_id, v.from_seq, v.to_seq, v.size, e.time_ticks, v.content_state FROM versions v JOIN events e ON e.seq = v.from_seq
            WHERE v.kind = 2 ORDER BY v.file_id, v.from_seq
            """))
        using (var r = cmd.ExecuteReader())
        {
            long file = -1;
            var rows = new List<(long From, long To, long Size, ContentState State)>();
            var times = new List<DateTime>();
            void Flush()
            {
                foreach (var i in policy.Thin(times, now))
                {
                    var (from, to, size, state) = rows[i];
                    // No bytes to thin (or none worth it: an empty file costs nothing); the current version.
                    if (state != ContentState.Captured || size == 0 || to == StoreConstants.Open) continue;
                    if (snapshots.Any(s => s >= from && s < to)) continue; // a snapshot shows it
                    pruned.Add(from);
                    bytes += size;
                }
                rows.Clear();
                times.Clear();
            }
            while (r.Read())
            {
                if (r.GetInt64(0) != file) { Flush(); file = r.GetInt64(0); }
                rows.Add((r.GetInt64(1), r.GetInt64(2), r.GetInt64(3), (ContentState)r.GetInt32(5)));
                times.Add(new DateTime(r.GetInt64(4), DateTimeKind.Utc));
            }
            Flush();
        }
        if (!dryRun && pruned.Count > 0)
        {
            var ticks = now.Ticks;
            using var mark = Command(c, "INSERT OR IGNORE INTO pruned(version_seq, time_ticks) VALUES($a, $b)", 0L, ticks);
            using var update = Command(c, "UPDATE versions SET content_state = 4 WHERE from_seq = $a AND content_state = 1", 0L);
            foreach (var seq in pruned)
            {
                mark.Parameters[0].Value = seq;
                mark.ExecuteNonQuery();
                update.Parameters[0].Value = seq;
                update.ExecuteNonQuery();
            }
        }
        return (pruned, bytes);
    }

    /// <summary>The content hashes kept versions name (as if <paramref name="alsoPruned"/> were pruned already: a dry run).</summary>
    private static HashSet<string> ReferencedHashes(SqliteConnection c, List<long>? alsoPruned)
    {
        var skip = alsoPruned is null ? null : new HashSet<long>(alsoPruned);
        var set = new HashSet<string>(StringComparer.Ordinal);
        using var cmd = Command(c, "SELECT from_seq, content_hash FROM versions WHERE content_state = 1 AND content_hash IS NOT NULL");
        using var r = cmd.ExecuteReader();
        while (r.Read())
            if (skip is null || !skip.Contains(r.GetInt64(0))) set.Add(r.GetString(1));
        return set;
    }

    private static SqliteCommand Command(SqliteConnection c, string sql, params object[] args)
    {
        var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        for (int i = 0; i < args.Length; i++) cmd.Parameters.AddWithValue("$" + (char)('a' + i), args[i]);
        return cmd;
    }

    /// <summary>A chunk hash as a value (32 bytes), for sets of millions without a string each.</summary>
    private readonly record struct ChunkKey(ulong A, ulong B, ulong C, ulong D)
    {
        public ChunkKey(ReadOnlySpan<byte> h) : this(BitConverter.ToUInt64(h), BitConverter.ToUInt64(h[8..]), BitConverter.ToUInt64(h[16..]), BitConverter.ToUInt64(h[24..])) { }
    }
}
