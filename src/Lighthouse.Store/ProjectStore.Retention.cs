using Lighthouse.Store.Retention;

namespace Lighthouse.Store;

// Retention, garbage collection and what the store takes on disk.
public sealed partial class ProjectStore
{
    /// <summary>The project's retention policy (<c>.lighthouse/retention.json</c>, or the default).</summary>
    public RetentionPolicy Retention => RetentionPolicy.Load(StateDir);

    /// <summary>Thins old versions by <paramref name="policy"/> (the project's when null) and removes what nothing refers to
    /// any more; with <paramref name="dryRun"/>, only says what it would do. Safe while the store records.
    /// <paramref name="progress"/> is told each phase as it starts.</summary>
    public GcReport CollectGarbage(RetentionPolicy? policy = null, bool dryRun = false, DateTime? now = null, Action<string>? progress = null)
    {
        var p = policy ?? Retention;
        try
        {
            return new GarbageCollector(this).Run(p, dryRun, now, progress);
        }
        catch (StoreFullException e)
        {
            // Its transaction rolled back whole: nothing was thinned or removed.
            throw new StoreFullException("collecting garbage (nothing was thinned or removed; free some space and run it again)", e);
        }
        catch (Exception e)
        {
            throw _db.Translate(e, "collecting garbage");
        }
    }

    /// <summary>Size of the database and its write-ahead log on disk.</summary>
    internal long DatabaseFileBytes()
    {
        long n = 0;
        foreach (var f in new[] { _db.FilePath, _db.FilePath + "-wal" })
            if (new FileInfo(f) is { Exists: true } i) n += i.Length;
        return n;
    }

    /// <summary>What the store takes and what it keeps: see <see cref="StoreUsage"/>.</summary>
    public StoreUsage Usage(int largest = 10)
    {
        using var s = Read();
        long Scalar(string sql, params object?[] args)
        {
            using var cmd = s.Command(sql, args);
            return cmd.ExecuteScalar() is long v ? v : 0;
        }
        var pageSize = Scalar("PRAGMA page_size");
        var free = Scalar("PRAGMA freelist_count") * pageSize;
        long chunks = 0, raw = 0, stored = 0, blobs = 0, blobBytes = 0;
        using (var cmd = s.Command("SELECT count(*), coalesce(sum(size), 0), coalesce(sum(length(data)), 0) FROM chunks"))
        using (var r = cmd.ExecuteReader())
            if (r.Read()) (chunks, raw, stored) = (r.GetInt64(0), r.GetInt64(1), r.GetInt64(2));
        using (var cmd = s.Command("SELECT count(*), coalesce(sum(size), 0) FROM blobs"))
        using (var r = cmd.ExecuteReader())
            if (r.Read()) (blobs, blobBytes) = (r.GetInt64(0), r.GetInt64(1));
        long kept = 0, keptBytes = 0, pruned = 0, metadataOnly = 0;
        using (var cmd = s.Command("SELECT content_state, count(*), coalesce(sum(size), 0) FROM versions WHERE kind = 2 GROUP BY content_state"))
        using (var r = cmd.ExecuteReader())
            while (r.Read())
                switch ((ContentState)r.GetInt32(0))
                {
                    case ContentState.Captured: kept = r.GetInt64(1); keptBytes = r.GetInt64(2); break;
                    case ContentState.Pruned: pruned = r.GetInt64(1); break;
                    default: metadataOnly += r.GetInt64(1); break;
                }
        var top = new List<FileUsage>();
        using (var cmd = s.Command("""
            SELECT file_id, count(*), sum(size) FROM versions WHERE content_state = 1 AND kind = 2
            GROUP BY file_id ORDER BY 3 DESC LIMIT $a
            """, largest))
        using (var r = cmd.ExecuteReader())
            while (r.Read()) top.Add(new FileUsage(r.GetInt64(0), "", r.GetInt64(1), r.GetInt64(2)));
        for (int i = 0; i < top.Count; i++)
        {
            var current = CurrentPathOf(s, top[i].FileId);
            using var cmd = s.Command("SELECT coalesce(path2, path) FROM events WHERE file_id = $a ORDER BY seq DESC LIMIT 1", top[i].FileId);
            top[i] = top[i] with { Path = current ?? (cmd.ExecuteScalar() as string ?? "?") + " (removed)" };
        }
        var objects = Objects.Statistics();
        return new StoreUsage(DatabaseFileBytes(), free, objects.Count, objects.Bytes, chunks, raw, stored, blobs, blobBytes,
            kept, keptBytes, pruned, metadataOnly, top);
    }
}
