using Lighthouse.Interop;
using System.Collections.Concurrent;
using Lighthouse.Store;

namespace Lighthouse.Store.Tests.Specification;

// The hash chain, commits, reconciliation with the directory, read-only readers, rebuilding the index, reopening.
public abstract partial class ProjectStoreSpecification
{
    [Fact]
    public void Verify_checks_every_event_of_an_intact_chain()
    {
        var store = OpenStore();
        for (var i = 0; i < 5; i++) Create(store, $"f{i}.txt", "x");

        var result = store.Verify();

        Assert.True(result.Ok, result.ToString());
        Assert.Equal(store.LastSeq, result.EventsChecked);
        Assert.Equal(store.LastSeq, result.LastGoodSeq);
        Assert.Null(result.FirstBrokenSeq);
        Assert.Null(result.Problem);
    }

    [Fact]
    public void VerifyTail_checks_only_the_last_events()
    {
        var store = OpenStore();
        for (var i = 0; i < 12; i++) Create(store, $"f{i}.txt", "x");

        var tail = store.VerifyTail(5);
        Assert.True(tail.Ok, tail.ToString());
        Assert.Equal(5, tail.EventsChecked);
        Assert.Equal(store.LastSeq, tail.LastGoodSeq);

        var longer = store.VerifyTail(1_000);
        Assert.True(longer.Ok, longer.ToString());
        Assert.Equal(store.LastSeq, longer.EventsChecked);
        Assert.Equal(0, store.VerifyTail(0).EventsChecked);
        Assert.Throws<ArgumentOutOfRangeException>(() => store.VerifyTail(-1));
    }

    [Fact]
    public void Verify_and_VerifyTail_name_an_altered_event()
    {
        using (var writer = Open(Project.Dir, Options))
            for (var i = 0; i < 20; i++) Create(writer, $"f{i:D2}.txt", "x");
        const long early = 4, late = 19;

        AlterStoredEvent(Project.Dir, early);
        var reader = OpenReader();
        var full = reader.Verify();
        Assert.False(full.Ok);
        Assert.Equal(early, full.FirstBrokenSeq);
        Assert.Equal(early - 1, full.LastGoodSeq);
        Assert.False(string.IsNullOrEmpty(full.Problem));
        Assert.True(reader.VerifyTail(5).Ok, "the tail does not reach the altered event");

        AlterStoredEvent(Project.Dir, late);
        var tail = reader.VerifyTail(5);
        Assert.False(tail.Ok);
        Assert.Equal(late, tail.FirstBrokenSeq);
        Assert.Equal(late - 1, tail.LastGoodSeq);
        Assert.Equal(early, reader.Verify().FirstBrokenSeq);
    }

    [Fact]
    public void A_read_only_store_sees_what_the_writer_commits_while_it_is_open()
    {
        var writer = OpenStore();
        var reader = OpenReader();
        var before = reader.LastSeq;
        Assert.Equal(writer.LastSeq, before);

        var created = Create(writer, "live.txt", "written after the reader opened");
        var snapshot = writer.CreateSnapshot(Builder, "s1");

        Assert.Equal(writer.LastSeq, reader.LastSeq);
        Assert.Equal(created.FileId, reader.LookupPath("live.txt", StorePoint.Latest)!.FileId);
        Assert.Null(reader.LookupPath("live.txt", before));
        Assert.Equal("written after the reader opened", Text(reader.ReadAllBytes("live.txt", StorePoint.Latest)));
        Assert.Equal(snapshot, Assert.Single(reader.Snapshots()));
        Assert.Equal([created.Seq, snapshot.CreatedAtSeq], reader.EventsAfter(before).Select(e => e.Seq));
        Assert.Equal(writer.Log(new LogQuery()).Events.Select(e => e.Hash), reader.Log(new LogQuery()).Events.Select(e => e.Hash));
        var tail = reader.VerifyTail(2);
        Assert.True(tail.Ok, tail.ToString());
        Assert.Equal(writer.LastSeq, tail.LastGoodSeq);
        Assert.Equal(reader.Verify(), writer.Verify());
    }

    [Fact]
    public async Task Committed_reports_every_commit_in_order_with_its_events()
    {
        var store = OpenStore();
        var reported = new ConcurrentQueue<StoreEvent>();
        store.Committed += events =>
        {
            foreach (var e in events) reported.Enqueue(e);
        };
        store.Committed += _ => throw new InvalidOperationException("a faulty subscriber must not stop the writer");
        var first = store.LastSeq;
        var statsBefore = store.CommitStats;

        var recorded = new List<StoreEvent> { Create(store, "a.txt", "a"), Overwrite(store, "a.txt", "aa") };
        var pending = Enumerable.Range(0, 5).Select(i =>
        {
            Write($"b{i}.txt", "b");
            return store.RecordCreateAsync(Builder, $"b{i}.txt");
        }).ToList();
        store.CommitSoon();
        recorded.AddRange(await Task.WhenAll(pending));
        var snapshot = store.CreateSnapshot(Builder, "s");
        recorded.Add(store.EventsAfter(snapshot.CreatedAtSeq - 1, 1).Single());

        Assert.True(SpinWait.SpinUntil(() => reported.Count >= recorded.Count, TimeSpan.FromSeconds(10)));
        Assert.Equal(recorded.Select(e => e.Seq), reported.Select(e => e.Seq));
        Assert.Equal(Enumerable.Range((int)first + 1, recorded.Count).Select(i => (long)i), reported.Select(e => e.Seq));
        Assert.Equal(recorded.Select(e => e.Hash), reported.Select(e => e.Hash));
        var stats = store.CommitStats;
        Assert.Equal(recorded.Count, stats.Events - statsBefore.Events);
        Assert.InRange(stats.Batches - statsBefore.Batches, 1, recorded.Count);
    }

    [Fact]
    public void Reconcile_records_what_changed_beside_the_store_as_external()
    {
        Write("keep.txt", "keep");
        Write("edit.txt", "short");
        Write("gone.txt", "gone");
        Write("old-name.txt", "moves");
        var store = OpenStore();
        var movedId = store.LookupPath("old-name.txt", StorePoint.Latest)!.FileId;
        var before = store.LastSeq;
        Write("added/new.txt", "new");
        File.WriteAllText(Project.Abs("edit.txt"), "much longer than before");
        File.Delete(Project.Abs("gone.txt"));
        File.Move(Project.Abs("old-name.txt"), Project.Abs("new-name.txt"));

        var report = store.Reconcile();

        Assert.All(report.Events, e => Assert.Equal(StoreConstants.ExternalAgent, e.Agent));
        Assert.Equal((2, 1, 1, 1), (report.Created, report.Modified, report.Deleted, report.Renamed));
        Assert.Equal("added/, added/new.txt, edit.txt, keep.txt, new-name.txt", Describe(Tree(store, StorePoint.Latest)));
        Assert.Equal(movedId, store.LookupPath("new-name.txt", StorePoint.Latest)!.FileId);
        Assert.Equal("much longer than before", Text(store.ReadAllBytes("edit.txt", StorePoint.Latest)));
        Assert.Equal("added/, added/new.txt, edit.txt, keep.txt, new-name.txt", Describe(Tree(store, StorePoint.Latest)));
        Assert.Equal("edit.txt, gone.txt, keep.txt, old-name.txt", Describe(Tree(store, before)));
        Assert.Empty(store.Reconcile().Events);
    }

    [Fact]
    public void A_tree_deeper_than_PATH_MAX_is_recorded_reconciled_and_captured()
    {
        using (var bottom = DeepTree.Walk(Project.Dir, create: true)) DeepTree.Write(bottom, "base.txt", "there before");
        var store = OpenStore();
        var deep = DeepTree.Path;
        Assert.Equal(FileKind.File, store.LookupPath(deep + "/base.txt", StorePoint.Latest)?.Kind);
        var baseline = store.LastSeq;

        using var dir = DeepTree.Walk(Project.Dir);
        DeepTree.Write(dir, "outside.txt", "made beside the store");
        Assert.Equal([deep + "/outside.txt"], store.Reconcile(scope: deep).Events.Select(e => e.Path));

        // Without a descriptor (reached from the project directory's), and with one.
        Assert.Equal(EventOp.Capture, store.CaptureBeforeModify(Builder, deep + "/base.txt")!.Op);
        DeepTree.Write(dir, "base.txt", "rewritten at depth");
        Assert.Equal(EventOp.Write, store.CaptureOnClose(Builder, deep + "/base.txt")!.Op);
        using (var file = DeepTree.Open(dir, "outside.txt", Libc.O_RDWR))
        {
            RandomAccess.Write(file, Bytes("MADE"), 0);
            Assert.Equal(EventOp.Write, store.CaptureOnClose(Builder, deep + "/outside.txt", file)!.Op);
        }

        Assert.Equal("there before", Text(store.ReadAllBytes(deep + "/base.txt", baseline)));
        Assert.Equal("rewritten at depth", Text(store.ReadAllBytes(deep + "/base.txt", StorePoint.Latest)));
        Assert.Equal("MADE beside the store", Text(store.ReadAllBytes(deep + "/outside.txt", StorePoint.Latest)));
        Assert.Empty(store.Reconcile().Events);
    }

    [Fact]
    public void Reconcile_with_a_scope_looks_only_at_that_subtree()
    {
        Directory.CreateDirectory(Project.Abs("in"));
        Directory.CreateDirectory(Project.Abs("out"));
        var store = OpenStore();
        Write("in/a.txt", "a");
        Write("out/b.txt", "b");

        var report = store.Reconcile(scope: "in");

        Assert.Equal(["in/a.txt"], report.Events.Select(e => e.Path));
        Assert.Null(store.LookupPath("out/b.txt", StorePoint.Latest));
        Assert.Equal(["out/b.txt"], store.Reconcile().Events.Select(e => e.Path));
    }

    [Fact]
    public void Reconcile_leaves_paths_being_changed_by_the_caller_alone()
    {
        var store = OpenStore();
        using (store.BeginMutation("busy.txt"))
        {
            Write("busy.txt", "being created");
            Write("free.txt", "made beside the store");
            Assert.Equal(["free.txt"], store.Reconcile().Events.Select(e => e.Path));
            Assert.Equal(Builder, store.RecordCreate(Builder, "busy.txt").Agent);
        }
        Assert.Empty(store.Reconcile().Events);
    }

    [Fact]
    public void The_watcher_records_changes_made_beside_the_store()
    {
        var store = OpenStore();
        using var watcher = store.Watch(TimeSpan.FromMilliseconds(50));
        var reconciled = new ConcurrentQueue<ReconcileReport>();
        watcher.Reconciled += reconciled.Enqueue;

        Write("sub/outside.txt", "made by another program");

        Assert.True(SpinWait.SpinUntil(() => store.LookupPath("sub/outside.txt", StorePoint.Latest) is not null, TimeSpan.FromSeconds(20)),
            "the watcher did not record the new file");
        Assert.Equal(StoreConstants.ExternalAgent, store.Log(new LogQuery { PathPrefix = "sub/outside.txt" }).Events.Single().Agent);
        Assert.True(SpinWait.SpinUntil(() => !reconciled.IsEmpty, TimeSpan.FromSeconds(5)));
        Assert.Null(watcher.LastError);
    }

    [Fact]
    public void Rebuilding_the_index_from_the_log_agrees_with_the_index_kept_while_recording()
    {
        Write("base.txt", "baseline");
        var store = OpenStore();
        Create(store, "a.txt", "a");
        Overwrite(store, "a.txt", "a2");
        Directory.CreateDirectory(Project.Abs("d"));
        store.RecordCreate(Builder, "d");
        File.Move(Project.Abs("a.txt"), Project.Abs("d/a.txt"));
        store.RecordRename(Builder, "a.txt", "d/a.txt");
        Assert.Equal(0, Libc.Link(Project.Abs("d/a.txt"), Project.Abs("hard.txt")));
        store.RecordLink(Builder, "d/a.txt", "hard.txt");
        store.CreateSnapshot(Builder, "mid");
        File.Delete(Project.Abs("base.txt"));
        store.RecordUnlink(Builder, "base.txt");
        var trees = Enumerable.Range(1, (int)store.LastSeq).Select(seq => Describe(Tree(store, seq))).ToList();

        var result = store.RebuildIndex();

        Assert.True(result.AgreedWithPrevious);
        Assert.Equal(store.LastSeq, result.EventsReplayed);
        Assert.Equal(trees, Enumerable.Range(1, (int)store.LastSeq).Select(seq => Describe(Tree(store, seq))));
        Assert.Equal("mid", Assert.Single(store.Snapshots()).Name);
        Assert.Equal("a2", Text(store.ReadAllBytes("hard.txt", StorePoint.Latest)));
        Assert.True(store.Verify().Ok);
    }

    [Fact]
    public void Reopening_keeps_the_history_and_reconciles_what_changed_meanwhile()
    {
        long last;
        StoreEvent created;
        using (var store = Open(Project.Dir, Options))
        {
            created = Create(store, "a.txt", "a");
            store.CreateSnapshot(Builder, "s");
            last = store.LastSeq;
        }
        Write("while-closed.txt", "b");

        var reopened = OpenStore();

        Assert.Equal(["while-closed.txt"], reopened.OpenReport!.Events.Select(e => e.Path));
        Assert.All(reopened.OpenReport.Events, e => Assert.Equal(StoreConstants.ExternalAgent, e.Agent));
        Assert.Equal(last + 1, reopened.LastSeq);
        Assert.Equal(created.FileId, reopened.LookupPath("a.txt", StorePoint.Latest)!.FileId);
        Assert.Equal("a", Text(reopened.ReadAllBytes("a.txt", StorePoint.AtSnapshot("s"))));
        Assert.True(reopened.Verify().Ok);
        Assert.Equal(created.Hash, reopened.EventsAfter(created.Seq - 1, 1).Single().Hash);
    }

    [Fact]
    public void Object_statistics_count_captured_bytes_once_however_many_files_hold_them()
    {
        var store = OpenStore();
        var start = store.ObjectStatistics();

        Create(store, "a.txt", "same bytes");
        Create(store, "b.txt", "same bytes");
        var afterDuplicates = store.ObjectStatistics();
        Create(store, "c.txt", "other bytes!");
        var afterOther = store.ObjectStatistics();

        Assert.Equal(start.Count + 1, afterDuplicates.Count);
        Assert.Equal(start.Bytes + "same bytes".Length, afterDuplicates.Bytes);
        Assert.Equal(afterDuplicates.Count + 1, afterOther.Count);
        Assert.Equal(afterDuplicates.Bytes + "other bytes!".Length, afterOther.Bytes);
        Assert.Equal(afterOther, OpenReader().ObjectStatistics());
    }
}
