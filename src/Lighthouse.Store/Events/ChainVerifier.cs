using Lighthouse.Store.Sqlite;
using Microsoft.Data.Sqlite;

namespace Lighthouse.Store.Events;

/// <summary>Walks the log in order: sequence numbers without gaps, each prev_hash = the previous hash, each hash recomputed.</summary>
internal static class ChainVerifier
{
    /// <summary>The whole chain, from the first event.</summary>
    public static VerifyResult Verify(Database db) => Verify(db, tail: null);

    /// <summary>
    /// The last <paramref name="tail"/> events only (all of them when null): each is checked as <see cref="Verify(Database)"/>
    /// checks it, and the first of them must link to the stored hash of the event before it (which is itself not rechecked).
    /// One read transaction, so a writer committing meanwhile does not move the end being checked.
    /// </summary>
    public static VerifyResult Verify(Database db, int? tail)
    {
        if (tail is < 0) throw new ArgumentOutOfRangeException(nameof(tail), tail, "the number of events to check cannot be negative");
        long expected = 1, checkedCount = 0, lastGood = 0;
        var prev = EventCodec.GenesisHash;
        try
        {
            using var c = db.OpenReader();
            using var t = c.BeginTransaction(deferred: true);
            SqliteCommand Command(string sql, long arg)
            {
                var cmd = c.CreateCommand();
                cmd.Transaction = t;
                cmd.CommandText = sql;
                cmd.Parameters.AddWithValue("$a", arg);
                return cmd;
            }
            if (tail is { } count)
            {
                long last;
                using (var max = Command("SELECT coalesce(max(seq), 0) FROM events WHERE seq >= $a", 0)) last = (long)max.ExecuteScalar()!;
                expected = Math.Max(1, last - count + 1);
                if (expected > 1)
                {
                    using var before = Command("SELECT hash FROM events WHERE seq = $a", expected - 1);
                    if (before.ExecuteScalar() is not byte[] hash)
                        return new VerifyResult(false, 0, 0, expected - 1, $"event @{expected - 1} is missing");
                    prev = hash;
                    lastGood = expected - 1;
                }
            }
            using var select = Command($"SELECT {EventCodec.Columns} FROM events WHERE seq >= $a ORDER BY seq", expected);
            using var r = select.ExecuteReader();
            while (r.Read())
            {
                StoreEvent e;
                try
                {
                    e = EventCodec.Read(r, db.LegacyOwner);
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
