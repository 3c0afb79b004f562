using Lighthouse.Store.Sqlite;
using Microsoft.Data.Sqlite;

namespace Lighthouse.Store.Events;

/// <summary>Walks the log in order: sequence numbers without gaps, each prev_hash = the previous hash, each hash recomputed.</summary>
internal static class ChainVerifier
{
    public static VerifyResult Verify(Database db)
    {
        long expected = 1, checkedCount = 0, lastGood = 0;
        var prev = EventCodec.GenesisHash;
        try
        {
            using var c = db.OpenReader();
            using var t = c.BeginTransaction(deferred: true);
            using var cmd = c.CreateCommand();
            cmd.Transaction = t;
            cmd.CommandText = $"SELECT {EventCodec.Columns} FROM events ORDER BY seq";
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                StoreEvent e;
                try
                {
                    e = EventCodec.Read(r);
                }
                catch (Exception ex) when (ex is InvalidCastException or StoreException or FormatException)
                {
                    return new VerifyResult(false, checkedCount, lastGood, expected, $"event row cannot be decoded: {ex.Message}");
                }
                if (e.Seq != expected)
                    return new VerifyResult(false, checkedCount, lastGood, expected, $"event @{expected} is missing (next is @{e.Seq})");
                if (!e.PrevHash.AsSpan().SequenceEqual(prev))
                    return new VerifyResult(false, checkedCount, lastGood, e.Seq, "its prev_hash does not match the hash of the event before it");
                if (!EventCodec.ComputeHash(e).AsSpan().SequenceEqual(e.Hash))
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
}
