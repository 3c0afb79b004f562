using Lighthouse.Store.Events;
using Lighthouse.Store.Sqlite;

namespace Lighthouse.Store.Testing;

/// <summary>
/// TEST SUPPORT ONLY: damages a SQLite store's event log on purpose, so tests (of the store, of <c>lighthouse verify</c>
/// and <c>status</c>) can check that the hash chain catches it, without knowing the database's file name or schema.
/// Never call this from product code: the damage is permanent (that is the point).
/// Call it while no process has the store open for writing.
/// </summary>
public static class StoreTampering
{
    /// <summary>
    /// Rewrites the stored event <paramref name="seq"/> with the fields <paramref name="change"/> returns, keeping its stored
    /// hashes: the event then no longer matches its hash (<see cref="IProjectStore.Verify"/> reports it as altered).
    /// Only the fields that are not the sequence number or hashes can be changed. The index is left as it was.
    /// </summary>
    public static void AlterEvent(string projectDir, long seq, Func<StoreEvent, StoreEvent> change)
    {
        var db = OpenDatabase(projectDir);
        try
        {
            using var c = db.OpenReader();
            StoreEvent original;
            using (var select = c.CreateCommand())
            {
                select.CommandText = $"SELECT {EventCodec.Columns} FROM events WHERE seq = $seq";
                select.Parameters.AddWithValue("$seq", seq);
                using var r = select.ExecuteReader();
                if (!r.Read()) throw new PointNotFoundException($"event @{seq} does not exist");
                original = EventCodec.Read(r, db.LegacyOwner);
            }
            var altered = change(original) with { Seq = original.Seq, PrevHash = original.PrevHash, Hash = original.Hash };
            using var t = c.BeginTransaction();
            using (var delete = c.CreateCommand())
            {
                delete.Transaction = t;
                delete.CommandText = "DELETE FROM events WHERE seq = $seq";
                delete.Parameters.AddWithValue("$seq", seq);
                delete.ExecuteNonQuery();
            }
            using (var insert = EventCodec.PrepareInsert(c)) EventCodec.Insert(insert, altered);
            t.Commit();
        }
        finally
        {
            db.ClearReaderPool();
        }
    }

    /// <summary>Deletes the stored event <paramref name="seq"/>, leaving a gap in the chain (<see cref="IProjectStore.Verify"/> reports it missing).</summary>
    public static void RemoveEvent(string projectDir, long seq)
    {
        var db = OpenDatabase(projectDir);
        try
        {
            using var c = db.OpenReader();
            using var delete = c.CreateCommand();
            delete.CommandText = "DELETE FROM events WHERE seq = $seq";
            delete.Parameters.AddWithValue("$seq", seq);
            if (delete.ExecuteNonQuery() == 0) throw new PointNotFoundException($"event @{seq} does not exist");
        }
        finally
        {
            db.ClearReaderPool();
        }
    }

    private static Database OpenDatabase(string projectDir)
    {
        if (!ProjectStore.Exists(projectDir)) throw new StoreException($"{projectDir} has no Lighthouse store");
        return new Database(ProjectStore.DatabaseFile(Path.TrimEndingDirectorySeparator(Path.GetFullPath(projectDir))));
    }
}
