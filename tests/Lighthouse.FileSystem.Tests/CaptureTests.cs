using System.Diagnostics;
using System.Text;
using Lighthouse.Interop;
using Lighthouse.Store;

namespace Lighthouse.FileSystem.Tests;

/// <summary>When and how current/ captures content: from descriptors, at any depth, at the capture points, following
/// atomic saves in `lighthouse history`.</summary>
public class CaptureTests(LighthouseMountFixture mount) : IClassFixture<LighthouseMountFixture>
{
    private string Cur(string p) => Path.Combine(mount.Current, p);

    private IProjectStore OpenStore() =>
        SqliteProjectStoreFactory.Instance.OpenReadOnly(mount.Project, new StoreOptions { ReconcileOnOpen = false, CheckIntegrityOnOpen = false });

    [Fact]
    public void A_file_deeper_than_PATH_MAX_is_recorded_with_its_content_and_history_serves_it()
    {
        long start = mount.LastSeq;
        Directory.CreateDirectory(Cur("deep"));
        string dir = "deep/" + DeepTree.Path;
        using (var bottom = DeepTree.Walk(Cur("deep"), create: true))
        {
            DeepTree.Write(bottom, "file.txt", "deep content\n");
            int fd = (int)bottom.DangerousGetHandle();
            Assert.Equal(0, Libc.RenameAt2(fd, "file.txt", fd, "renamed.txt", 0));
            Assert.Equal(0, Libc.UnlinkAt(fd, "renamed.txt", 0));
        }

        mount.WaitForEvent(e => e.Op == "unlink" && e.Path == dir + "/renamed.txt", start);
        var events = mount.Events(start);
        Assert.Equal(DeepTree.Names.Length + 1, events.Count(e => e.Op == "mkdir"));
        var file = events.Where(e => e.Path.StartsWith(dir + "/", StringComparison.Ordinal)).ToList();
        Assert.Equal([("create", "file.txt"), ("write", "file.txt"), ("rename", "file.txt"), ("unlink", "renamed.txt")],
            file.Select(e => (e.Op, e.Path[(dir.Length + 1)..])));
        Assert.Equal(dir + "/renamed.txt", file[2].Path2);
        Assert.DoesNotContain("could not record", mount.Log);
        Assert.DoesNotContain("could not watch", mount.Log); // the watcher of the project directory reaches that depth too

        // history/ serves it at that depth, reached one name at a time.
        using (var then = DeepTree.Walk(Path.Combine(mount.History, $"@{file[1].Seq}", "deep")))
            Assert.Equal("deep content\n", DeepTree.Read(then, "file.txt"));
        using (var renamed = DeepTree.Walk(Path.Combine(mount.History, $"@{file[2].Seq}", "deep")))
            Assert.Equal("deep content\n", DeepTree.Read(renamed, "renamed.txt"));
        using var store = OpenStore();
        Assert.Equal("deep content\n", Encoding.UTF8.GetString(store.ReadAllBytes(dir + "/file.txt", file[1].Seq)));
    }

    [Fact]
    public void A_change_to_an_open_file_that_has_no_name_any_more_is_not_a_recording_failure()
    {
        long start = mount.LastSeq;
        var path = Cur("unlinked-open.txt");
        using (var f = new FileStream(path, FileMode.Create, FileAccess.ReadWrite))
        {
            f.Write("abc"u8);
            f.Flush();
            File.Delete(path);
            // fchmod and ftruncate of a file with no name: they change no file of the tree, so there is nothing to record.
            File.SetUnixFileMode(f.SafeFileHandle, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            f.SetLength(1);
        }
        File.WriteAllText(Cur("after-unlinked.txt"), "x");
        mount.WaitForEvent(e => e.Path == "after-unlinked.txt", start);
        Assert.DoesNotContain("has no path any more", mount.Log);
        // Its life through the name, then nothing after the unlink (and its bytes as written).
        var ops = mount.Events(start).Where(e => e.Path == "unlinked-open.txt").Select(e => e.Op).ToList();
        Assert.Equal("create", ops[0]);
        Assert.Equal("unlink", ops[^1]);
        Assert.Single(ops, "unlink");
    }

    [Fact]
    public void A_file_kept_open_and_fsynced_a_thousand_times_is_captured_about_once_a_second_and_at_close()
    {
        const string name = "fsynced.log";
        long start = mount.LastSeq;
        var sw = Stopwatch.StartNew();
        using (var log = new FileStream(Cur(name), FileMode.CreateNew, FileAccess.Write, FileShare.Read, 1))
            for (int i = 0; i < 1000; i++)
            {
                log.Write(Encoding.ASCII.GetBytes($"line {i}\n"));
                log.Flush(flushToDisk: true); // fsync
            }
        double seconds = sw.Elapsed.TotalSeconds;
        byte[] final = File.ReadAllBytes(Cur(name));

        // The close's capture holds the final content.
        using var store = OpenStore();
        var deadline = Stopwatch.StartNew();
        IReadOnlyList<FileVersion> versions;
        while (!(versions = store.Versions(name))[^1].ContentHash!.Equals(Sha256(final), StringComparison.Ordinal))
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(15), $"the last version is not the final content:\n{mount.Log}");
            Thread.Sleep(100);
        }
        Assert.Equal(final, store.ReadAllBytes(name, versions[^1].VersionSeq));
        // One at the first fsync, at most one more per second of fsyncs, one at close; and the creation.
        var writes = versions.Count(v => v.Op == EventOp.Write);
        Assert.InRange(writes, 1, (int)seconds + 2);
        Assert.Equal(writes + 1, versions.Count);
        Assert.All(mount.Events(start).Where(e => e.Path == name), e => Assert.Contains(e.Op, new[] { "create", "write" }));
    }

    [Fact]
    public void An_fsync_of_a_history_file_does_not_stop_fsyncs_in_current_from_reaching_the_mount()
    {
        const string name = "fsync-after-history.txt";
        File.WriteAllText(Cur(name), "one\n");
        var first = mount.WaitForEvent(e => e.Path == name && e.Op == "write");
        // fsync a past version (read-only): were it answered "not supported", the kernel would stop sending fsync for the
        // whole mount, current/ included, and the capture at fsync below would wait for the close.
        using (var old = File.OpenHandle(Path.Combine(mount.History, $"@{first.Seq}", name)))
            Assert.Equal(0, Libc.Fsync((int)old.DangerousGetHandle()));
        Thread.Sleep(1100); // past the once-a-second limit on captures of one file
        using var file = new FileStream(Cur(name), FileMode.Append, FileAccess.Write, FileShare.Read, 1);
        file.Write("two\n"u8);
        file.Flush(flushToDisk: true);
        var captured = mount.WaitForEvent(e => e.Path == name && e.Op == "write", first.Seq);
        Assert.True(file.SafeFileHandle is { IsClosed: false }); // still open: the fsync, not a close, made the version
        using var store = OpenStore();
        Assert.Equal("one\ntwo\n", Encoding.UTF8.GetString(store.ReadAllBytes(name, captured.Seq)));
    }

    private static string Sha256(byte[] bytes) => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes));

    [Fact]
    public void Sed_in_place_is_recorded_as_its_temporary_file_renamed_over_and_history_follows_the_name()
    {
        Directory.CreateDirectory(Cur("sed"));
        File.WriteAllText(Cur("sed/hello.c"), "int a;\n");
        long first = mount.WaitForEvent(e => e.Path == "sed/hello.c" && e.Op == "write").Seq;

        LighthouseMountFixture.MustRun("sed", $"-i s/a/b/ {Cur("sed/hello.c")}");

        var rename = mount.WaitForEvent(e => e.Op == "rename" && e.Path2 == "sed/hello.c", first);
        Assert.StartsWith("sed/sed", rename.Path);
        Assert.Equal("root/sed", rename.Agent);
        // Settled at the rename: the temporary file's content was captured before it.
        Assert.Equal("int b;\n", File.ReadAllText(Path.Combine(mount.History, $"@{rename.Seq}", "sed", "hello.c")));
        Assert.Equal("int a;\n", File.ReadAllText(Path.Combine(mount.History, $"@{rename.Seq - 1}", "sed", "hello.c")));

        string lighthouse = Path.Combine(mount.RepoRoot, "lighthouse");
        string history = LighthouseMountFixture.MustRun(lighthouse, $"history sed/hello.c -C {mount.Project}");
        var rows = history.Split('\n').Where(l => l.StartsWith('@')).ToList();
        Assert.True(rows.Count >= 3, history);
        Assert.Contains("root/sed", rows[0]);
        Assert.Contains(rename.Path, rows[0]); // the version's own name: sed's temporary file
        Assert.Contains("sed/hello.c", rows[^1]);
        Assert.Contains("2 files that held 'sed/hello.c'", history);

        string one = LighthouseMountFixture.MustRun(lighthouse, $"history sed/hello.c --no-follow -C {mount.Project}");
        Assert.Contains("version(s) of file #", one);
        Assert.All(one.Split('\n').Where(l => l.StartsWith('@')), l => Assert.Contains("root/sed", l));
    }
}
