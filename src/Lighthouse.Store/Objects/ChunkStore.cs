using System.Security.Cryptography;
using Lighthouse.Interop;
using Lighthouse.Store.Sqlite;
using Microsoft.Data.Sqlite;
using Microsoft.Win32.SafeHandles;

namespace Lighthouse.Store.Objects;

/// <summary>
/// File versions as content-defined chunks (<see cref="FastCdc"/>), each stored once in the database, compressed with
/// zstd, under the BLAKE3 hash of its bytes (four times as fast as SHA-256 here: a capture also computes the SHA-256
/// of the whole file, the content hash its events carry, and hashing was most of a capture's time); a version is a <em>blob</em>: the list of its chunks (its recipe), under the
/// SHA-256 of the whole file, which is the content hash its events carry. Versions of a file share every chunk an
/// edit did not touch, and files share what they have in common. Holes (sparse files) are kept as runs of zeros,
/// never read nor stored. Every chunk read is checked against its hash: a damaged one is an error that names the file
/// and version, never other bytes.
/// <para>
/// Chunks and blobs are inserted by the event writer in the transaction of the event that names them, so a crash
/// leaves both or neither. A capture decides which chunks are new before that transaction: it <em>pins</em> every
/// chunk it counts on until the event commits, and the garbage collector, which removes unreferenced chunks in the
/// writer's thread under the pin lock, leaves pinned ones alone (<see cref="Pins"/>).
/// </para>
/// </summary>
internal sealed class ChunkStore
{
    public const byte CodecRaw = 0;
    public const byte CodecZstd = 1;
    /// <summary>zstd with the bytes of a <em>base</em> chunk as its dictionary (chunk_bases names it): a chunk of a new
    /// version stored as its difference from the chunk at the same place in the file's previous version.</summary>
    public const byte CodecZstdDelta = 2;
    /// <summary>How long a chain of deltas may grow: reading a chunk decompresses at most this many bases first.</summary>
    public const int MaxDeltaDepth = 4;
    private const int CompressionLevel = 3;
    private const int ReadBuffer = 4 << 20;
    /// <summary>New chunks a capture holds in memory before it commits them on their own (pinned until its event).</summary>
    private const int FlushBytes = 8 << 20;
    /// <summary>The hash a recipe gives a run of zeros (a hole): no chunk has it.</summary>
    internal static readonly byte[] ZeroRun = new byte[32];

    private readonly Database _db;
    private readonly Func<Func<SqliteConnection, int>, int>? _commit;

    /// <param name="commit">Runs work in the event writer's thread and transaction and waits for its commit (null when read-only).</param>
    public ChunkStore(Database db, Func<Func<SqliteConnection, int>, int>? commit)
    {
        _db = db;
        _commit = commit;
    }

    public PinTable Pins { get; } = new();

    // ------------------------------------------------------------------ capture

    /// <summary>
    /// Reads an open file from offset 0 by positional calls only (never through its file position, which the program
    /// that wrote it may share), cuts it into chunks and compresses those the store does not have. The result is
    /// inserted with the event that names it (<see cref="Insert"/>); its pins are released after that commit.
    /// </summary>
    /// <param name="findPrevious">Finds the file's version before this one, if stored as chunks (asked once, when a first chunk is new): a new chunk is stored as its
    /// difference from the chunk at the same place in it (an edit of a few bytes stores a few bytes).</param>
    public StoredBlob Capture(SafeFileHandle source, long length, string what, Func<ChunkedContent?>? findPrevious = null)
    {
        var blob = new StoredBlob(this);
        var previous = new Lazy<ChunkedContent?>(findPrevious ?? (() => null), LazyThreadSafetyMode.None);
        try
        {
            using var lookup = new ChunkLookup(_db);
            using var whole = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(ReadBuffer);
            int src = (int)source.DangerousGetHandle();
            // SEEK_DATA/SEEK_HOLE move the file position: asked of a description of our own, and only of a file with holes.
            int seeker = IsSparse(src, length) ? Libc.Open($"/proc/self/fd/{src}", Libc.O_RDONLY | Libc.O_CLOEXEC, 0) : -1;
            var run = new CaptureRun(this, blob, lookup, whole, what, previous);
            long offset = 0;
            try
            {
                while (offset < length)
                {
                    long data = seeker < 0 ? offset : Libc.Lseek(seeker, offset, Libc.SEEK_DATA);
                    if (data < 0 || data > length) data = length; // ENXIO: only a hole is left
                    if (data > offset)
                    {
                        blob.AddZeros(whole, data - offset);
                        offset = data;
                        if (offset >= length) break;
                    }
                    long end = seeker < 0 ? length : Libc.Lseek(seeker, offset, Libc.SEEK_HOLE);
                    if (end < 0 || end > length) end = length;
                    var (read, shrank) = run.ChunkExtent(source, buffer, offset, end);
                    offset += read;
                    if (shrank) break; // the file shrank while we read: the version is what was there
                }
            }
            finally
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
                if (seeker >= 0) Libc.Close(seeker);
            }
            blob.Finish(Convert.ToHexStringLower(whole.GetHashAndReset()), offset);
            return blob;
        }
        catch
        {
            blob.Release();
            throw;
        }
    }

    /// <summary>Commits a large capture's new chunks before its event, so its memory stays bounded (they stay pinned).</summary>
    private void CommitPending(StoredBlob blob, string what)
    {
        if (_commit is null) throw new StoreReadOnlyException(what);
        var pending = blob.TakePending();
        _commit(c => { InsertChunks(c, pending); return 0; });
    }

    /// <summary>A chunk's name: BLAKE3-256 of its raw bytes.</summary>
    public static byte[] ChunkHash(ReadOnlySpan<byte> chunk)
    {
        var hash = new byte[32];
        Blake3.Hasher.Hash(chunk, hash);
        return hash;
    }

    /// <summary>One capture under way: the version being built, the whole-file hash, the lookups it makes and the
    /// previous version its new chunks may be stored against.</summary>
    private sealed class CaptureRun(ChunkStore store, StoredBlob blob, ChunkLookup lookup, IncrementalHash whole, string what,
        Lazy<ChunkedContent?> previous)
    {
        /// <summary>Chunks the bytes of [<paramref name="start"/>, <paramref name="end"/>): how many were read, and whether the file ended first.</summary>
        public (long Read, bool Shrank) ChunkExtent(SafeFileHandle source, byte[] buffer, long start, long end)
        {
            long readAt = start, consumed = 0;
            int filled = 0;
            bool eof = false;
            while (true)
            {
                while (filled < buffer.Length && readAt < end)
                {
                    var n = RandomAccess.Read(source, buffer.AsSpan(filled, (int)Math.Min(buffer.Length - filled, end - readAt)), readAt);
                    if (n == 0) { eof = true; break; }
                    filled += n;
                    readAt += n;
                }
                bool final = eof || readAt >= end;
                int at = 0;
                while (at < filled)
                {
                    int cut = FastCdc.NextCut(buffer.AsSpan(at, filled - at), final);
                    if (cut <= 0) break;
                    AddChunk(buffer.AsSpan(at, cut));
                    at += cut;
                }
                consumed += at;
                Buffer.BlockCopy(buffer, at, buffer, 0, filled - at);
                filled -= at;
                if (final && filled == 0) return (consumed, eof);
            }
        }

        private void AddChunk(ReadOnlySpan<byte> chunk)
        {
            var start = blob.Offset;
            whole.AppendData(chunk);
            // Runs of one repeated byte come again and again (zeros written out, fill patterns): a run of zeros is kept as
            // one (no chunk at all), and another run's hash is computed once per capture.
            byte[] hash;
            if (chunk.Length == FastCdc.MaxSize && chunk.IndexOfAnyExcept(chunk[0]) < 0)
            {
                if (chunk[0] == 0) { blob.AddZeroRun(chunk.Length); return; }
                hash = blob.UniformHash(chunk[0], chunk);
            }
            else hash = ChunkHash(chunk);
            if (!blob.AddChunk(hash, chunk.Length)) return; // met before in this capture (and pinned then)
            if (lookup.Has(hash)) return;
            (byte Codec, byte[] Data)? alone = null;
            if (previous.Value?.BasesFor(start, chunk.Length) is { Count: > 0 } bases && TryDelta(previous.Value, bases, chunk, out alone) is { } delta)
                blob.AddNewChunk(hash, chunk.Length, CodecZstdDelta, delta.Data, delta.Bases, delta.Depth);
            else
            {
                var (codec, data) = alone ?? Compress(chunk);
                blob.AddNewChunk(hash, chunk.Length, codec, data);
            }
            if (blob.PendingBytes >= FlushBytes) store.CommitPending(blob, what);
        }

        /// <summary>The chunk as its difference from the chunks of the previous version that covered the same bytes of the file
        /// (up to <see cref="ChunkedContent.MaxBases"/>, their bytes one after the other as zstd's dictionary); null when the
        /// chain would grow too long or the difference is not small enough to be worth one.</summary>
        /// <param name="alone">The chunk compressed on its own, when that was computed to compare.</param>
        private (byte[] Data, byte[] Bases, int Depth)? TryDelta(ChunkedContent previous, List<(int Index, byte[] Hash)> bases, ReadOnlySpan<byte> chunk,
            out (byte Codec, byte[] Data)? alone)
        {
            alone = null;
            int depth = 0;
            foreach (var (_, baseHash) in bases)
            {
                // A base must outlive this capture's commit: pinned (before it is looked at) like the chunks the capture counts on.
                blob.Pin(baseHash);
                var d = lookup.Depth(baseHash);
                if (d is null or >= MaxDeltaDepth) return null; // gone, or its chain is long enough
                depth = Math.Max(depth, d.Value);
            }
            // The bases' bytes one after the other, as zstd's dictionary (copied into the compressor: the buffer goes back
            // to the pool, a delta of three 256 KiB bases made 1.5 MiB of garbage each).
            var parts = new List<byte[]>(bases.Count);
            try { foreach (var (index, _) in bases) parts.Add(previous.ChunkBytes(index)); }
            catch (StoreException) { return null; } // a damaged base: store this chunk on its own
            var dictionary = Pooled.Concat(parts, out var dictionaryLength);
            var bound = ZstdSharp.Compressor.GetCompressBound(chunk.Length);
            var rented = System.Buffers.ArrayPool<byte>.Shared.Rent(bound);
            try
            {
                var compressor = t_deltaCompressor ??= new ZstdSharp.Compressor(CompressionLevel);
                compressor.LoadDictionary(dictionary.AsSpan(0, dictionaryLength));
                var n = compressor.Wrap(chunk, rented);
                // Only a near copy is worth a chain: a base must stay as long as anything stored against it does, so a thinned
                // version's chunks outlive it. A difference of at most 1/8 of the chunk is one; otherwise it must be well under
                // the chunk compressed alone (unrelated text of the same kind compresses better with a base too, but little).
                if (n > chunk.Length / 8)
                {
                    alone = Compress(chunk);
                    if (n * 10L >= alone.Value.Data.Length * 6L) return null;
                }
                var baseHashes = new byte[32 * bases.Count];
                for (int i = 0; i < bases.Count; i++) bases[i].Hash.CopyTo(baseHashes, 32 * i);
                return (rented.AsSpan(0, n).ToArray(), baseHashes, depth + 1);
            }
            finally
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(rented);
                System.Buffers.ArrayPool<byte>.Shared.Return(dictionary);
            }
        }
    }

    [ThreadStatic] private static ZstdSharp.Compressor? t_deltaCompressor;
    [ThreadStatic] private static ZstdSharp.Decompressor? t_deltaDecompressor;
    [ThreadStatic] private static ZstdSharp.Compressor? t_compressor;
    [ThreadStatic] private static ZstdSharp.Decompressor? t_decompressor;

    private static (byte Codec, byte[] Data) Compress(ReadOnlySpan<byte> chunk)
    {
        var compressor = t_compressor ??= new ZstdSharp.Compressor(CompressionLevel);
        var bound = ZstdSharp.Compressor.GetCompressBound(chunk.Length);
        var rented = System.Buffers.ArrayPool<byte>.Shared.Rent(bound);
        try
        {
            var n = compressor.Wrap(chunk, rented);
            // Already compressed data (archives, images, packs) is kept as it is: reading it back costs nothing.
            if (n >= chunk.Length) return (CodecRaw, chunk.ToArray());
            return (CodecZstd, rented.AsSpan(0, n).ToArray());
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>Whether the file has fewer blocks allocated than its size needs: it may have holes.</summary>
    private static unsafe bool IsSparse(int fd, long length)
    {
        StatxBuf st;
        fixed (byte* empty = "\0"u8)
            if (Libc.Statx(fd, empty, Libc.AT_EMPTY_PATH, Libc.STATX_BASIC_STATS, &st) != 0) return false;
        return (long)st.Blocks * 512 < length;
    }

    // ------------------------------------------------------------------ writing (the event writer's thread)

    private SqliteCommand? _insertChunk, _insertBlob, _insertBase;

    /// <summary>Inserts a captured blob and its new chunks, in the writer's transaction (before the event that names it).</summary>
    public void Insert(SqliteConnection writer, StoredBlob blob)
    {
        // Not taken: a batch the writer rolls back runs this again, and must insert them again (INSERT OR IGNORE).
        InsertChunks(writer, blob.Pending);
        _insertBlob ??= Prepare(writer, "INSERT OR IGNORE INTO blobs(hash, size, recipe) VALUES($a, $b, $c)", 3);
        _insertBlob.Parameters[0].Value = blob.Hash;
        _insertBlob.Parameters[1].Value = blob.Size;
        _insertBlob.Parameters[2].Value = blob.Recipe();
        _insertBlob.ExecuteNonQuery();
    }

    private void InsertChunks(SqliteConnection writer, IReadOnlyList<NewChunk> chunks)
    {
        if (chunks.Count == 0) return;
        _insertChunk ??= Prepare(writer, "INSERT OR IGNORE INTO chunks(hash, size, codec, data) VALUES($a, $b, $c, $d)", 4);
        _insertBase ??= Prepare(writer, "INSERT OR REPLACE INTO chunk_bases(hash, base, depth) VALUES($a, $b, $c)", 3);
        foreach (var chunk in chunks)
        {
            _insertChunk.Parameters[0].Value = chunk.Hash;
            _insertChunk.Parameters[1].Value = chunk.Size;
            _insertChunk.Parameters[2].Value = (int)chunk.Codec;
            _insertChunk.Parameters[3].Value = chunk.Data;
            // Stored already (by a capture that committed first): that row stands, with its own encoding.
            if (_insertChunk.ExecuteNonQuery() == 0 || chunk.Base is null) continue;
            _insertBase.Parameters[0].Value = chunk.Hash;
            _insertBase.Parameters[1].Value = chunk.Base;
            _insertBase.Parameters[2].Value = chunk.Depth;
            _insertBase.ExecuteNonQuery();
        }
    }

    private static SqliteCommand Prepare(SqliteConnection c, string sql, int parameters)
    {
        var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        for (int i = 0; i < parameters; i++) cmd.Parameters.Add(new SqliteParameter("$" + (char)('a' + i), null));
        cmd.Prepare();
        return cmd;
    }

    // ------------------------------------------------------------------ reading

    /// <summary>Whether a blob is stored (its recipe; its chunks are checked as they are read).</summary>
    public static bool HasBlob(SqliteCommandSource s, string hash)
    {
        using var cmd = s.Command("SELECT 1 FROM blobs WHERE hash=$a", hash);
        return cmd.ExecuteScalar() is not null;
    }

    /// <summary>Opens a stored blob for reading; <paramref name="context"/> names the file and version in errors.</summary>
    public ChunkedContent Open(string hash, string context)
    {
        using var reader = _db.Prepared.Rent();
        return Open(reader, hash, context) ?? throw new ContentCorruptException(context, hash, "(the version's list of chunks) is missing from the store");
    }

    /// <summary>The stored blob <paramref name="hash"/>, null if the store has none.</summary>
    internal ChunkedContent? Open(PreparedReader reader, string hash, string context) =>
        reader.First("SELECT size, recipe FROM blobs WHERE hash=?1", s => s.Bind(1, hash),
            s => new ChunkedContent(this, s.Int64(0), s.Blob(1), context));

    /// <summary>The bytes of one chunk, checked against its hash (a delta's base chain read first, each checked too).</summary>
    internal byte[] ReadChunk(byte[] hash, int size, string context, int depth = 0)
    {
        (int Codec, long Size, byte[] Data)? row;
        byte[]? baseHash = null;
        using (var reader = _db.Prepared.Rent())
        {
            row = reader.First<(int, long, byte[])?>("SELECT codec, size, data FROM chunks WHERE hash=?1", s => s.Bind(1, hash),
                s => ((int)s.Int64(0), s.Int64(1), s.Blob(2)));
            if (row is null) throw new ContentCorruptException(context, Convert.ToHexStringLower(hash), "is missing from the store");
            if (row.Value.Codec == CodecZstdDelta)
                baseHash = reader.First("SELECT base FROM chunk_bases WHERE hash=?1", s => s.Bind(1, hash), s => s.Blob(0))
                    ?? throw new ContentCorruptException(context, Convert.ToHexStringLower(hash), "is a difference from another chunk that is not named");
        }
        var (codec, storedSize, stored) = row.Value;
        if (size >= 0 && storedSize != size) throw new ContentCorruptException(context, Convert.ToHexStringLower(hash), $"has {storedSize} bytes where the version lists {size}");
        size = (int)storedSize;
        byte[] bytes;
        try
        {
            bytes = codec switch
            {
                CodecRaw => stored,
                CodecZstd => Decompress(stored, size),
                CodecZstdDelta when depth < 2 * MaxDeltaDepth => DecompressDelta(stored, size, baseHash!, context, depth + 1),
                _ => throw new ContentCorruptException(context, Convert.ToHexStringLower(hash), $"is stored with an unknown encoding ({codec})"),
            };
        }
        catch (ZstdSharp.ZstdException e)
        {
            throw new ContentCorruptException(context, Convert.ToHexStringLower(hash), $"cannot be decompressed ({e.Message})");
        }
        if (bytes.Length != size || !ChunkHash(bytes).AsSpan().SequenceEqual(hash))
            throw new ContentCorruptException(context, Convert.ToHexStringLower(hash), "is corrupt (its bytes do not match its hash)");
        return bytes;
    }

    /// <summary>A delta chunk's bytes: its bases (<c>chunk_bases.base</c>: their 32-byte hashes in order) read and put one
    /// after the other as the dictionary it was compressed with.</summary>
    private byte[] DecompressDelta(byte[] stored, int size, byte[] bases, string context, int depth)
    {
        var parts = new List<byte[]>(bases.Length / 32);
        for (int i = 0; i + 32 <= bases.Length; i += 32) parts.Add(ReadChunk(bases.AsSpan(i, 32).ToArray(), -1, context, depth));
        var dictionary = Pooled.Concat(parts, out var length);
        try
        {
            var d = t_deltaDecompressor ??= new ZstdSharp.Decompressor();
            d.LoadDictionary(dictionary.AsSpan(0, length));
            var bytes = new byte[size];
            var n = d.Unwrap(stored, bytes);
            return n == size ? bytes : bytes.AsSpan(0, n).ToArray();
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(dictionary);
        }
    }

    private static byte[] Decompress(byte[] stored, int size)
    {
        var d = t_decompressor ??= new ZstdSharp.Decompressor();
        var bytes = new byte[size];
        var n = d.Unwrap(stored, bytes);
        return n == size ? bytes : bytes.AsSpan(0, n).ToArray();
    }

    /// <summary>Whether the store has a chunk (committed), for a capture deciding what to compress.</summary>
    private sealed class ChunkLookup(Database db) : IDisposable
    {
        private PreparedReader? _reader;
        private PreparedReader Reader => _reader ??= db.Prepared.Rent();

        public bool Has(byte[] hash) =>
            Reader.First("SELECT 1 FROM chunks WHERE hash=?1", s => s.Bind(1, hash), _ => true);

        /// <summary>How many bases a stored chunk's chain has (0: stored on its own); null if it is not stored.</summary>
        public int? Depth(byte[] hash) =>
            Reader.First<int?>("SELECT coalesce((SELECT depth FROM chunk_bases WHERE hash=?1), 0) FROM chunks WHERE hash=?1",
                s => s.Bind(1, hash), s => (int)s.Int64(0));

        public void Dispose() => _reader?.Dispose();
    }
}

/// <summary>Buffers from the shared pool, for bytes needed only during a call.</summary>
internal static class Pooled
{
    /// <summary>The parts one after the other in a pooled buffer (return it to <see cref="System.Buffers.ArrayPool{T}.Shared"/>);
    /// <paramref name="length"/>: how much of it they fill.</summary>
    public static byte[] Concat(IReadOnlyList<byte[]> parts, out int length)
    {
        length = 0;
        foreach (var p in parts) length += p.Length;
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(Math.Max(length, 1));
        int at = 0;
        foreach (var p in parts)
        {
            p.CopyTo(buffer, at);
            at += p.Length;
        }
        return buffer;
    }
}

/// <summary>A chunk a capture found new: its hash, raw size, encoding and stored bytes.</summary>
internal sealed record NewChunk(byte[] Hash, int Size, byte Codec, byte[] Data, byte[]? Base = null, int Depth = 0);

/// <summary>Something that makes commands in a read transaction (a <see cref="Queries.ReadSession"/>).</summary>
internal interface SqliteCommandSource
{
    SqliteCommand Command(string sql, params object?[] args);
}

/// <summary>
/// A version's bytes as captured: its recipe (chunk hash and size, in order; a zero hash for a run of zeros), the
/// chunks the store did not have, and the pins that keep the chunks it counts on from the garbage collector until
/// its event commits (<see cref="Release"/>, idempotent).
/// </summary>
internal sealed class StoredBlob(ChunkStore store)
{
    private readonly List<(byte[] Hash, int Size)> _recipe = [];
    private readonly HashSet<string> _seen = new(StringComparer.Ordinal);
    private readonly List<string> _pins = [];
    private List<NewChunk> _pending = [];
    private int _released;

    public string Hash { get; private set; } = "";
    public long Size { get; private set; }
    public long PendingBytes { get; private set; }

    /// <summary>Bytes of the file the recipe covers so far: where the next chunk starts.</summary>
    public long Offset { get; private set; }

    /// <summary>Adds a chunk to the recipe; the first time this capture meets its hash, pins it (the capture counts on it
    /// from now on) and returns true.</summary>
    public bool AddChunk(byte[] hash, int size)
    {
        _recipe.Add((hash, size));
        Offset += size;
        var key = Convert.ToHexStringLower(hash);
        if (!_seen.Add(key)) return false;
        Pin(key);
        return true;
    }

    private readonly Dictionary<byte, byte[]> _uniform = [];

    /// <summary>The hash of a maximum-size chunk of one repeated byte, computed once per capture.</summary>
    public byte[] UniformHash(byte value, ReadOnlySpan<byte> chunk)
    {
        if (!_uniform.TryGetValue(value, out var hash)) _uniform[value] = hash = ChunkStore.ChunkHash(chunk);
        return hash;
    }

    /// <summary>A run of zeros read from the file (already added to the whole-file hash): kept as a run, never as a chunk.</summary>
    public void AddZeroRun(int length)
    {
        _recipe.Add((ChunkStore.ZeroRun, length));
        Offset += length;
    }

    private static readonly byte[] Zeros = new byte[1 << 16];

    public void AddZeros(IncrementalHash whole, long length)
    {
        var zeros = Zeros;
        for (long left = length; left > 0;)
        {
            var n = (int)Math.Min(left, 1L << 30);
            _recipe.Add((ChunkStore.ZeroRun, n));
            Offset += n;
            left -= n;
        }
        for (long left = length; left > 0; left -= Math.Min(left, zeros.Length))
            whole.AppendData(zeros, 0, (int)Math.Min(left, zeros.Length));
    }

    public void Pin(byte[] hash) => Pin(Convert.ToHexStringLower(hash));

    private void Pin(string key)
    {
        store.Pins.Pin(key);
        _pins.Add(key);
    }

    public void AddNewChunk(byte[] hash, int size, byte codec, byte[] data, byte[]? baseHash = null, int depth = 0)
    {
        _pending.Add(new NewChunk(hash, size, codec, data, baseHash, depth));
        PendingBytes += data.Length;
    }

    /// <summary>The new chunks not committed yet (until <see cref="Release"/>: its event committed or failed).</summary>
    public IReadOnlyList<NewChunk> Pending => _pending;

    public List<NewChunk> TakePending()
    {
        var taken = _pending;
        _pending = [];
        PendingBytes = 0;
        return taken;
    }

    public void Finish(string hash, long size)
    {
        Hash = hash;
        Size = size;
        Pin(hash);
    }

    /// <summary>The recipe as stored: per chunk, its 32-byte hash and its size (4 bytes, little-endian).</summary>
    public byte[] Recipe()
    {
        var bytes = new byte[_recipe.Count * 36];
        for (int i = 0; i < _recipe.Count; i++)
        {
            _recipe[i].Hash.CopyTo(bytes, i * 36);
            System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(i * 36 + 32), _recipe[i].Size);
        }
        return bytes;
    }

    public void Release()
    {
        if (Interlocked.Exchange(ref _released, 1) != 0) return;
        store.Pins.Unpin(_pins);
        TakePending(); // their bytes: the event committed with them, or failed
    }
}

/// <summary>
/// The chunks and blobs captures count on before their events commit. The garbage collector holds <see cref="Gate"/>
/// from the moment it decides what is unreferenced until its transaction commits, and a capture passes the gate to
/// pin, so a capture either pins a chunk before (and the collector keeps it) or looks for it after the collector
/// committed (and finds it gone, and stores it again). Releasing pins never waits for the gate.
/// </summary>
internal sealed class PinTable
{
    private readonly Dictionary<string, int> _pins = new(StringComparer.Ordinal);

    public SemaphoreSlim Gate { get; } = new(1, 1);

    public void Pin(string key)
    {
        Gate.Wait();
        try
        {
            lock (_pins) _pins[key] = _pins.GetValueOrDefault(key) + 1;
        }
        finally
        {
            Gate.Release();
        }
    }

    public void Unpin(List<string> keys)
    {
        if (keys.Count == 0) return;
        lock (_pins)
            foreach (var key in keys)
                if (_pins.TryGetValue(key, out var n)) { if (n <= 1) _pins.Remove(key); else _pins[key] = n - 1; }
    }

    public bool IsPinned(string key)
    {
        lock (_pins) return _pins.ContainsKey(key);
    }
}

/// <summary>Positional reads of a stored blob, one chunk decompressed and checked at a time (the last few are kept).</summary>
public sealed class ChunkedContent
{
    private readonly ChunkStore _store;
    private readonly string _context;
    private readonly byte[][] _hashes;
    private readonly int[] _sizes;
    private readonly long[] _starts;
    // The chunks read last (the kernel's readahead sends several reads at once, each spanning two or three chunks:
    // with one chunk kept, each was decompressed and checked two or three times).
    private const int CachedChunks = 8;
    private readonly object _lock = new();
    private readonly LinkedList<(int Index, byte[] Bytes)> _cache = new();

    internal ChunkedContent(ChunkStore store, long size, byte[] recipe, string context)
    {
        _store = store;
        _context = context;
        int n = recipe.Length / 36;
        _hashes = new byte[n][];
        _sizes = new int[n];
        _starts = new long[n + 1];
        for (int i = 0; i < n; i++)
        {
            _hashes[i] = recipe.AsSpan(i * 36, 32).ToArray();
            _sizes[i] = System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(recipe.AsSpan(i * 36 + 32));
            _starts[i + 1] = _starts[i] + _sizes[i];
        }
        if (_starts[n] != size) throw new ContentCorruptException(context, "list", $"of the version adds up to {_starts[n]} bytes where the version has {size}");
        Length = size;
    }

    public long Length { get; }

    /// <summary>Reads up to <paramref name="buffer"/>'s length from <paramref name="offset"/>; fewer only at the end.</summary>
    /// <exception cref="ContentCorruptException">a chunk is missing or damaged.</exception>
    public int Read(long offset, Span<byte> buffer)
    {
        int done = 0;
        while (done < buffer.Length && offset + done < Length)
        {
            long at = offset + done;
            int i = Array.BinarySearch(_starts, at);
            if (i < 0) i = ~i - 1;
            int within = (int)(at - _starts[i]);
            int n = Math.Min(_sizes[i] - within, buffer.Length - done);
            if (_hashes[i].AsSpan().SequenceEqual(ChunkStore.ZeroRun)) buffer.Slice(done, n).Clear();
            else Chunk(i).AsSpan(within, n).CopyTo(buffer[done..]);
            done += n;
        }
        return done;
    }

    private byte[] Chunk(int i)
    {
        lock (_lock)
            for (var node = _cache.First; node is not null; node = node.Next)
                if (node.Value.Index == i)
                {
                    _cache.Remove(node);
                    _cache.AddFirst(node);
                    return node.Value.Bytes;
                }
        var bytes = _store.ReadChunk(_hashes[i], _sizes[i], _context);
        lock (_lock)
        {
            _cache.AddFirst((i, bytes));
            if (_cache.Count > CachedChunks) _cache.RemoveLast();
        }
        return bytes;
    }

    /// <summary>How many chunks of the previous version a delta may be stored against.</summary>
    internal const int MaxBases = 3;

    /// <summary>The stored chunks that covered [<paramref name="start"/>, +<paramref name="length"/>) (runs of zeros left
    /// out, at most <see cref="MaxBases"/>): what a chunk at that place in the next version is stored against.</summary>
    internal List<(int Index, byte[] Hash)> BasesFor(long start, int length)
    {
        var bases = new List<(int, byte[])>();
        if (start >= Length) return bases;
        int i = Array.BinarySearch(_starts, start);
        if (i < 0) i = ~i - 1;
        for (; i < _hashes.Length && _starts[i] < start + length && bases.Count < MaxBases; i++)
            if (!_hashes[i].AsSpan().SequenceEqual(ChunkStore.ZeroRun)) bases.Add((i, _hashes[i]));
        return bases;
    }

    /// <summary>The bytes of chunk <paramref name="index"/>, checked.</summary>
    internal byte[] ChunkBytes(int index) => Chunk(index);

    /// <summary>The blob as a read-only, seekable stream.</summary>
    public Stream AsStream() => new ChunkedStream(this);

    private sealed class ChunkedStream(ChunkedContent content) : Stream
    {
        private long _position;
        public override bool CanRead => true;
        public override bool CanSeek => true;
        public override bool CanWrite => false;
        public override long Length => content.Length;
        public override long Position { get => _position; set => _position = value; }
        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));
        public override int Read(Span<byte> buffer)
        {
            var n = content.Read(_position, buffer);
            _position += n;
            return n;
        }
        public override long Seek(long offset, SeekOrigin origin) => _position = origin switch
        {
            SeekOrigin.Begin => offset,
            SeekOrigin.Current => _position + offset,
            _ => content.Length + offset,
        };
        public override void Flush() { }
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
