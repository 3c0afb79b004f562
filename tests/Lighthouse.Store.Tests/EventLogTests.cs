using Lighthouse.Interop;
using Lighthouse.Store;
using Lighthouse.Store.Testing;

namespace Lighthouse.Store.Tests;

public class EventLogTests
{
    private static StoreOptions NoReconcile => TempProject.Fast with { ReconcileOnOpen = false };

    private static void Populate(TempProject project, int files)
    {
        using var store = project.Open();
        for (var i = 0; i < files; i++)
        {
            project.Write($"f{i}.txt", "v" + i);
            store.RecordCreate("builder", $"f{i}.txt");
        }
    }

    [Fact]
    public void Verify_reports_the_first_altered_event()
    {
        using var project = new TempProject();
        Populate(project, 10);
        using (var store = project.Open(NoReconcile)) Assert.True(store.Verify().Ok);

        StoreTampering.AlterEvent(project.Dir, 6, e => e with { Agent = "mallory" });
        using var reopened = project.Open(NoReconcile);
        Assert.Equal("mallory", reopened.EventsAfter(5, 1).Single().Agent);
        var result = reopened.Verify();
        Assert.False(result.Ok);
        Assert.Equal(6, result.FirstBrokenSeq);
        Assert.Equal(5, result.LastGoodSeq);
        Assert.Contains("altered", result.Problem);
        Assert.Equal(result, reopened.VerifyTail(100));
        Assert.True(reopened.VerifyTail(4).Ok);
    }

    [Fact]
    public void Verify_reports_an_event_whose_directory_times_were_altered_added_or_removed()
    {
        using var project = new TempProject();
        long created, moved, chmod;
        using (var store = project.Open())
        {
            Directory.CreateDirectory(project.Abs("d"));
            store.RecordCreate("builder", "d");
            project.Write("a.txt", "a");
            created = store.RecordCreate("builder", "a.txt").Seq;
            File.Move(project.Abs("a.txt"), project.Abs("d/a.txt"));
            moved = store.RecordRename("builder", "a.txt", "d/a.txt")!.Seq;
            File.SetUnixFileMode(project.Abs("d"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            chmod = store.RecordSetAttributes("builder", "d")!.Seq;
            Assert.True(store.Verify().Ok);
        }
        void Broken(long seq, Func<StoreEvent, StoreEvent> change)
        {
            StoreEvent original;
            using (var reader = ProjectStore.OpenReadOnly(project.Dir)) original = reader.EventsAfter(seq - 1, 1).Single();
            StoreTampering.AlterEvent(project.Dir, seq, change);
            using (var reader = ProjectStore.OpenReadOnly(project.Dir)) Assert.Equal(seq, reader.Verify().FirstBrokenSeq);
            StoreTampering.AlterEvent(project.Dir, seq, _ => original); // the stored hash was kept: as it was, it verifies again
            using (var reader = ProjectStore.OpenReadOnly(project.Dir)) Assert.True(reader.Verify().Ok);
        }
        Broken(created, e => e with { DirMtimeNs = e.DirMtimeNs + 1 });
        Broken(moved, e => e with { Dir2MtimeNs = e.Dir2MtimeNs - 1 });
        Broken(moved, e => e with { DirMtimeNs = null, Dir2MtimeNs = null });
        Broken(chmod, e => e with { DirMtimeNs = 42 });
    }

    [Fact]
    public void Verify_reports_a_deleted_event_as_a_gap()
    {
        using var project = new TempProject();
        Populate(project, 8);
        StoreTampering.RemoveEvent(project.Dir, 4);
        using var store = project.Open(NoReconcile);
        var result = store.Verify();
        Assert.False(result.Ok);
        Assert.Equal(4, result.FirstBrokenSeq);
        Assert.Contains("missing", result.Problem);
        // The tail check starting right after the gap finds the event it must link to missing.
        var tail = store.VerifyTail((int)(store.LastSeq - 4));
        Assert.False(tail.Ok);
        Assert.Equal(4, tail.FirstBrokenSeq);
        Assert.Contains("missing", tail.Problem);
    }

    [Fact]
    public void Every_operation_has_one_log_name_that_parses_back()
    {
        Assert.Equal(Enum.GetValues<EventOp>(), EventOpNames.All);
        var names = EventOpNames.All.Select(EventOpNames.Name).ToList();
        Assert.Equal(names.Count, names.Distinct().Count());
        Assert.Equal("setattr", EventOpNames.Name(EventOp.SetAttributes));
        Assert.Equal("snapshot-delete", EventOpNames.Name(EventOp.SnapshotDelete));
        foreach (var op in EventOpNames.All)
            Assert.True(EventOpNames.TryParse(EventOpNames.Name(op), out var parsed) && parsed == op, op.ToString());
        Assert.False(EventOpNames.TryParse("SetAttributes", out _));
    }

    [Fact]
    public void Tampering_refuses_an_event_that_does_not_exist()
    {
        using var project = new TempProject();
        Assert.Throws<StoreException>(() => StoreTampering.RemoveEvent(project.Dir, 1));
        Populate(project, 1);
        Assert.Throws<PointNotFoundException>(() => StoreTampering.AlterEvent(project.Dir, 99, e => e));
        Assert.Throws<PointNotFoundException>(() => StoreTampering.RemoveEvent(project.Dir, 99));
    }

    [Fact]
    public void Concurrent_writers_share_group_commits_and_lose_nothing()
    {
        using var project = new TempProject();
        using var store = project.Open(new StoreOptions { Durability = Durability.Full });
        var start = store.LastSeq;
        var (batches0, events0) = store.CommitStats;
        const int threads = 8, each = 40;
        var seqs = new System.Collections.Concurrent.ConcurrentBag<long>();
        var workers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
        {
            for (var i = 0; i < each; i++)
            {
                var path = $"t{t}-{i}";
                Directory.CreateDirectory(project.Abs(path));
                seqs.Add(store.RecordCreate("agent" + t, path).Seq);
            }
        })).ToList();
        workers.ForEach(w => w.Start());
        workers.ForEach(w => w.Join());

        var (batches, events) = store.CommitStats;
        Assert.Equal(threads * each, events - events0);
        Assert.True(batches - batches0 < events - events0, $"{batches - batches0} commits for {events - events0} events: no grouping happened");
        Assert.Equal(Enumerable.Range(1, threads * each).Select(i => start + i), seqs.Order());
        Assert.True(store.Verify().Ok);
        Assert.Equal(threads * each, store.List("", StorePoint.Latest).Count);
    }

    [Fact]
    public void A_rejected_mutation_does_not_disturb_the_others_in_its_batch()
    {
        using var project = new TempProject();
        project.Write("exists.txt", "x");
        using var store = project.Open();
        var error = Assert.Throws<IndexConflictException>(() => store.RecordCreate("builder", "exists.txt"));
        Assert.Contains("already exists", error.Message);
        Assert.Throws<IndexConflictException>(() => store.RecordUnlink("builder", "missing.txt"));
        project.Write("next.txt", "n");
        var e = store.RecordCreate("builder", "next.txt");
        Assert.Equal(store.LastSeq, e.Seq);
        Assert.True(store.Verify().Ok);
        Assert.True(store.RebuildIndex().AgreedWithPrevious);
    }

    [Fact]
    public async Task A_mutation_failing_after_it_wrote_is_undone_alone_even_without_a_savepoint()
    {
        using var project = new TempProject();
        using var store = project.Open(TempProject.Fast with { BatchWindow = TimeSpan.FromMilliseconds(200) });
        var attrs = new NodeAttributes(FileKind.File, 0, 0x1a4, 0, 1, 0, 0, 0);
        // One batch (the window holds it open): a good record, one that appends and then fails (the batch must be
        // run again with savepoints), one that fails before writing, and another good one.
        var before = store.RecordCreateAsync("builder", "a.txt", attrs);
        var dirty = store.Writer.SubmitAsync<StoreEvent>(ctx =>
        {
            ctx.Append(new Events.EventDraft("builder", EventOp.Create, "half.txt", NewVersion: true, Attributes: attrs,
                ContentState: ContentState.Captured, ContentHash: store.EmptyHash));
            throw new IndexConflictException("failed halfway");
        }, savepoint: false);
        var clean = store.RecordUnlinkAsync("builder", "missing.txt");
        var after = store.RecordCreateAsync("builder", "b.txt", attrs);
        store.CommitSoon();

        Assert.Contains("failed halfway", (await Assert.ThrowsAnyAsync<IndexConflictException>(() => dirty)).Message);
        await Assert.ThrowsAnyAsync<IndexConflictException>(() => clean);
        Assert.Equal((await before).Seq + 1, (await after).Seq);
        Assert.Equal(2, store.CommitStats.Events - 1); // the init event, then a.txt and b.txt
        Assert.Equal(["a.txt", "b.txt"], store.List("", StorePoint.Latest).Select(e => e.Name));
        Assert.True(store.Verify().Ok);
        Assert.True(store.RebuildIndex().AgreedWithPrevious);
    }

    [Fact]
    public async Task A_capture_in_a_batch_that_is_run_again_still_stores_its_chunks()
    {
        using var project = new TempProject();
        using var store = project.Open(TempProject.Fast with { BatchWindow = TimeSpan.FromMilliseconds(200) });
        project.Write("data.txt", "");
        store.RecordCreate("builder", "data.txt");
        var text = string.Concat(Enumerable.Range(0, 4000).Select(i => $"line {i} of a file the batch writes twice\n"));
        project.Write("data.txt", text);
        var attrs = new NodeAttributes(FileKind.File, 0, 0x1a4, 0, 1, 0, 0, 0);
        // One batch: the capture inserts its new chunks, then an item fails after it wrote, so the writer rolls the
        // batch back and runs it again with savepoints: the capture's chunks must be inserted again.
        var captured = store.CaptureOnCloseAsync("builder", "data.txt");
        var dirty = store.Writer.SubmitAsync<StoreEvent>(ctx =>
        {
            ctx.Append(new Events.EventDraft("builder", EventOp.Create, "half.txt", NewVersion: true, Attributes: attrs,
                ContentState: ContentState.Captured, ContentHash: store.EmptyHash));
            throw new IndexConflictException("failed halfway");
        }, savepoint: false);
        store.CommitSoon();

        await Assert.ThrowsAnyAsync<IndexConflictException>(() => dirty);
        var w = (await captured)!;
        Assert.Equal(text, System.Text.Encoding.UTF8.GetString(store.ReadAllBytes("data.txt", w.Seq)));
        Assert.True(store.Usage().Chunks > 0);
    }

    [Fact]
    public void A_sparse_file_is_captured_with_its_holes_and_the_hash_of_its_bytes()
    {
        using var project = new TempProject();
        using var store = project.Open();
        project.Write("sparse.bin", "");
        store.RecordCreate("builder", "sparse.bin");
        // Data, a hole of 3 MiB, data, and a hole at the end (made by the size alone).
        using (var f = new FileStream(project.Abs("sparse.bin"), FileMode.Open, FileAccess.Write))
        {
            f.Write("head"u8);
            f.Position = 3 << 20;
            f.Write("middle"u8);
            f.SetLength(5 << 20);
        }
        var bytes = File.ReadAllBytes(project.Abs("sparse.bin"));
        var w = store.CaptureOnClose("builder", "sparse.bin")!;

        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes)), w.ContentHash);
        Assert.Equal(bytes, store.ReadAllBytes("sparse.bin", w.Seq));
        var usage = store.Usage();
        Assert.NotNull(store.Content("sparse.bin", w.Seq).ChunkedHash);
        Assert.True(usage.ChunkStoredBytes < 64 << 10, $"the holes were stored as zeros: {usage.ChunkStoredBytes} bytes of chunks");
        Assert.Equal(2, usage.Chunks); // "head" and "middle": the holes are runs of zeros, never chunks
    }

    [Fact]
    public async Task Captured_objects_are_made_durable_together_before_the_commit_of_their_events()
    {
        // Whole object files are what symlink targets (and reflink clones) are kept as; chunks commit with their events.
        using var project = new TempProject();
        using var store = project.Open(TempProject.Fast with { FsyncObjects = true, BatchWindow = TimeSpan.FromSeconds(5) });
        var links = new List<Task<StoreEvent>>();
        for (var i = 0; i < 3; i++)
        {
            File.CreateSymbolicLink(project.Abs($"l{i}"), $"target number {i}");
            links.Add(store.RecordCreateAsync("builder", $"l{i}"));
        }
        Assert.Equal(3, store.Objects.UnsyncedCount); // stored, their events waiting in the batch window
        store.CommitSoon();
        foreach (var l in links) Assert.Equal(ContentState.Captured, (await l).ContentState);
        Assert.Equal(0, store.Objects.UnsyncedCount);
    }

    [Fact]
    public void Unlink_and_rename_over_keep_the_old_versions_readable()
    {
        using var project = new TempProject();
        project.Write("a.txt", "baseline A");
        project.Write("b.txt", "baseline B");
        using var store = project.Open();
        var atBaseline = store.LastSeq;

        // rename b over a: a's never-captured bytes are captured first.
        Assert.NotNull(store.CaptureBeforeModify("builder", "a.txt"));
        File.Move(project.Abs("b.txt"), project.Abs("a.txt"), overwrite: true);
        var rename = store.RecordRename("builder", "b.txt", "a.txt")!;
        Assert.NotNull(rename.OtherFileId);

        Assert.NotNull(store.CaptureBeforeModify("builder", "a.txt"));
        File.Delete(project.Abs("a.txt"));
        store.RecordUnlink("builder", "a.txt");

        Assert.Empty(store.List("", StorePoint.Latest));
        Assert.Equal("baseline A"u8.ToArray(), store.ReadAllBytes("a.txt", atBaseline));
        Assert.Equal("baseline B"u8.ToArray(), store.ReadAllBytes("b.txt", atBaseline));
        Assert.Equal("baseline B"u8.ToArray(), store.ReadAllBytes("a.txt", rename.Seq));
        Assert.Throws<StorePathNotFoundException>(() => store.Attributes("a.txt", StorePoint.Latest));
    }

    [Fact]
    public void Capture_before_modify_of_a_file_changed_outside_records_an_external_write()
    {
        using var project = new TempProject();
        project.Write("conf.ini", "a=1");
        using var store = project.Open();
        project.Write("conf.ini", "a=1\nb=2");
        var e = store.CaptureBeforeModify("builder", "conf.ini")!;
        Assert.Equal(EventOp.Write, e.Op);
        Assert.Equal(StoreConstants.ExternalAgent, e.Agent);
        Assert.Equal("a=1\nb=2"u8.ToArray(), store.ReadAllBytes("conf.ini", e.Seq));
        Assert.Null(store.CaptureBeforeModify("builder", "conf.ini"));
    }

    [Fact]
    public void Log_filters_by_agent_path_operation_and_time_and_pages_newest_first()
    {
        using var project = new TempProject();
        using var store = project.Open();
        Directory.CreateDirectory(project.Abs("src"));
        store.RecordCreate("builder", "src");
        Directory.CreateDirectory(project.Abs("srcx"));
        store.RecordCreate("security", "srcx");
        var t0 = DateTime.UtcNow;
        for (var i = 0; i < 25; i++)
        {
            project.Write($"src/f{i}.cs", "x");
            store.RecordCreate(i % 2 == 0 ? "builder" : "perf", $"src/f{i}.cs");
            project.Write($"src/f{i}.cs", "xy" + i);
            store.CaptureOnClose("builder", $"src/f{i}.cs");
        }
        File.Move(project.Abs("src/f0.cs"), project.Abs("srcx/moved.cs"));
        store.RecordRename("security", "src/f0.cs", "srcx/moved.cs");

        var all = new List<StoreEvent>();
        long? cursor = null;
        do
        {
            var page = store.Log(new LogQuery { PathPrefix = "src", Limit = 7, BeforeSeq = cursor });
            all.AddRange(page.Events);
            cursor = page.NextBefore;
        } while (cursor is not null);
        Assert.Equal(all.Select(e => e.Seq).OrderDescending(), all.Select(e => e.Seq));
        Assert.Equal(1 + 50 + 1, all.Count); // mkdir src, 25 creates + 25 writes, the rename out of src
        Assert.DoesNotContain(all, e => e.Path == "srcx");

        var perf = store.Log(new LogQuery { Agent = "perf", Limit = 1000 }).Events;
        Assert.Equal(12, perf.Count);
        Assert.All(perf, e => Assert.Equal(EventOp.Create, e.Op));

        var renames = store.Log(new LogQuery { Operations = [EventOp.Rename], PathPrefix = "srcx" }).Events;
        Assert.Equal("src/f0.cs", Assert.Single(renames).Path);

        Assert.Equal(51, store.Log(new LogQuery { FromUtc = t0, Limit = 1000 }).Events.Count);
        Assert.Empty(store.Log(new LogQuery { ToUtc = t0.AddDays(-1) }).Events);
    }

    [Fact]
    public void Versions_follow_a_file_across_renames_with_their_agents()
    {
        using var project = new TempProject();
        using var store = project.Open();
        project.Write("draft.md", "");
        store.RecordCreate("builder", "draft.md");
        project.Write("draft.md", "one");
        store.CaptureOnClose("builder", "draft.md");
        File.Move(project.Abs("draft.md"), project.Abs("final.md"));
        store.RecordRename("architect", "draft.md", "final.md");
        project.Write("final.md", "two!");
        store.CaptureOnClose("security", "final.md");

        var versions = store.Versions("final.md");
        Assert.Equal(["draft.md", "draft.md", "final.md"], versions.Select(v => v.Path));
        Assert.Equal(["builder", "builder", "security"], versions.Select(v => v.Agent));
        Assert.Equal([0L, 3, 4], versions.Select(v => v.Attributes.Size));
        Assert.All(versions, v => Assert.Equal(ContentState.Captured, v.ContentState));
        Assert.Single(versions.Select(v => v.FileId).Distinct());
        Assert.Equal("one"u8.ToArray(), store.ReadAllBytes("draft.md", versions[1].VersionSeq));
    }

    [Fact]
    public void Changed_lists_what_differs_between_two_points()
    {
        using var project = new TempProject();
        project.Write("keep.txt", "k");
        project.Write("edit.txt", "e");
        project.Write("gone.txt", "g");
        using var store = project.Open();
        var from = store.LastSeq;
        store.CaptureBeforeModify("b", "edit.txt");
        project.Write("edit.txt", "edited");
        store.CaptureOnClose("b", "edit.txt");
        store.CaptureBeforeModify("b", "gone.txt");
        File.Delete(project.Abs("gone.txt"));
        store.RecordUnlink("b", "gone.txt");
        project.Write("new.txt", "");
        store.RecordCreate("b", "new.txt");
        // A close after no change (same bytes, same metadata) records nothing.
        Assert.Null(store.CaptureOnClose("b", "new.txt"));

        var changes = store.Changed(from, StorePoint.Latest);
        Assert.Equal(
            [("edit.txt", ChangeKind.Modified), ("gone.txt", ChangeKind.Deleted), ("new.txt", ChangeKind.Added)],
            changes.Select(c => (c.Path, c.Change)));
    }

    [Fact]
    public void Snapshots_name_points_and_survive_a_rebuild()
    {
        using var project = new TempProject();
        using var store = project.Open();
        project.Write("a", "1");
        var first = store.RecordCreate("b", "a");
        var snap = store.CreateSnapshot("builder", "before-refactor");
        Assert.Equal(first.Seq, snap.Seq);
        project.Write("b", "2");
        store.RecordCreate("b", "b");
        store.CreateSnapshot("builder", "at-first", first.Seq);
        Assert.Throws<SnapshotExistsException>(() => store.CreateSnapshot("builder", "at-first"));

        Assert.Equal(["before-refactor", "at-first"], store.Snapshots().Select(s => s.Name).Order().Reverse());
        Assert.Equal(["a"], store.List("", StorePoint.Parse("before-refactor")).Select(e => e.Name));
        Assert.True(store.RebuildIndex().AgreedWithPrevious);
        Assert.Equal(2, store.Snapshots().Count);

        store.DeleteSnapshot("builder", "at-first");
        Assert.Equal(["before-refactor"], store.Snapshots().Select(s => s.Name));
        Assert.Throws<PointNotFoundException>(() => store.Resolve(StorePoint.AtSnapshot("at-first")));
        Assert.Throws<StoreException>(() => store.CreateSnapshot("builder", "@12"));
    }

    [Fact]
    public void Points_resolve_from_numbers_times_and_names()
    {
        using var project = new TempProject();
        using var store = project.Open();
        project.Write("a", "1");
        var e1 = store.RecordCreate("b", "a");
        Thread.Sleep(20);
        var between = DateTime.UtcNow;
        Thread.Sleep(20);
        project.Write("b", "2");
        var e2 = store.RecordCreate("b", "b");

        Assert.Equal(e1.Seq, store.Resolve(StorePoint.AtTime(between)));
        Assert.Equal(e1.Seq, store.Resolve(StorePoint.Parse(between.ToString("yyyy-MM-ddTHH:mm:ss.fffffffZ"))));
        Assert.Equal(e2.Seq, store.Resolve(StorePoint.Parse("@" + e2.Seq)));
        Assert.Equal(e2.Seq, store.Resolve(StorePoint.Latest));
        var beyond = Assert.Throws<PointNotFoundException>(() => store.Resolve(StorePoint.AtEvent(e2.Seq + 100)));
        Assert.Contains($"@1..@{e2.Seq}", beyond.Message);
        Assert.Throws<PointNotFoundException>(() => store.Resolve(StorePoint.AtTime(new DateTime(2000, 1, 1, 0, 0, 0, DateTimeKind.Utc))));
        Assert.Throws<FormatException>(() => StorePoint.Parse("@abc"));
    }

    [Fact]
    public void A_second_process_cannot_open_the_same_store()
    {
        using var project = new TempProject();
        using var store = project.Open();
        // flock is per open file description, so a second open in this process conflicts too.
        var e = Assert.Throws<StoreLockedException>(() => project.Open());
        Assert.Contains("already open", e.Message);
    }
}

public class LinkAndReconcileEdgeTests
{
    [Fact]
    public void A_hard_link_keeps_the_file_alive_after_the_first_name_is_removed()
    {
        using var project = new TempProject();
        using var store = project.Open();
        project.Write("a.txt", "shared bytes");
        var created = store.RecordCreate("b", "a.txt");
        Assert.Equal(0, Libc.Link(project.Abs("a.txt"), project.Abs("b.txt")));
        var link = store.RecordLink("b", "a.txt", "b.txt");
        Assert.Equal(created.FileId, store.LookupPath("b.txt", StorePoint.Latest)!.FileId);

        store.CaptureBeforeModify("b", "a.txt");
        File.Delete(project.Abs("a.txt"));
        store.RecordUnlink("b", "a.txt");

        // One name remains, so the file and its current version live on.
        var v = store.Attributes("b.txt", StorePoint.Latest);
        Assert.True(v.IsCurrent);
        Assert.Equal("shared bytes"u8.ToArray(), store.ReadAllBytes("b.txt", StorePoint.Latest));
        Assert.Equal(["a.txt"], store.List("", created.Seq).Select(e => e.Name));
        Assert.Equal(["a.txt", "b.txt"], store.List("", link.Seq).Select(e => e.Name));
        Assert.True(store.RebuildIndex().AgreedWithPrevious);
        Assert.Empty(store.Reconcile().Events);
    }

    [Fact]
    public void A_file_moved_up_over_its_own_former_ancestor_is_reconciled()
    {
        using var project = new TempProject();
        project.Write("a/b/x.txt", "x");
        using var store = project.Open();
        File.Move(project.Abs("a/b/x.txt"), project.Abs("tmp.txt"));
        Directory.Delete(project.Abs("a"), true);
        File.Move(project.Abs("tmp.txt"), project.Abs("a"));

        store.Reconcile();

        Assert.Equal(TreeReader.ReadDisk(project.Dir), TreeReader.Read(store, StorePoint.Latest));
        Assert.True(store.RebuildIndex().AgreedWithPrevious);
    }
}

public class ReadOnlyTests
{
    [Fact]
    public void A_read_only_store_sees_what_the_writer_commits_and_refuses_to_write()
    {
        using var project = new TempProject();
        project.Write("a.txt", "one");
        using var writer = project.Open();
        using var reader = ProjectStore.OpenReadOnly(project.Dir);
        Assert.Equal(writer.LastSeq, reader.LastSeq);

        project.Write("b.txt", "two");
        var e = writer.RecordCreate("builder", "b.txt");
        Assert.Equal(e.Seq, reader.LastSeq);
        Assert.Equal("two"u8.ToArray(), reader.ReadAllBytes("b.txt", StorePoint.Latest));
        Assert.Equal(["a.txt", "b.txt"], reader.List("", StorePoint.Latest).Select(x => x.Name));
        Assert.True(reader.Verify().Ok);
        Assert.True(reader.IsReadOnly);
        Assert.Throws<StoreReadOnlyException>(() => reader.RecordUnlink("builder", "b.txt"));
        Assert.Throws<StoreReadOnlyException>(() => reader.Reconcile());
        Assert.Throws<StoreException>(() => ProjectStore.OpenReadOnly(Path.Combine(project.Dir, "nowhere")));
    }
}

public class ChangedAcrossDirectoryRenameTests
{
    [Fact]
    public void Changed_lists_the_children_of_directories_swapped_by_renames()
    {
        using var project = new TempProject();
        project.Write("a/x.txt", "from a");
        project.Write("b/x.txt", "from b");
        project.Write("a/only-a.txt", "1");
        using var store = project.Open();
        var from = store.LastSeq;
        foreach (var (src, dst) in new[] { ("a", "tmp"), ("b", "a"), ("tmp", "b") })
        {
            Directory.Move(project.Abs(src), project.Abs(dst));
            store.RecordRename("builder", src, dst);
        }

        var changes = store.Changed(from, StorePoint.Latest).ToDictionary(c => c.Path, c => c.Change);
        Assert.Equal(ChangeKind.Replaced, changes["a/x.txt"]);
        Assert.Equal(ChangeKind.Replaced, changes["b/x.txt"]);
        Assert.Equal(ChangeKind.Deleted, changes["a/only-a.txt"]);
        Assert.Equal(ChangeKind.Added, changes["b/only-a.txt"]);
        Assert.False(changes.ContainsKey("tmp"));
    }
}
