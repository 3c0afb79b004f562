using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Data.Sqlite;

namespace Lighthouse.Store.Events;

/// <summary>Maps events to rows and computes the hash chain: hash = SHA-256(prev_hash ‖ canonical encoding).</summary>
internal static class EventCodec
{
    public const string Columns =
        "seq, time_ticks, agent, op, path, path2, file_id, before_version, after_version, other_file_id, " +
        "kind, size, mode, mtime_ns, inode, content_state, content_hash, point, prev_hash, hash, uid, gid, rdev, dir_mtime_ns, dir2_mtime_ns, agent_via, detail";

    public static readonly byte[] GenesisHash = new byte[32];

    public static string OpName(EventOp op) => EventOpNames.Name(op);

    public static EventOp ParseOp(string name) =>
        EventOpNames.TryParse(name, out var op) ? op : throw new StoreException($"unknown operation '{name}' in the event log");

    // The encoding buffer of each thread (the writer hashes every event it appends): no allocation per event.
    [ThreadStatic] private static ArrayBufferWriterLite? t_buffer;

    /// <summary>Format 1 (schema 1) encodes the fields up to prev_hash; format 2 appends, for an event with attributes,
    /// a format marker and uid, gid, rdev; format 3 then appends, for an event that carries directory modification times,
    /// its own marker and the two times; format 4, for an event that says how its agent was identified or carries a detail (a denial), its
    /// marker, that word and the detail — so events written before an upgrade still verify.</summary>
    public static byte[] ComputeHash(StoreEvent e)
    {
        var buffer = t_buffer ??= new ArrayBufferWriterLite(256);
        buffer.Clear();
        buffer.Long(e.Seq);
        buffer.Long(e.TimeUtc.Ticks);
        buffer.Text(e.Agent);
        buffer.Text(OpName(e.Op));
        buffer.Text(e.Path);
        buffer.Text(e.Path2);
        buffer.Long(e.FileId);
        buffer.Long(e.BeforeVersion);
        buffer.Long(e.AfterVersion);
        buffer.Long(e.OtherFileId);
        buffer.Long(e.Attributes is null ? null : (long)e.Attributes.Kind);
        buffer.Long(e.Attributes?.Size);
        buffer.Long(e.Attributes?.Mode);
        buffer.Long(e.Attributes?.MtimeNs);
        buffer.Long(e.Attributes?.Inode);
        buffer.Long((long)e.ContentState);
        buffer.Text(e.ContentHash);
        buffer.Long(e.Point);
        buffer.Bytes(e.PrevHash);
        if (e.Attributes is { } a && e.Format >= 2)
        {
            buffer.Long(2);
            buffer.Long(a.Uid);
            buffer.Long(a.Gid);
            buffer.Long(a.Rdev);
        }
        if (e.DirMtimeNs is not null || e.Dir2MtimeNs is not null)
        {
            buffer.Long(3);
            buffer.Long(e.DirMtimeNs);
            buffer.Long(e.Dir2MtimeNs);
        }
        if (e.AgentVia is not null || e.Detail is not null)
        {
            buffer.Long(4);
            buffer.Text(e.AgentVia);
            buffer.Text(e.Detail);
        }
        return SHA256.HashData(buffer.Written);
    }

    public static void Insert(Sqlite.RawStatement insert, StoreEvent e)
    {
        var a = e.Attributes;
        var owned = e.Format >= 2 ? a : null; // a format-1 event keeps no owner, as it was written
        insert.Bind(1, e.Seq).Bind(2, e.TimeUtc.Ticks).Bind(3, e.Agent).Bind(4, OpName(e.Op)).Bind(5, e.Path).Bind(6, e.Path2)
            .Bind(7, e.FileId).Bind(8, e.BeforeVersion).Bind(9, e.AfterVersion).Bind(10, e.OtherFileId)
            .Bind(11, a is null ? null : (long)a.Kind).Bind(12, a?.Size).Bind(13, a?.Mode).Bind(14, a?.MtimeNs).Bind(15, a?.Inode)
            .Bind(16, (long)e.ContentState).Bind(17, e.ContentHash).Bind(18, e.Point).Bind(19, e.PrevHash).Bind(20, e.Hash)
            .Bind(21, owned?.Uid).Bind(22, owned?.Gid).Bind(23, owned?.Rdev).Bind(24, e.DirMtimeNs).Bind(25, e.Dir2MtimeNs).Bind(26, e.AgentVia).Bind(27, e.Detail)
            .Execute();
    }

    public static Sqlite.RawStatement PrepareInsert(SqliteConnection connection) =>
        new(connection, $"INSERT INTO events({Columns}) VALUES({string.Join(", ", Enumerable.Range(1, 27).Select(i => "?" + i))})");

    /// <summary>Reads a row selected with <see cref="Columns"/>; an event of schema 1 reads as owned by <paramref name="legacyOwner"/>.</summary>
    public static StoreEvent Read(SqliteDataReader r, (long Uid, long Gid) legacyOwner)
    {
        NodeAttributes? attrs = r.IsDBNull(10) ? null : Sqlite.Schema.ReadAttributes(r, 10, 20, legacyOwner);
        return new StoreEvent(
            r.GetInt64(0),
            new DateTime(r.GetInt64(1), DateTimeKind.Utc),
            r.GetString(2),
            ParseOp(r.GetString(3)),
            r.GetString(4),
            r.IsDBNull(5) ? null : r.GetString(5),
            r.GetInt64(6),
            r.IsDBNull(7) ? null : r.GetInt64(7),
            r.IsDBNull(8) ? null : r.GetInt64(8),
            r.IsDBNull(9) ? null : r.GetInt64(9),
            attrs,
            (ContentState)r.GetInt32(15),
            r.IsDBNull(16) ? null : r.GetString(16),
            r.IsDBNull(17) ? null : r.GetInt64(17),
            (byte[])r.GetValue(18),
            (byte[])r.GetValue(19),
            attrs is not null && r.IsDBNull(20) ? 1 : StoreEvent.CurrentFormat,
            r.IsDBNull(23) ? null : r.GetInt64(23),
            r.IsDBNull(24) ? null : r.GetInt64(24),
            r.IsDBNull(25) ? null : r.GetString(25),
            r.IsDBNull(26) ? null : r.GetString(26));
    }

    /// <summary>A tiny growable buffer for the canonical encoding (length-prefixed, null-marked fields).</summary>
    private sealed class ArrayBufferWriterLite(int capacity)
    {
        private byte[] _data = new byte[capacity];
        private int _length;

        public ReadOnlySpan<byte> Written => _data.AsSpan(0, _length);

        public void Clear() => _length = 0;

        private Span<byte> Take(int n)
        {
            if (_length + n > _data.Length) Array.Resize(ref _data, Math.Max(_data.Length * 2, _length + n));
            var span = _data.AsSpan(_length, n);
            _length += n;
            return span;
        }

        public void Long(long? value)
        {
            Take(1)[0] = value.HasValue ? (byte)1 : (byte)0;
            if (value.HasValue) BinaryPrimitives.WriteInt64LittleEndian(Take(8), value.Value);
        }

        public void Text(string? value)
        {
            if (value is null) { Long(null); return; }
            var count = Encoding.UTF8.GetByteCount(value);
            Long(count);
            Encoding.UTF8.GetBytes(value, Take(count));
        }

        public void Bytes(byte[] value)
        {
            Long(value.Length);
            value.CopyTo(Take(value.Length));
        }
    }
}
