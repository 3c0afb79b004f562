using System.Collections.Concurrent;
using Lighthouse.Conformance.Tests.Support;
using Xunit.Abstractions;
using Xunit.Sdk;
using static Lighthouse.Conformance.Tests.Support.Sys;

namespace Lighthouse.Conformance.Tests;

/// <summary>
/// Several threads at once on the mount: eight workers each creating/writing/reading/renaming/unlinking
/// in their own directory (final tree compared with the same work done natively), concurrent readers
/// of one file, concurrent writers of disjoint regions, concurrent O_APPEND writers, parallel creates
/// and unlinks in one directory, and lookups racing a rename.
/// </summary>
public abstract unsafe class ConcurrencyTests<TTarget> : ConformanceTestBase<TTarget> where TTarget : MountTarget
{
    protected ConcurrencyTests(TTarget fx, ITestOutputHelper output) : base(fx, output) { }

    private const int Threads = 8;

    /// <summary>Runs <paramref name="work"/>(i) on <paramref name="n"/> threads started together; rethrows the first failure.</summary>
    private static void Parallel(int n, Action<int> work)
    {
        var errors = new ConcurrentQueue<Exception>();
        using var start = new ManualResetEventSlim();
        var threads = Enumerable.Range(0, n).Select(i => new Thread(() =>
        {
            start.Wait();
            try { work(i); }
            catch (Exception e) { errors.Enqueue(e); }
        })).ToList();
        threads.ForEach(th => th.Start());
        start.Set();
        threads.ForEach(th => th.Join());
        if (!errors.IsEmpty)
            throw new XunitException($"{errors.Count} of {n} threads failed; first: {errors.First()}");
    }

    private static void Worker(string root, int id, int iterations)
    {
        string dir = $"{root}/w{id}";
        Mkdir(dir);
        for (int k = 0; k < iterations; k++)
        {
            var data = Twin.Pattern(1 + (k * 7919 + id * 104729) % 70_000, id * 10_000 + k);
            int fd = (int)Check(open($"{dir}/f{k}", O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0x1a4), $"create w{id}/f{k}");
            PwriteAll(fd, data, 0);
            if (k % 7 == 0) Check(fsync(fd), "fsync");
            var back = PreadFull(fd, data.Length + 10, 0);
            close(fd);
            if (!back.AsSpan().SequenceEqual(data))
                throw new XunitException($"w{id}/f{k}: read back {back.Length} bytes differing from the {data.Length} written");
            Check(rename($"{dir}/f{k}", $"{dir}/g{k}"), $"rename w{id}/f{k}");
            var st = Stat($"{dir}/g{k}");
            if (st.Size != data.Length) throw new XunitException($"w{id}/g{k}: size {st.Size}, expected {data.Length}");
            if (Stat($"{dir}/f{k}", out int e) != null || e != ENOENT)
                throw new XunitException($"w{id}/f{k} still visible after rename (errno {ErrName(e)})");
            if (k % 5 == 0)
            {
                Mkdir($"{dir}/sub{k}");
                Check(link($"{dir}/g{k}", $"{dir}/sub{k}/h"), "link");
                Check(unlink($"{dir}/sub{k}/h"), "unlink");
                Check(rmdir($"{dir}/sub{k}"), "rmdir");
            }
            if (k % 10 != 0) Check(unlink($"{dir}/g{k}"), $"unlink w{id}/g{k}");
            else
            {
                var again = ReadFile($"{dir}/g{k}");
                if (!again.AsSpan().SequenceEqual(data)) throw new XunitException($"w{id}/g{k}: content changed");
            }
        }
    }

    [Fact]
    public void EightThreadsEachInTheirOwnDirectory() => Run(t =>
    {
        const int iterations = 150;
        Parallel(Threads, i => Worker(t.M, i, iterations));
        Parallel(Threads, i => Worker(t.N, i, iterations));
        Tree.AssertSame("after the concurrent workers", t.M, t.N);
        Tree.AssertSame("mount vs backing", t.M, t.B);
    }, timeoutSeconds: 180);

    [Fact]
    public void ParallelMkdirRmdirRenameInSeparateDirectories() => Run(t =>
    {
        // no hard links here: directories and files created and removed at a high rate by 8 threads,
        // each in its own directory, with the same names in every directory
        t.Both("errors seen by 8 threads", d =>
        {
            var errors = new ConcurrentDictionary<string, int>();
            void Try(string what, long rc)
            {
                if (rc < 0) errors.AddOrUpdate($"{what} {ErrName(Errno)}", 1, (_, n) => n + 1);
            }
            Parallel(Threads, i =>
            {
                string dir = $"{d}/p{i}";
                Mkdir(dir);
                for (int k = 0; k < 300; k++)
                {
                    int fd = open($"{dir}/f{k}", O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0x1a4);
                    Try("create", fd);
                    if (fd >= 0) close(fd);
                    Try("rename", rename($"{dir}/f{k}", $"{dir}/g{k}"));
                    Try("mkdir", mkdir($"{dir}/sub{k % 7}", 0x1ed));
                    Try("create in new dir", fd = open($"{dir}/sub{k % 7}/x", O_CREAT | O_WRONLY | O_CLOEXEC, 0x1a4));
                    if (fd >= 0) close(fd);
                    Try("unlink in new dir", unlink($"{dir}/sub{k % 7}/x"));
                    Try("rmdir", rmdir($"{dir}/sub{k % 7}"));
                    Try("unlink", unlink($"{dir}/g{k}"));
                }
            });
            return string.Join(", ", errors.OrderBy(e => e.Key).Select(e => $"{e.Key} x{e.Value}"));
        });
        Tree.AssertSame("after the workers", t.M, t.N);
        Tree.AssertSame("mount vs backing", t.M, t.B);
    }, timeoutSeconds: 180);

    [Fact]
    public void ConcurrentReadersOfOneFile() => Run(t =>
    {
        const int size = 16 << 20;
        var data = Twin.Pattern(size, 42);
        WriteFile(t.Mp("shared"), data);
        int sharedFd = Open(t.Mp("shared"), O_RDONLY);
        try
        {
            Parallel(Threads, i =>
            {
                var rng = new Random(i);
                int own = Open(t.Mp("shared"), O_RDONLY);
                try
                {
                    for (int k = 0; k < 300; k++)
                    {
                        int fd = k % 2 == 0 ? own : sharedFd;
                        long off = rng.NextInt64(size + 1000);
                        int len = rng.Next(1, 256 << 10);
                        var got = PreadFull(fd, len, off);
                        int expectLen = (int)Math.Clamp(size - off, 0, len);
                        if (got.Length != expectLen || !got.AsSpan().SequenceEqual(data.AsSpan((int)Math.Min(off, size), expectLen)))
                            throw new XunitException($"thread {i}: pread({len} @ {off}) gave {got.Length} bytes not matching the file");
                    }
                }
                finally { close(own); }
            });
        }
        finally { close(sharedFd); }
    }, timeoutSeconds: 180);

    [Fact]
    public void ConcurrentWritersOfDisjointRegions() => Run(t =>
    {
        const int chunk = 64 << 10, chunksPerThread = 24;
        var expected = new byte[chunk * chunksPerThread * Threads];
        foreach (var side in new[] { t.M, t.N })
        {
            Sys.Close(Open($"{side}/striped", O_CREAT | O_WRONLY));
            Parallel(Threads, i =>
            {
                int fd = Open($"{side}/striped", O_WRONLY);
                try
                {
                    for (int c = 0; c < chunksPerThread; c++)
                    {
                        long index = (long)c * Threads + i; // interleaved stripes
                        var data = Twin.Pattern(chunk, (int)index);
                        PwriteAll(fd, data, index * chunk);
                        if (side == t.M) data.CopyTo(expected, index * chunk);
                    }
                }
                finally { close(fd); }
            });
        }
        Assert.Equal(Twin.Hash(expected), Twin.Hash(ReadFile(t.Mp("striped"))));
        Assert.Equal(Twin.Hash(expected), Twin.Hash(ReadFile(t.Np("striped"))));
        Assert.Equal(Twin.Hash(expected), Twin.Hash(ReadFile(t.Bp("striped"))));
    }, timeoutSeconds: 120);

    [Fact]
    public void ConcurrentAppendersNeverInterleave() => Run(t =>
    {
        const int records = 200, recordSize = 64;
        t.Both("O_APPEND from 8 threads", d =>
        {
            Sys.Close(Open($"{d}/log", O_CREAT | O_WRONLY));
            Parallel(Threads, i =>
            {
                int fd = Open($"{d}/log", O_WRONLY | O_APPEND);
                try
                {
                    for (int k = 0; k < records; k++)
                    {
                        var rec = Twin.Utf8($"thread {i} record {k:D4} ".PadRight(recordSize - 1, '.') + "\n");
                        fixed (byte* p = rec)
                            if (write(fd, p, (nuint)rec.Length) != rec.Length) throw new XunitException($"short append: {ErrName(Errno)}");
                    }
                }
                finally { close(fd); }
            });
            var text = ReadText($"{d}/log");
            var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            bool intact = lines.All(l => l.Length == recordSize - 1 && l.StartsWith("thread ", StringComparison.Ordinal));
            int distinct = lines.Distinct().Count();
            return (text.Length, lines.Length, intact, distinct);
        });
    }, timeoutSeconds: 120);

    [Fact]
    public void ParallelCreatesAndUnlinksInOneDirectory() => Run(t =>
    {
        const int perThread = 400;
        t.Both("parallel creates, listing, unlinks", d =>
        {
            Mkdir($"{d}/crowd");
            Parallel(Threads, i =>
            {
                for (int k = 0; k < perThread; k++)
                {
                    if (k % 4 == 0) Mkdir($"{d}/crowd/d{i}-{k}");
                    else WriteFile($"{d}/crowd/f{i}-{k}", $"{i}/{k}");
                }
            });
            var names = Sys.ReadDir($"{d}/crowd").Select(e => e.Name).Where(n => n is not ("." or "..")).ToList();
            int files = names.Count(n => n[0] == 'f'), dirs = names.Count(n => n[0] == 'd');
            var nlink = Stat($"{d}/crowd").Nlink;
            Parallel(Threads, i =>
            {
                for (int k = 0; k < perThread; k++)
                {
                    if (k % 4 == 0) Check(rmdir($"{d}/crowd/d{i}-{k}"), "rmdir");
                    else
                    {
                        if (ReadText($"{d}/crowd/f{i}-{k}") != $"{i}/{k}") throw new XunitException($"f{i}-{k} content");
                        Check(unlink($"{d}/crowd/f{i}-{k}"), "unlink");
                    }
                }
            });
            var left = Sys.ReadDir($"{d}/crowd").Count;
            return (names.Count, names.Distinct().Count(), files, dirs, nlink, left, Stat($"{d}/crowd").Nlink);
        });
    }, timeoutSeconds: 180);

    [Fact]
    public void LookupsRacingARename() => Run(t =>
    {
        var content = Twin.Pattern(100_000, 7);
        foreach (var side in new[] { t.M, t.N })
        {
            WriteFile($"{side}/a", content);
            using var stop = new CancellationTokenSource();
            int renames = 0;
            var renamer = new Thread(() =>
            {
                while (!stop.IsCancellationRequested)
                {
                    Check(rename($"{side}/a", $"{side}/b"), "rename a->b");
                    Check(rename($"{side}/b", $"{side}/a"), "rename b->a");
                    renames += 2;
                }
            });
            renamer.Start();
            try
            {
                Parallel(4, i =>
                {
                    for (int k = 0; k < 400; k++)
                    {
                        string name = (k + i) % 2 == 0 ? "a" : "b";
                        int fd = open($"{side}/{name}", O_RDONLY | O_CLOEXEC, 0);
                        if (fd < 0)
                        {
                            if (Errno != ENOENT) throw new XunitException($"open({name}) failed with {ErrName(Errno)}, not ENOENT");
                            continue;
                        }
                        var got = PreadFull(fd, 200_000, 0);
                        var st = Fstat(fd);
                        close(fd);
                        if (!got.AsSpan().SequenceEqual(content) || st.Size != content.Length)
                            throw new XunitException($"{side}: read {got.Length} bytes (size {st.Size}) through a name being renamed; content differs");
                    }
                });
            }
            finally
            {
                stop.Cancel();
                renamer.Join();
            }
            Out.WriteLine($"{side}: {renames} renames during the lookups");
        }
        t.Both("one name left", d => (StatE($"{d}/a").ToString(), StatE($"{d}/b").ToString()));
    }, timeoutSeconds: 180);
}

public sealed class ConcurrencyTests_Passthrough(PassthroughDefault fx, ITestOutputHelper output) : ConcurrencyTests<PassthroughDefault>(fx, output);
public sealed class ConcurrencyTests_Mount(RecordedMount fx, ITestOutputHelper output) : ConcurrencyTests<RecordedMount>(fx, output);
