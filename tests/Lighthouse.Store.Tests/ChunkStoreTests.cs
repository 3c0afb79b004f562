using Xunit.Abstractions;
using System.Security.Cryptography;
using System.Text;
using Lighthouse.Store;
using Lighthouse.Store.Objects;
using Lighthouse.Store.Retention;

namespace Lighthouse.Store.Tests;

/// <summary>Versions as shared, compressed chunks; retention and garbage collection.</summary>
public class ChunkStoreTests(ITestOutputHelper output)
{
    /// <summary>Deterministic, compressible, source-like text of about <paramref name="bytes"/> bytes.</summary>
    private static string SourceText(int bytes, int seed = 1)
    {
        var random = new Random(seed);
        var words = new[] { "int", "return", "value", "count", "for", "if", "else", "buffer", "offset", "length", "struct", "node", "next" };
        var sb = new StringBuilder();
        int line = 0;
        while (sb.Length < bytes)
        {
            sb.Append("    ").Append(words[random.Next(words.Length)]).Append(' ').Append(words[random.Next(words.Length)])
              .Append(" = ").Append(random.Next(100000)).Append("; // line ").Append(line++).Append('\n');
        }
        return sb.ToString(0, bytes);
    }

    [Fact]
    public void Cuts_depend_on_content_so_an_edit_moves_only_the_cuts_near_it()
    {
        var data = Encoding.UTF8.GetBytes(SourceText(4 << 20));
        var cuts = Cuts(data);
        Assert.All(cuts.SkipLast(1), c => Assert.InRange(c.Length, FastCdc.MinSize, FastCdc.MaxSize));
        Assert.Equal(data.Length, cuts.Sum(c => c.Length));
        var average = cuts.Average(c => c.Length);
        output.WriteLine($"{cuts.Count} chunks, average {average / 1024:0.0} KiB");
        Assert.InRange(average, 40 << 10, 110 << 10);

        // Insert 10 bytes near the start: all but the chunks around the insertion stay the same.
        var edited = data.Take(100_000).Concat("INSERTED!!"u8.ToArray()).Concat(data.Skip(100_000)).ToArray();
        var before = cuts.Select(c => Convert.ToHexString(SHA256.HashData(data.AsSpan(c.Start, c.Length)))).ToHashSet();
        var after = Cuts(edited).Select(c => Convert.ToHexString(SHA256.HashData(edited.AsSpan(c.Start, c.Length)))).ToList();
        var changed = after.Count(h => !before.Contains(h));
        Assert.InRange(changed, 1, 3);
    }

    private static List<(int Start, int Length)> Cuts(byte[] data)
    {
        var list = new List<(int, int)>();
        for (int at = 0; at < data.Length;)
        {
            var n = FastCdc.NextCut(data.AsSpan(at), final: true);
            list.Add((at, n));
            at += n;
        }
        return list;
    }

    [Fact]
    public void Versions_of_a_file_share_the_chunks_an_edit_did_not_touch_and_are_compressed()
    {
        using var project = new TempProject();
        using var store = project.Open();
        var text = SourceText(2 << 20);
        project.Write("big.c", text);
        var first = store.RecordCreate("dev", "big.c");
        var afterFirst = store.Usage();

        var edited = text[..1_000_000] + "/* a small edit */" + text[1_000_000..];
        project.Write("big.c", edited);
        var second = store.CaptureOnClose("dev", "big.c")!;
        var afterSecond = store.Usage();

        output.WriteLine($"first: {afterFirst.Chunks} chunks, {afterFirst.ChunkStoredBytes} stored of {afterFirst.ChunkRawBytes}; second: {afterSecond.Chunks} chunks, {afterSecond.ChunkStoredBytes} stored");
        Assert.InRange(afterSecond.Chunks - afterFirst.Chunks, 1, 3);
        Assert.True(afterFirst.CompressionRatio > 2, $"compression {afterFirst.CompressionRatio:0.00}");
        Assert.True(afterSecond.ChunkStoredBytes - afterFirst.ChunkStoredBytes < 200_000, "the second version stored only its changed chunks");
        Assert.Equal(2, afterSecond.KeptVersions);
        Assert.True(afterSecond.DedupRatio > 1.8, $"dedup {afterSecond.DedupRatio:0.00}");
        Assert.Equal(Encoding.UTF8.GetBytes(text), store.ReadAllBytes("big.c", first.Seq));
        Assert.Equal(Encoding.UTF8.GetBytes(edited), store.ReadAllBytes("big.c", second.Seq));

        // Another file with the same bytes adds no chunk and no blob.
        project.Write("copy.c", edited);
        store.RecordCreate("dev", "copy.c");
        var afterCopy = store.Usage();
        Assert.Equal(afterSecond.Chunks, afterCopy.Chunks);
        Assert.Equal(afterSecond.Blobs, afterCopy.Blobs);
    }

    [Fact]
    public void A_chunk_an_edit_changed_is_stored_as_its_difference_from_the_previous_version_and_gc_keeps_its_base()
    {
        using var project = new TempProject();
        using var store = project.Open();
        var bytes = new byte[1 << 20];
        new Random(9).NextBytes(bytes); // incompressible: a chunk stored alone costs its size
        project.Write("data.bin", bytes);
        var versions = new List<(long Seq, byte[] Bytes)> { (store.RecordCreate("dev", "data.bin").Seq, (byte[])bytes.Clone()) };
        var before = store.Usage();
        for (int edit = 0; edit < 10; edit++)
        {
            new Random(100 + edit).NextBytes(bytes.AsSpan(500_000, 200)); // overwrite 200 bytes in place, as fsx does
            project.Write("data.bin", bytes);
            versions.Add((store.CaptureOnClose("dev", "data.bin")!.Seq, (byte[])bytes.Clone()));
        }
        var after = store.Usage();
        output.WriteLine($"10 edits of 200 bytes: {after.ChunkStoredBytes - before.ChunkStoredBytes} bytes stored, {after.Chunks - before.Chunks} chunks");
        Assert.Equal(10, after.Chunks - before.Chunks);
        // Without deltas each edit stores a whole (incompressible) chunk of ~57 KiB; with them, every fifth at most
        // (chains stop at MaxDeltaDepth).
        Assert.True(after.ChunkStoredBytes - before.ChunkStoredBytes < 3 * FastCdc.MaxSize, $"{after.ChunkStoredBytes - before.ChunkStoredBytes} bytes");
        Assert.True(StoreSql.Scalar(project.Dir, "SELECT count(*) FROM chunk_bases") >= 6);
        Assert.True(StoreSql.Scalar(project.Dir, $"SELECT coalesce(max(depth), 0) FROM chunk_bases") <= ChunkStore.MaxDeltaDepth);
        foreach (var (seq, expected) in versions) Assert.Equal(expected, store.ReadAllBytes("data.bin", seq));

        // Thin every old version: the current one's chunk is stored against theirs, so its bases stay.
        var report = store.CollectGarbage(new RetentionPolicy { KeepAll = TimeSpan.Zero, Hourly = TimeSpan.Zero, Daily = TimeSpan.Zero }, now: DateTime.UtcNow.AddDays(1));
        Assert.Equal(10, report.VersionsPruned);
        Assert.Equal(versions[^1].Bytes, store.ReadAllBytes("data.bin", versions[^1].Seq));
        Assert.True(store.RebuildIndex().AgreedWithPrevious);
    }

    [Fact]
    public void Positional_reads_across_chunk_boundaries_give_the_exact_bytes()
    {
        using var project = new TempProject();
        using var store = project.Open();
        var bytes = new byte[1_500_000];
        new Random(7).NextBytes(bytes); // incompressible: stored raw
        project.Write("r.bin", bytes);
        var e = store.RecordCreate("dev", "r.bin");
        var content = store.Content("r.bin", e.Seq);
        var chunks = store.OpenChunked(content)!;
        Assert.Equal(bytes.Length, chunks.Length);
        var random = new Random(3);
        for (int i = 0; i < 200; i++)
        {
            long offset = random.Next(bytes.Length + 10);
            var buffer = new byte[random.Next(1, 300_000)];
            var n = chunks.Read(offset, buffer);
            var expected = (int)Math.Max(0, Math.Min(buffer.Length, bytes.Length - offset));
            Assert.Equal(expected, n);
            Assert.True(buffer.AsSpan(0, n).SequenceEqual(bytes.AsSpan((int)Math.Min(offset, bytes.Length), n)));
        }
    }

    [Fact]
    public void A_version_kept_as_a_whole_object_file_by_an_older_store_still_reads()
    {
        using var project = new TempProject();
        using var store = project.Open();
        project.Write("old.txt", "captured before chunks existed");
        var e = store.RecordCreate("dev", "old.txt");
        // As schema 3 kept it: a whole object file named by the hash, no blob.
        var path = store.Objects.PathOf(e.ContentHash!);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, "captured before chunks existed");
        StoreSql.Exec(project.Dir, "DELETE FROM blobs WHERE hash = $a", e.ContentHash!);
        var content = store.Content("old.txt", e.Seq);
        Assert.Null(content.ChunkedHash);
        Assert.Equal(path, content.ObjectPath);
        Assert.Equal("captured before chunks existed"u8.ToArray(), store.ReadAllBytes("old.txt", e.Seq));
    }

    [Fact]
    public void Retention_thins_old_versions_keeps_current_and_snapshot_versions_and_gc_frees_their_chunks()
    {
        using var project = new TempProject();
        using var store = project.Open();
        var versions = new List<(long Seq, string Text)>();
        project.Write("notes.txt", SourceText(300_000, 1));
        versions.Add((store.RecordCreate("dev", "notes.txt").Seq, File.ReadAllText(project.Abs("notes.txt"))));
        for (int i = 2; i <= 5; i++)
        {
            project.Write("notes.txt", SourceText(300_000, i)); // each version all new chunks
            versions.Add((store.CaptureOnClose("dev", "notes.txt")!.Seq, File.ReadAllText(project.Abs("notes.txt"))));
            if (i == 3) store.CreateSnapshot("dev", "keep-me");
        }
        var before = store.Usage();
        var policy = new RetentionPolicy { KeepAll = TimeSpan.FromHours(1), Hourly = TimeSpan.FromHours(1), Daily = null };
        var later = DateTime.UtcNow.AddDays(2); // all versions are "two days old", in one day bucket

        var dry = store.CollectGarbage(policy, dryRun: true, now: later);
        var unchanged = store.Usage(); // nothing changed
        Assert.Equal((before.Chunks, before.ChunkStoredBytes, before.Blobs, before.PrunedVersions), (unchanged.Chunks, unchanged.ChunkStoredBytes, unchanged.Blobs, unchanged.PrunedVersions));
        // Versions 1, 2 and 4 go: 5 is current, 3 is in the snapshot (one day bucket: only its last is kept, and that is current).
        Assert.Equal(3, dry.VersionsPruned);
        Assert.True(dry.ChunksRemoved > 0);

        var report = store.CollectGarbage(policy, now: later);
        output.WriteLine(report.ToString());
        Assert.Equal(3, report.VersionsPruned);
        Assert.Equal(3, report.BlobsRemoved);
        Assert.Equal(dry.ChunksRemoved, report.ChunksRemoved);
        var after = store.Usage();
        Assert.Equal(3, after.PrunedVersions);
        Assert.True(after.ChunkStoredBytes < before.ChunkStoredBytes / 2, $"{after.ChunkStoredBytes} of {before.ChunkStoredBytes}");

        foreach (var (seq, text) in versions)
        {
            var content = store.Content("notes.txt", seq);
            if (seq == versions[2].Seq || seq == versions[4].Seq)
                Assert.Equal(Encoding.UTF8.GetBytes(text), store.ReadAllBytes("notes.txt", seq));
            else
            {
                Assert.Equal(ContentState.Pruned, content.State);
                Assert.False(content.IsAvailable);
                var e = Assert.Throws<ContentUnavailableException>(() => store.ReadAllBytes("notes.txt", seq));
                Assert.Contains("retention policy", e.Message);
            }
        }
        Assert.True(store.Verify().Ok); // the events stay whole
        Assert.True(store.RebuildIndex().AgreedWithPrevious); // the pruned marks survive a rebuild

        var again = store.CollectGarbage(policy, now: later);
        Assert.Equal(0, again.VersionsPruned + again.ChunksRemoved + again.BlobsRemoved);
    }

    [Fact]
    public async Task Gc_while_a_capture_is_in_flight_keeps_the_chunks_the_capture_counts_on()
    {
        using var project = new TempProject();
        using var store = project.Open();
        var x = SourceText(200_000, 11);
        project.Write("a.txt", x);
        var first = store.RecordCreate("dev", "a.txt");
        project.Write("a.txt", "something else");
        store.CaptureOnClose("dev", "a.txt");

        // Another file gets x's bytes: read now (its chunks are found stored, so not sent again), recorded later.
        project.Write("b.txt", "");
        store.RecordCreate("dev", "b.txt");
        project.Write("b.txt", x);
        CapturedContent captured;
        using (var f = File.OpenHandle(project.Abs("b.txt")))
            captured = store.ReadContent(f, "b.txt")!;

        // Meanwhile gc thins a.txt's first version: x is referenced by nothing committed, only by the capture.
        var report = store.CollectGarbage(new RetentionPolicy { KeepAll = TimeSpan.Zero, Hourly = TimeSpan.Zero, Daily = TimeSpan.Zero }, now: DateTime.UtcNow.AddDays(1));
        Assert.Equal(1, report.VersionsPruned);
        Assert.True(report.PinnedKept > 0);
        store.CommitSoon();
        var recorded = (await store.RecordWriteAsync("dev", "b.txt", captured))!;
        Assert.Equal(Encoding.UTF8.GetBytes(x), store.ReadAllBytes("b.txt", recorded.Seq));
        Assert.Equal(ContentState.Pruned, store.Content("a.txt", first.Seq).State);

        // Once recorded, the pins are gone and a later gc keeps x because b.txt's version names it.
        var later = store.CollectGarbage(RetentionPolicy.Default);
        Assert.Equal(0, later.PinnedKept);
        Assert.Equal(Encoding.UTF8.GetBytes(x), store.ReadAllBytes("b.txt", recorded.Seq));
    }

    [Fact]
    public void Gc_removes_old_unreferenced_object_files_and_leaves_young_and_referenced_ones()
    {
        using var project = new TempProject();
        using var store = project.Open();
        File.CreateSymbolicLink(project.Abs("link"), "kept target");
        store.RecordCreate("dev", "link");
        var orphan = store.Objects.PathOf(new string('a', 64));
        var young = store.Objects.PathOf(new string('b', 64));
        foreach (var p in new[] { orphan, young })
        {
            Directory.CreateDirectory(Path.GetDirectoryName(p)!);
            File.WriteAllText(p, "nobody refers to me");
        }
        File.SetLastWriteTimeUtc(orphan, DateTime.UtcNow.AddHours(-2));
        // The empty object: named by no version yet, but every empty file will be, without a capture to store it again.
        var empty = store.Objects.PathOf(Convert.ToHexStringLower(SHA256.HashData([])));
        File.SetLastWriteTimeUtc(empty, DateTime.UtcNow.AddHours(-2));
        var report = store.CollectGarbage(RetentionPolicy.Default);
        Assert.Equal(1, report.ObjectFilesRemoved);
        Assert.False(File.Exists(orphan));
        Assert.True(File.Exists(young));
        Assert.Equal("kept target"u8.ToArray(), store.ReadAllBytes("link", StorePoint.Latest));
        Assert.True(File.Exists(empty));
        project.Write("empty.txt", "");
        var e = store.RecordCreate("dev", "empty.txt");
        Assert.Empty(store.ReadAllBytes("empty.txt", e.Seq));
    }
}
