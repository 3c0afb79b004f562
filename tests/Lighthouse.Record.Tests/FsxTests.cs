using System.Security.Cryptography;

namespace Lighthouse.Record.Tests;

/// <summary>
/// In the manner of xfstests' fsx: one file in current/ under a seeded random sequence of writes, truncates (up and
/// down), mmap writes and reads, fsyncs and close-and-reopens, compared with an in-memory model after every
/// operation; then the record must be exact, and every version history kept of the file must be a state the file
/// really had. LIGHTHOUSE_TEST_SEED replays a run; LIGHTHOUSE_TEST_FSX_OPS changes its length.
/// </summary>
public sealed unsafe class FsxTests(ITestOutputHelper output)
{
    private const int MaxSize = 256 * 1024;
    private const int MaxLength = 32 * 1024;
    private const string FileName = "fsx/file";

    private readonly byte[] _model = new byte[MaxSize]; // bytes past _size are always zero
    private readonly int[] _writtenBy = new int[MaxSize]; // which operation last wrote each byte, for the report
    private readonly Queue<string> _recent = new();
    private readonly HashSet<string> _states = []; // every state the file was in, even for a moment (SHA-256)
    private long _size;
    private int _fd = -1;
    private Random _random = new();

    [Fact]
    public void One_file_under_random_writes_truncates_and_mmap_writes_matches_its_model_and_its_history()
    {
        int operations = TestSeed.Number("LIGHTHOUSE_TEST_FSX_OPS") ?? 3000;
        var (seed, context) = TestSeed.Start(output, $"{operations} operations");
        _random = new Random(seed);
        using var mount = new LighthouseMountFixture();
        Directory.CreateDirectory(Path.Combine(mount.Current, "fsx"));
        string path = Path.Combine(mount.Current, FileName);
        _fd = Libc.Open(path, Libc.O_RDWR | Libc.O_CREAT | Libc.O_TRUNC | Libc.O_CLOEXEC, 0x1a4);
        Assert.True(_fd >= 0, $"open {path}: {Errno.Name(Libc.Errno)}");
        _states.Add(Hash());
        try
        {
            for (int op = 1; op <= operations; op++)
            {
                string done = Step(op, path);
                _recent.Enqueue($"{op}: {done}");
                if (_recent.Count > 25) _recent.Dequeue();
                if (Mismatch() is { } mismatch)
                    Assert.Fail($"{context}after operation {op} the file differs from its model: {mismatch}\nlast operations:\n  " +
                                string.Join("\n  ", _recent));
            }
        }
        finally { if (_fd >= 0) Libc.Close(_fd); }

        var problems = RecordAssert.Problems(mount, output);
        var unreal = VersionsThatNeverWere(mount);
        if (unreal.Count > 0) problems.Add($"history keeps {unreal.Count} versions of {FileName} it never had:\n  " + string.Join("\n  ", unreal.Take(20)));
        RecordAssert.NoProblems(problems, context);
    }

    private string Step(int op, string path)
    {
        int roll = _random.Next(100);
        long offset = _random.Next(MaxSize - 1);
        int length = 1 + _random.Next((int)Math.Min(MaxLength, MaxSize - offset));
        if (roll < 40) return Write(op, offset, length);
        if (roll < 55) return MapWrite(op, offset, length);
        if (roll < 70) return Truncate(_random.Next(MaxSize + 1));
        if (roll < 78) return MapRead();
        if (roll < 85)
        {
            Check(_random.Next(2) == 0 ? Libc.Fsync(_fd) : Libc.Fdatasync(_fd), "fsync");
            return "fsync";
        }
        Check(Libc.Close(_fd), "close");
        _fd = Libc.Open(path, Libc.O_RDWR | Libc.O_CLOEXEC, 0);
        Check(_fd, "reopen");
        return "close and reopen";
    }

    private string Write(int op, long offset, int length)
    {
        var data = RandomBytes(length);
        fixed (byte* p = data) Assert.Equal(length, (int)Libc.Pwrite(_fd, p, (nuint)length, offset));
        Apply(op, offset, data);
        return $"write {length} at {offset}";
    }

    /// <summary>As fsx does: a mapping cannot grow the file, so extend it first, then write through a shared mapping and msync.</summary>
    private string MapWrite(int op, long offset, int length)
    {
        if (offset + length > _size) Truncate(offset + length);
        var data = RandomBytes(length);
        byte* map = (byte*)Libc.Mmap(null, (nuint)_size, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED, _fd, 0);
        Assert.True(map != (byte*)-1, $"mmap: {Errno.Name(Libc.Errno)}");
        data.CopyTo(new Span<byte>(map + offset, length));
        Check(Libc.Msync(map, (nuint)_size, Libc.MS_SYNC), "msync");
        Check(Libc.Munmap(map, (nuint)_size), "munmap");
        Apply(op, offset, data);
        return $"mapwrite {length} at {offset}";
    }

    private string MapRead()
    {
        if (_size == 0) return "mapread of an empty file (skipped)";
        byte* map = (byte*)Libc.Mmap(null, (nuint)_size, Libc.PROT_READ, Libc.MAP_SHARED, _fd, 0);
        Assert.True(map != (byte*)-1, $"mmap: {Errno.Name(Libc.Errno)}");
        bool same = new ReadOnlySpan<byte>(map, (int)_size).SequenceEqual(_model.AsSpan(0, (int)_size));
        Libc.Munmap(map, (nuint)_size);
        Assert.True(same, "a read through a mapping differs from the model\n  " + string.Join("\n  ", _recent));
        return "mapread";
    }

    private string Truncate(long size)
    {
        Check(Libc.Ftruncate(_fd, size), "ftruncate");
        if (size < _size) Array.Clear(_model, (int)size, (int)(_size - size));
        _size = size;
        _states.Add(Hash());
        return $"truncate to {size}";
    }

    private void Apply(int op, long offset, byte[] data)
    {
        data.CopyTo(_model, offset);
        Array.Fill(_writtenBy, op, (int)offset, data.Length);
        _size = Math.Max(_size, offset + data.Length);
        _states.Add(Hash());
    }

    private byte[] RandomBytes(int length)
    {
        var data = new byte[length];
        _random.NextBytes(data);
        return data;
    }

    /// <summary>The first way the file differs from the model (size, then the first differing byte), or null.</summary>
    private string? Mismatch()
    {
        Assert.True(At.Fstat(_fd, out var stat), "fstat");
        if ((long)stat.Size != _size) return $"size {stat.Size}, model {_size}";
        var bytes = new byte[_size + 1];
        long read = 0;
        fixed (byte* p = bytes)
            for (long n; read < bytes.Length && (n = Libc.Pread(_fd, p + read, (nuint)(bytes.Length - read), read)) != 0; read += n)
                if (n < 0) return $"pread at {read}: {Errno.Name(Libc.Errno)}";
        if (read != _size) return $"read {read} bytes, model {_size}";
        for (int i = 0; i < _size; i++)
            if (bytes[i] != _model[i])
                return $"byte {i} is 0x{bytes[i]:x2}, model 0x{_model[i]:x2} (written by operation {_writtenBy[i]})";
        return null;
    }

    private string Hash() => Convert.ToHexStringLower(SHA256.HashData(_model.AsSpan(0, (int)_size)));

    private static void Check(long rc, string what) => Assert.True(rc >= 0, $"{what}: {Errno.Name(Libc.Errno)}");

    /// <summary>Every version of the file that history shows (at each event about it) must be a state it had, if only
    /// between the two calls of a mapped write: never a mix of two, never bytes from elsewhere. A version whose bytes were not kept (a
    /// truncate of an open file is no settled point) says so with ENODATA, as DESIGN.md allows.</summary>
    private List<string> VersionsThatNeverWere(LighthouseMountFixture mount)
    {
        var wrong = new List<string>();
        int checkedVersions = 0, notKept = 0;
        foreach (var e in mount.Events().Where(e => e.Path == FileName || e.Path2 == FileName))
        {
            string version = Path.Combine(mount.History, $"@{e.Seq}", FileName);
            string? hash = At.Sha256(Libc.AT_FDCWD, version, out long length, out string? problem);
            checkedVersions++;
            if (problem == "open failed: ENODATA") notKept++;
            else if (hash is null) wrong.Add($"@{e.Seq} ({e.Op} by {e.Agent}): {problem}");
            else if (!_states.Contains(hash)) wrong.Add($"@{e.Seq} ({e.Op} by {e.Agent}): sha256:{hash[..16]}, {length} bytes");
        }
        output.WriteLine($"{checkedVersions} versions of {FileName} in history: {notKept} without their bytes (ENODATA), {wrong.Count} wrong");
        return wrong;
    }
}
