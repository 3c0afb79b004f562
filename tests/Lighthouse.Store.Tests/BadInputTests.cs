using System.Text;
using Lighthouse.Interop;
using Lighthouse.Store;
using Xunit.Abstractions;

namespace Lighthouse.Store.Tests;

public class BadInputTests(ITestOutputHelper output)
{
    private static StoreOptions NoReconcile => TempProject.Fast with { ReconcileOnOpen = false };

    [Fact]
    public void A_file_that_is_not_a_database_is_reported_and_left_untouched()
    {
        using var project = new TempProject();
        Directory.CreateDirectory(project.Abs(".lighthouse"));
        var db = project.Abs(".lighthouse/lighthouse.db");
        var garbage = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("this is not a database. ", 400)));
        File.WriteAllBytes(db, garbage);

        var e = Assert.Throws<StoreCorruptException>(() => project.Open());
        output.WriteLine(e.Message);
        Assert.Contains(db, e.Message);
        Assert.Contains("corrupt", e.Message);
        Assert.Equal(0, e.LastGoodEvent);
        Assert.Equal(garbage, File.ReadAllBytes(db));
    }

    [Fact]
    public void A_truncated_database_is_reported_with_the_last_good_event()
    {
        using var project = new TempProject();
        for (var i = 0; i < 400; i++) project.Write($"d{i % 10}/file-with-a-longer-name-{i}.txt", "x");
        string db;
        long last;
        using (var store = project.Open())
        {
            db = store.DatabasePath;
            last = store.LastSeq;
        }
        var length = new FileInfo(db).Length;
        using (var f = new FileStream(db, FileMode.Open)) f.SetLength(length / 2);

        var e = Assert.Throws<StoreCorruptException>(() => project.Open());
        output.WriteLine(e.Message);
        Assert.Contains("corrupt", e.Message);
        Assert.Contains("last good event", e.Message);
        Assert.InRange(e.LastGoodEvent, 1, last - 1);
        Assert.Equal(length / 2, new FileInfo(db).Length);
    }

    [Fact]
    public void A_missing_chunk_is_reported_and_the_rest_of_history_still_reads()
    {
        using var project = new TempProject();
        using var store = project.Open();
        project.Write("lost.txt", "these bytes will vanish");
        var lost = store.RecordCreate("b", "lost.txt");
        project.Write("kept.txt", "these stay");
        store.RecordCreate("b", "kept.txt");
        // Its one chunk: the first 32 bytes of its recipe.
        StoreSql.Exec(project.Dir, "DELETE FROM chunks WHERE hash = (SELECT substr(recipe, 1, 32) FROM blobs WHERE hash = $a)", lost.ContentHash!);

        var e = Assert.Throws<ContentCorruptException>(() => store.ReadAllBytes("lost.txt", lost.Seq));
        output.WriteLine(e.Message);
        Assert.Contains("'lost.txt' version @" + lost.Seq, e.Message);
        Assert.Contains("missing", e.Message);
        Assert.Equal("these stay"u8.ToArray(), store.ReadAllBytes("kept.txt", StorePoint.Latest));
        Assert.Equal(lost.Attributes!.Size, store.Attributes("lost.txt", StorePoint.Latest).Size);
        Assert.True(store.Verify().Ok);
    }

    [Fact]
    public void A_corrupt_chunk_is_an_error_naming_file_and_version_never_other_bytes()
    {
        using var project = new TempProject();
        using var store = project.Open();
        var text = string.Concat(Enumerable.Range(0, 4000).Select(i => $"line {i}: the quick brown fox\n"));
        project.Write("big.txt", text);
        var e = store.RecordCreate("b", "big.txt");
        Assert.True(store.Usage().Chunks > 1, "several chunks");
        // Flip a byte in the middle of one stored chunk (compressed or not).
        using (var c = StoreSql.Open(project.Dir))
        {
            using var cmd = c.CreateCommand();
            cmd.CommandText = "SELECT rowid, data FROM chunks ORDER BY rowid LIMIT 1";
            long id; byte[] data;
            using (var r = cmd.ExecuteReader()) { r.Read(); id = r.GetInt64(0); data = (byte[])r.GetValue(1); }
            data[data.Length / 2] ^= 0x5a;
            using var update = c.CreateCommand();
            update.CommandText = "UPDATE chunks SET data = $a WHERE rowid = $b";
            update.Parameters.AddWithValue("$a", data);
            update.Parameters.AddWithValue("$b", id);
            update.ExecuteNonQuery();
        }
        var error = Assert.Throws<ContentCorruptException>(() => store.ReadAllBytes("big.txt", e.Seq));
        output.WriteLine(error.Message);
        Assert.Contains("'big.txt' version @" + e.Seq, error.Message);
        Assert.True(error.Message.Contains("corrupt") || error.Message.Contains("decompressed"), error.Message);
    }

    [Fact]
    public void Files_above_the_capture_limit_keep_metadata_only_history_and_say_so()
    {
        using var project = new TempProject();
        using var store = project.Open(TempProject.Fast with { MaxCaptureBytes = 1000 });
        project.Write("big.bin", new byte[5000]);
        var e = store.RecordCreate("b", "big.bin");
        Assert.Equal(ContentState.TooLarge, e.ContentState);
        project.Write("big.bin", new byte[6000]);
        var w = store.CaptureOnClose("b", "big.bin")!;
        Assert.Equal(ContentState.TooLarge, w.ContentState);

        var content = store.Content("big.bin", e.Seq);
        Assert.False(content.IsAvailable);
        Assert.Contains("capture limit", content.Unavailable);
        var error = Assert.Throws<ContentUnavailableException>(() => store.OpenContent("big.bin", e.Seq));
        Assert.Contains("metadata only", error.Message);
        Assert.Equal([5000L, 6000], store.Versions("big.bin").Select(v => v.Attributes.Size));
    }

    [Fact]
    public void Names_that_are_not_UTF8_are_refused_with_a_clear_error_and_skipped_by_reconciliation()
    {
        using var project = new TempProject();
        project.Write("good.txt", "g");
        var badName = new byte[] { (byte)'b', 0xFF, 0xFE, (byte)'.', (byte)'t', (byte)'x', (byte)'t' };
        var full = Encoding.UTF8.GetBytes(project.Dir + "/").Concat(badName).Append((byte)0).ToArray();
        int fd;
        unsafe { fixed (byte* p = full) fd = Libc.Open(p, Libc.O_CREAT | Libc.O_WRONLY, 0x1A4); }
        Assert.True(fd >= 0, "could not create the test file");
        Libc.Close(fd);

        try
        {
            CheckBadNameIsSkipped(project, badName);
        }
        finally
        {
            // .NET cannot name this file to delete it: remove it by its bytes.
            unsafe { fixed (byte* p = full) Libc.UnlinkAt(Libc.AT_FDCWD, p, 0); }
        }
    }

    private void CheckBadNameIsSkipped(TempProject project, byte[] badName)
    {
        using var store = project.Open();
        var skipped = Assert.Single(store.OpenReport!.Skipped);
        output.WriteLine(skipped);
        Assert.Contains("not valid UTF-8", skipped);
        Assert.Equal(["good.txt"], store.List("", StorePoint.Latest).Select(e => e.Name));

        var e = Assert.Throws<InvalidStorePathException>(() => StorePath.FromBytes(badName));
        Assert.Contains("not valid UTF-8", e.Message);
        Assert.Throws<InvalidStorePathException>(() => store.RecordCreate("b", "bad\uD800name"));
        Assert.True(store.Verify().Ok);
    }

    [Fact]
    public void A_name_of_255_bytes_works_and_256_is_refused()
    {
        using var project = new TempProject();
        using var store = project.Open();
        var ascii = new string('n', 251) + ".txt";
        var multiByte = string.Concat(Enumerable.Repeat("é", 127)) + "x"; // 254 + 1 bytes
        Assert.Equal(255, Encoding.UTF8.GetByteCount(ascii));
        Assert.Equal(255, Encoding.UTF8.GetByteCount(multiByte));
        foreach (var name in new[] { ascii, multiByte })
        {
            project.Write(name, name);
            var e = store.RecordCreate("b", name);
            Assert.Equal(name, store.Lookup("", name, e.Seq)!.Name);
            Assert.Equal(Encoding.UTF8.GetBytes(name), store.ReadAllBytes(name, StorePoint.Latest));
        }
        Assert.Empty(store.Reconcile().Events);
        Assert.True(store.RebuildIndex().AgreedWithPrevious);

        var tooLong = new string('n', 256);
        var error = Assert.Throws<InvalidStorePathException>(() => store.RecordCreate("b", tooLong));
        output.WriteLine(error.Message);
        Assert.Contains("256 bytes", error.Message);
        Assert.Contains("255", error.Message);
        Assert.Throws<InvalidStorePathException>(() => store.LookupPath("dir/" + tooLong, StorePoint.Latest));
    }

    [Fact]
    public void A_full_disk_fails_the_change_with_a_clear_error_and_loses_nothing_recorded() => OnSmallTmpfs("4m", mountPoint =>
    {
        var project = Path.Combine(mountPoint, "project");
        Directory.CreateDirectory(project);
        File.WriteAllText(Path.Combine(project, "readme.md"), "hello");
        var recorded = new List<StoreEvent>();
        using (var store = ProjectStore.Open(project, new StoreOptions()))
        {
            for (var i = 0; i < 20; i++)
            {
                File.WriteAllText(Path.Combine(project, $"f{i}.txt"), "content " + i);
                recorded.Add(store.RecordCreate("builder", $"f{i}.txt"));
            }
            File.WriteAllBytes(Path.Combine(project, "big.bin"), new byte[512 * 1024]);
            Fill(mountPoint);

            // Capturing needs room for a copy: it must fail cleanly.
            var full = Assert.Throws<StoreFullException>(() => store.RecordCreate("builder", "big.bin"));
            output.WriteLine(full.Message);
            Assert.Contains("no space left on device", full.Message);

            // Event-only changes until SQLite itself runs out of room: any failure must be the same clear error.
            StoreFullException? sqliteFull = null;
            for (var i = 0; i < 3000 && sqliteFull is null; i++)
            {
                var dir = $"dir-{i}-" + new string('x', 180);
                try
                {
                    Directory.CreateDirectory(Path.Combine(project, dir));
                }
                catch (IOException)
                {
                    break; // the directory itself no longer fits
                }
                try
                {
                    recorded.Add(store.RecordCreate("builder", dir));
                }
                catch (StoreFullException e)
                {
                    sqliteFull = e;
                }
            }
            output.WriteLine(sqliteFull?.Message ?? "SQLite did not run out of room before the directory tree did");
            Unfill(mountPoint);

            // The writer recovers once there is room again.
            recorded.Add(store.RecordCreate("builder", "big.bin"));
        }

        using var reopened = ProjectStore.Open(project, new StoreOptions { ReconcileOnOpen = false });
        Assert.True(reopened.Verify().Ok);
        foreach (var e in recorded)
        {
            var logged = reopened.Log(new LogQuery { BeforeSeq = e.Seq + 1, Limit = 1 }).Events.Single();
            Assert.Equal((e.Seq, e.Path, e.Op), (logged.Seq, logged.Path, logged.Op));
        }
        Assert.True(reopened.RebuildIndex().AgreedWithPrevious);
    });

    [Fact]
    public void Gc_on_a_full_disk_fails_cleanly_or_succeeds_and_every_kept_version_still_reads() => OnSmallTmpfs("8m", mountPoint =>
    {
        var project = Path.Combine(mountPoint, "project");
        Directory.CreateDirectory(project);
        var kept = new Dictionary<long, byte[]>();
        using (var store = ProjectStore.Open(project, new StoreOptions()))
        {
            var random = new Random(5);
            File.WriteAllText(Path.Combine(project, "a.txt"), "");
            store.RecordCreate("builder", "a.txt");
            for (var v = 0; v < 6; v++)
            {
                var bytes = new byte[200_000];
                random.NextBytes(bytes); // incompressible: every version its own chunks
                File.WriteAllBytes(Path.Combine(project, "a.txt"), bytes);
                kept[store.CaptureOnClose("builder", "a.txt")!.Seq] = bytes;
            }
            Fill(mountPoint);
            var policy = new Lighthouse.Store.Retention.RetentionPolicy { KeepAll = TimeSpan.Zero, Hourly = TimeSpan.Zero, Daily = TimeSpan.Zero };
            try
            {
                var report = store.CollectGarbage(policy, now: DateTime.UtcNow.AddDays(1));
                output.WriteLine("gc succeeded on a full disk: " + report);
            }
            catch (StoreFullException e)
            {
                output.WriteLine(e.Message);
                Assert.Contains("no space left on device", e.Message);
                Assert.Contains("collecting garbage", e.Message);
            }
            // Whatever happened, every version reads back exactly or was thinned (never other bytes).
            foreach (var (seq, bytes) in kept)
            {
                var content = store.Content("a.txt", seq);
                if (content.State != ContentState.Pruned) Assert.Equal(bytes, store.ReadAllBytes("a.txt", seq));
            }
            Unfill(mountPoint);

            // With room again, gc completes: only the current version keeps its bytes.
            store.CollectGarbage(policy, now: DateTime.UtcNow.AddDays(1));
            var last = kept.Keys.Max();
            Assert.Equal(kept[last], store.ReadAllBytes("a.txt", last));
            Assert.All(kept.Keys.Where(k => k != last), k => Assert.Equal(ContentState.Pruned, store.Content("a.txt", k).State));
            Assert.True(store.Verify().Ok);
        }
    });

    /// <summary>Runs <paramref name="test"/> with a fresh tmpfs of <paramref name="size"/> mounted for it (a disk that fills
    /// up), unmounted afterwards whatever happens; skipped (said so) when not root.</summary>
    private void OnSmallTmpfs(string size, Action<string> test)
    {
        if (Libc.GetEuid() != 0)
        {
            output.WriteLine("SKIPPED: mounting a small tmpfs needs root");
            return;
        }
        var mountPoint = Path.Combine(Path.GetTempPath(), "lh-full-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(mountPoint);
        Assert.True(Libc.Mount("tmpfs", mountPoint, "tmpfs", 0, "size=" + size) == 0, "mount tmpfs failed");
        try
        {
            test(mountPoint);
        }
        finally
        {
            Libc.Umount2(mountPoint, Libc.MNT_DETACH);
            Directory.Delete(mountPoint, true);
        }
    }

    private static void Unfill(string dir)
    {
        foreach (var f in Directory.EnumerateFiles(dir, "filler-*")) File.Delete(f);
    }

    private static void Fill(string dir)
    {
        var chunk = new byte[64 * 1024];
        var n = 0;
        for (var size = chunk.Length; size >= 512; size /= 2)
        {
            try
            {
                using var f = new FileStream(Path.Combine(dir, $"filler-{n++}"), FileMode.CreateNew);
                while (true) { f.Write(chunk, 0, size); f.Flush(); }
            }
            catch (IOException)
            {
                // full at this granularity; try smaller writes
            }
        }
    }
}
