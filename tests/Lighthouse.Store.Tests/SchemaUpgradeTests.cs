using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Lighthouse.Interop;
using Lighthouse.Store;
using Lighthouse.Store.Testing;
using Microsoft.Data.Sqlite;

namespace Lighthouse.Store.Tests;

/// <summary>A store written by an older Lighthouse (schema 1 or 2) is upgraded in place and keeps its history and its hash
/// chain; a store of a newer schema is refused and left as it is.</summary>
public sealed class SchemaUpgradeTests : IDisposable
{
    private readonly TempProject _p = new();
    private static readonly StoreOptions NoReconcile = new() { Durability = Durability.Normal, FsyncObjects = false, ReconcileOnOpen = false };

    public void Dispose() => _p.Dispose();

    [Fact]
    public void A_schema_1_store_is_upgraded_in_place_keeps_its_history_and_its_chain_verifies()
    {
        _p.Write("a.txt", "baseline bytes");
        Assert.Equal(0, Libc.Mknod(_p.Abs("pipe"), 0x1000 | 0x1a4, 0));
        var (last, before) = RecordThenWriteAsOlderSchema(1, store =>
        {
            store.CaptureBeforeModify("builder", "a.txt");
            File.WriteAllText(_p.Abs("a.txt"), "rewritten");
            store.CaptureOnClose("builder", "a.txt");
            File.SetUnixFileMode(_p.Abs("a.txt"), UnixFileMode.UserRead | UnixFileMode.UserWrite);
            store.RecordSetAttributes("builder", "a.txt");
        });

        var owner = NodeAttributes.Of(_p.Dir)!;
        using (var store = ProjectStore.Open(_p.Dir, NoReconcile))
        {
            var verified = store.Verify();
            Assert.True(verified.Ok, verified.ToString());
            Assert.Equal(last, store.LastSeq);
            Assert.Equal(before, Views(store, last));
            Assert.Equal("before-upgrade", Assert.Single(store.Snapshots()).Name);
            Assert.All(store.EventsAfter(0), e => Assert.Equal(e.Attributes is null ? StoreEvent.CurrentFormat : 1, e.Format));
            var a = store.Attributes("a.txt", StorePoint.Latest).Attributes;
            Assert.Equal((owner.Uid, owner.Gid, 0L), (a.Uid, a.Gid, a.Rdev));
            Assert.Equal(FileKind.Other, store.Attributes("pipe", StorePoint.Latest).Kind);
            Assert.True(store.RebuildIndex().AgreedWithPrevious);

            File.SetUnixFileMode(_p.Abs("a.txt"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);
            var chmod = store.RecordSetAttributes("builder", "a.txt")!;
            Assert.Equal(StoreEvent.CurrentFormat, chmod.Format);
            Assert.Equal((owner.Uid, owner.Gid), (chmod.Attributes!.Uid, chmod.Attributes.Gid));
            Assert.True(store.Verify().Ok);
        }
        Assert.Equal([("schema_version", "5"), ("legacy_uid", owner.Uid.ToString()), ("legacy_gid", owner.Gid.ToString())],
            Query(_p.Dir, "SELECT key, value FROM meta WHERE key IN ('schema_version', 'legacy_uid', 'legacy_gid') ORDER BY key DESC"));

        using (var store = ProjectStore.Open(_p.Dir, TempProject.Fast))
        {
            // Reconciliation gives the special file recorded as "other" its exact kind; the past stays as it was.
            Assert.Equal(FileKind.Fifo, store.Attributes("pipe", StorePoint.Latest).Kind);
            Assert.Equal(before, Views(store, last));
            Assert.True(store.Verify().Ok);
        }
        using (var reader = ProjectStore.OpenReadOnly(_p.Dir, NoReconcile))
        {
            Assert.True(reader.Verify().Ok);
            Assert.Equal(0x1a0, reader.Attributes("a.txt", StorePoint.Latest).Attributes.Mode);
            Assert.Equal(owner.Uid, reader.Attributes("a.txt", last).Attributes.Uid);
        }

        // An owner added to an event written before the upgrade does not match its hash.
        StoreTampering.AlterEvent(_p.Dir, 2, e => e with { Format = StoreEvent.CurrentFormat });
        using (var reader = ProjectStore.OpenReadOnly(_p.Dir, NoReconcile))
            Assert.Equal(2, reader.Verify().FirstBrokenSeq);
    }

    [Fact]
    public void A_schema_2_store_is_upgraded_in_place_and_its_directories_show_their_own_times_until_their_entries_change()
    {
        _p.Write("a.txt", "baseline bytes");
        var (last, before) = RecordThenWriteAsOlderSchema(2, _ => { });

        long d;
        StoreEvent created;
        using (var store = ProjectStore.Open(_p.Dir, NoReconcile))
        {
            var verified = store.Verify();
            Assert.True(verified.Ok, verified.ToString());
            Assert.Equal(before, Views(store, last));
            Assert.All(store.EventsAfter(0), e => Assert.Equal((null, null), (e.DirMtimeNs, e.Dir2MtimeNs)));
            // Recorded without directory times: a directory shows its own version's mtime, as before the upgrade.
            d = store.LookupPath("d", last)!.FileId;
            Assert.Equal(store.AttributesOf(d, last)!.Attributes.MtimeNs, store.DirectoryMtime(d, last));
            Assert.True(store.RebuildIndex().AgreedWithPrevious);

            Thread.Sleep(15);
            _p.Write("d/c.txt", "after the upgrade");
            created = store.RecordCreate("builder", "d/c.txt");
            Assert.Equal(NodeAttributes.Of(_p.Abs("d"))!.MtimeNs, created.DirMtimeNs);
            Assert.Equal(created.DirMtimeNs, store.DirectoryMtime(d, StorePoint.Latest));
            Assert.True(store.Verify().Ok);
        }
        Assert.Equal([("schema_version", "5")], Query(_p.Dir, "SELECT key, value FROM meta WHERE key = 'schema_version'"));
        using var reader = ProjectStore.OpenReadOnly(_p.Dir, NoReconcile);
        Assert.True(reader.Verify().Ok);
        Assert.Equal(before, Views(reader, last));
        Assert.Equal(created.DirMtimeNs, reader.DirectoryMtime(d, StorePoint.Latest));
    }

    [Fact]
    public void A_schema_4_store_gains_how_each_agent_was_identified_and_its_old_events_still_verify()
    {
        _p.Write("a.txt", "one");
        using (var store = ProjectStore.Open(_p.Dir, NoReconcile))
        {
            store.CaptureBeforeModify("builder", "a.txt"); // a plain name: no provenance, hashed as before schema 5
            File.WriteAllText(_p.Abs("a.txt"), "two");
            store.CaptureOnClose("builder", "a.txt");
        }
        // What schema 4 had: no agent_via column, and every event hashed without it.
        Query(_p.Dir, "UPDATE events SET agent_via = NULL");
        Assert.Empty(Query(_p.Dir, "SELECT seq, hash FROM events WHERE agent_via IS NOT NULL"));
        using (var c = Connect(_p.Dir))
        {
            Exec(c, null, "ALTER TABLE events DROP COLUMN agent_via");
            Exec(c, null, "ALTER TABLE events DROP COLUMN detail");
            Exec(c, null, "UPDATE meta SET value = '4' WHERE key = 'schema_version'");
        }
        // Baseline and init events were written with a provenance: rehash the chain as schema 4 would have it.
        RehashWithoutProvenance(_p.Dir);

        using (var store = ProjectStore.Open(_p.Dir, NoReconcile))
        {
            Assert.True(store.Verify().Ok);
            File.WriteAllText(_p.Abs("a.txt"), "three");
            var e = store.CaptureOnClose(new Actor("builder", AgentVia.Token), "a.txt")!;
            Assert.Equal(AgentVia.Token, e.AgentVia);
            var verified = store.Verify();
            Assert.True(verified.Ok, verified.ToString());
            var log = store.Log(new LogQuery { Limit = 10 }).Events;
            Assert.Equal(AgentVia.Token, log.Single(x => x.Seq == e.Seq).AgentVia);
            Assert.All(log.Where(x => x.Seq < e.Seq), x => Assert.Null(x.AgentVia));
        }
        Assert.Equal([("schema_version", "5")], Query(_p.Dir, "SELECT key, value FROM meta WHERE key = 'schema_version'"));
        // Changing how an event's agent was identified breaks the chain: the word is hashed.
        Query(_p.Dir, "UPDATE events SET agent_via = 'uid' WHERE agent_via = 'token'");
        using var reader = ProjectStore.OpenReadOnly(_p.Dir, NoReconcile);
        Assert.False(reader.Verify().Ok);
    }

    /// <summary>Recomputes every event's chain hash as schema 4 did: without a provenance (the column is gone).</summary>
    private static void RehashWithoutProvenance(string projectDir)
    {
        using var c = Connect(projectDir);
        using var t = c.BeginTransaction();
        var events = new List<StoreEvent>();
        using (var select = Command(c, t, $"SELECT {Lighthouse.Store.Events.EventCodec.Columns.Replace(", agent_via, detail", ", NULL, NULL")} FROM events ORDER BY seq"))
        using (var r = select.ExecuteReader())
            while (r.Read()) events.Add(Lighthouse.Store.Events.EventCodec.Read(r, (0, 0)));
        var prev = new byte[32];
        foreach (var e in events)
        {
            var hash = Lighthouse.Store.Events.EventCodec.ComputeHash(e with { PrevHash = prev, AgentVia = null });
            Exec(c, t, "UPDATE events SET prev_hash = $a, hash = $b WHERE seq = $c", prev, hash, e.Seq);
            prev = hash;
        }
        t.Commit();
    }

    [Fact]
    public void A_store_of_a_newer_schema_is_refused_and_left_untouched()
    {
        _p.Write("a.txt", "x");
        _p.Open().Dispose();
        Query(_p.Dir, "UPDATE meta SET value = '6' WHERE key = 'schema_version'");
        var file = ProjectStore.DatabaseFile(_p.Dir);
        var bytes = File.ReadAllBytes(file);

        var writing = Assert.Throws<StoreException>(() => ProjectStore.Open(_p.Dir, TempProject.Fast));
        var reading = Assert.Throws<StoreException>(() => ProjectStore.OpenReadOnly(_p.Dir, TempProject.Fast));

        Assert.Contains("schema version 6", writing.Message);
        Assert.Contains("newer Lighthouse", writing.Message);
        Assert.Contains("newer Lighthouse", reading.Message);
        Assert.Equal(bytes, File.ReadAllBytes(file));
    }

    /// <summary>
    /// Records a little history (b.txt created and moved into a new directory d, then <paramref name="more"/>, then a snapshot),
    /// rewrites the store as schema <paramref name="schema"/> stored it, and checks that a read-only open refuses it.
    /// Returns the last event and every point's tree as the store showed them before.
    /// </summary>
    private (long Last, List<string> Before) RecordThenWriteAsOlderSchema(int schema, Action<ProjectStore> more)
    {
        long last;
        List<string> before;
        using (var store = _p.Open())
        {
            _p.Write("b.txt", "created");
            store.RecordCreate("builder", "b.txt");
            Directory.CreateDirectory(_p.Abs("d"));
            store.RecordCreate("builder", "d");
            File.Move(_p.Abs("b.txt"), _p.Abs("d/b.txt"));
            store.RecordRename("builder", "b.txt", "d/b.txt");
            more(store);
            store.CreateSnapshot("builder", "before-upgrade");
            last = store.LastSeq;
            before = Views(store, last);
        }
        WriteAsOlderSchema(_p.Dir, schema);
        var refused = Assert.Throws<StoreException>(() => ProjectStore.OpenReadOnly(_p.Dir, NoReconcile));
        Assert.Contains($"schema version {schema}", refused.Message);
        return (last, before);
    }

    /// <summary>Every point's tree as text: path, file id, kind (exact special kinds read as "other", as schema 1 had
    /// them), size, mode, and the bytes or why there are none.</summary>
    private static List<string> Views(ProjectStore store, long last) => Enumerable.Range(1, (int)last).Select(seq =>
        $"@{seq}: " + string.Join(" | ", TreeReader.Read(store, seq).Keys.Select(path =>
        {
            var v = store.Attributes(path, seq);
            var content = store.Content(path, seq);
            var kind = v.Kind > FileKind.Other ? FileKind.Other : v.Kind;
            var bytes = content.IsAvailable ? Encoding.UTF8.GetString(store.ReadAllBytes(path, seq)) : content.State.ToString();
            return $"{path} #{v.FileId} {kind} {v.Size} {Convert.ToString(v.Attributes.Mode, 8)} {bytes}";
        }))).ToList();

    /// <summary>
    /// Rewrites a store as an older schema stored it, each hash computed as that schema computed it — written out here
    /// again, so a change of that encoding in the store shows. Schema 2: no directory times. Schema 1: no uid/gid/rdev
    /// columns either, and special files of kind 4 ("other").
    /// </summary>
    private static void WriteAsOlderSchema(string projectDir, int schema)
    {
        using var c = Connect(projectDir);
        using var t = c.BeginTransaction();
        if (schema == 1)
            Exec(c, t, "UPDATE events SET kind = 4 WHERE kind > 4; UPDATE versions SET kind = 4 WHERE kind > 4; UPDATE entries SET kind = 4 WHERE kind > 4");
        var rows = new List<object?[]>();
        using (var select = Command(c, t, "SELECT seq, time_ticks, agent, op, path, path2, file_id, before_version, after_version, other_file_id, " +
                   "kind, size, mode, mtime_ns, inode, content_state, content_hash, point" + (schema == 2 ? ", uid, gid, rdev" : "") + " FROM events ORDER BY seq"))
        using (var r = select.ExecuteReader())
            while (r.Read())
                rows.Add(Enumerable.Range(0, r.FieldCount).Select(i => r.IsDBNull(i) ? null : r.GetValue(i)).ToArray());
        var prev = new byte[32];
        foreach (var row in rows)
        {
            var hash = OlderSchemaHash(row, prev);
            Exec(c, t, "UPDATE events SET prev_hash = $a, hash = $b WHERE seq = $c", prev, hash, row[0]!);
            prev = hash;
        }
        if (schema == 1)
            foreach (var table in new[] { "events", "versions" })
                foreach (var column in new[] { "uid", "gid", "rdev" })
                    Exec(c, t, $"ALTER TABLE {table} DROP COLUMN {column}");
        foreach (var column in new[] { "dir_mtime_ns", "dir2_mtime_ns" })
            Exec(c, t, $"ALTER TABLE events DROP COLUMN {column}");
        Exec(c, t, "ALTER TABLE events DROP COLUMN agent_via");
        Exec(c, t, "ALTER TABLE events DROP COLUMN detail");
        Exec(c, t, $"UPDATE meta SET value = '{schema}' WHERE key = 'schema_version'");
        t.Commit();
    }

    /// <summary>Schema 1's hash: SHA-256 of the columns up to point in order (a null as 0; a number as 1 and 8 bytes
    /// little-endian; text as its UTF-8 length then bytes), then prev_hash (length, bytes). Schema 2's (a row with uid, gid,
    /// rdev after point): for an event with attributes, then 2, uid, gid, rdev.</summary>
    private static byte[] OlderSchemaHash(object?[] row, byte[] prev)
    {
        var buffer = new List<byte>();
        void Long(long? value)
        {
            buffer.Add(value.HasValue ? (byte)1 : (byte)0);
            if (!value.HasValue) return;
            var bytes = new byte[8];
            BinaryPrimitives.WriteInt64LittleEndian(bytes, value.Value);
            buffer.AddRange(bytes);
        }
        void Bytes(byte[] bytes)
        {
            Long(bytes.Length);
            buffer.AddRange(bytes);
        }
        const int Point = 17, Kind = 10;
        for (var i = 0; i <= Point; i++)
        {
            if (row[i] is string text) Bytes(Encoding.UTF8.GetBytes(text));
            else Long(row[i] is null ? null : Convert.ToInt64(row[i]));
        }
        Bytes(prev);
        if (row.Length > Point + 1 && row[Kind] is not null)
            foreach (var value in new[] { 2, row[Point + 1], row[Point + 2], row[Point + 3] })
                Long(Convert.ToInt64(value));
        return SHA256.HashData(buffer.ToArray());
    }

    private static SqliteConnection Connect(string projectDir)
    {
        var c = new SqliteConnection($"Data Source={ProjectStore.DatabaseFile(projectDir)};Pooling=False");
        c.Open();
        return c;
    }

    private static SqliteCommand Command(SqliteConnection c, SqliteTransaction? t, string sql, params object[] args)
    {
        var cmd = c.CreateCommand();
        cmd.Transaction = t;
        cmd.CommandText = sql;
        for (var i = 0; i < args.Length; i++) cmd.Parameters.AddWithValue("$" + (char)('a' + i), args[i]);
        return cmd;
    }

    private static void Exec(SqliteConnection c, SqliteTransaction? t, string sql, params object[] args)
    {
        using var cmd = Command(c, t, sql, args);
        cmd.ExecuteNonQuery();
    }

    /// <summary>Runs SQL on the database; returns the rows of two text columns, if any.</summary>
    private static List<(string, string)> Query(string projectDir, string sql)
    {
        using var c = Connect(projectDir);
        using var cmd = Command(c, null, sql);
        using var r = cmd.ExecuteReader();
        var rows = new List<(string, string)>();
        while (r.Read()) rows.Add((r.GetString(0), r.GetString(1)));
        return rows;
    }
}
