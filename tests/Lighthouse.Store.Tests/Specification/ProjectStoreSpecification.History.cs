using Lighthouse.Store;

namespace Lighthouse.Store.Tests.Specification;

// Points, the log, versions, changes between points, snapshots.
public abstract partial class ProjectStoreSpecification
{
    [Fact]
    public void Points_resolve_to_events_by_number_time_and_snapshot_name()
    {
        var store = OpenStore();
        var first = Create(store, "a.txt", "a");
        var second = Create(store, "b.txt", "b");
        store.CreateSnapshot(Builder, "after-a", first.Seq);

        Assert.Equal(store.LastSeq, store.Resolve(StorePoint.Latest));
        Assert.Equal(first.Seq, store.Resolve(StorePoint.AtEvent(first.Seq)));
        Assert.Equal(first.Seq, store.Resolve(StorePoint.Parse($"@{first.Seq}")));
        Assert.Equal(first.Seq, store.Resolve(StorePoint.AtSnapshot("after-a")));
        Assert.Equal(first.Seq, store.Resolve(StorePoint.Parse("after-a")));
        var atSecond = store.Resolve(StorePoint.AtTime(second.TimeUtc));
        Assert.InRange(atSecond, second.Seq, store.LastSeq);
        Assert.InRange(store.Resolve(StorePoint.AtTime(first.TimeUtc)), first.Seq, atSecond);
        Assert.Equal(store.LastSeq, store.Resolve(StorePoint.AtTime(DateTime.UtcNow.AddMinutes(1))));
        Assert.Throws<PointNotFoundException>(() => store.Resolve(StorePoint.AtEvent(store.LastSeq + 1)));
        Assert.Throws<PointNotFoundException>(() => store.Resolve(StorePoint.AtEvent(0)));
        Assert.Throws<PointNotFoundException>(() => store.Resolve(StorePoint.AtTime(new DateTime(2000, 1, 1, 0, 0, 0, DateTimeKind.Utc))));
        Assert.Throws<PointNotFoundException>(() => store.Resolve(StorePoint.AtSnapshot("no-such-snapshot")));
        Assert.Throws<PointNotFoundException>(() => store.LookupPath("a.txt", StorePoint.AtEvent(store.LastSeq + 5)));
    }

    [Fact]
    public void Every_point_shows_the_tree_as_it_was_then()
    {
        var store = OpenStore();
        var expected = new List<(long Seq, string Tree)>();
        void Step(Action change)
        {
            change();
            expected.Add((store.LastSeq, Describe(Tree(store, StorePoint.Latest))));
        }
        Step(() => Create(store, "a.txt", "a"));
        Step(() => { Directory.CreateDirectory(Project.Abs("d")); store.RecordCreate(Builder, "d"); });
        Step(() => Create(store, "d/b.txt", "b"));
        Step(() => { File.Move(Project.Abs("a.txt"), Project.Abs("d/a.txt")); store.RecordRename(Builder, "a.txt", "d/a.txt"); });
        Step(() => { File.Delete(Project.Abs("d/b.txt")); store.RecordUnlink(Builder, "d/b.txt"); });
        Step(() => Create(store, "c.txt", "c"));

        Assert.Equal(
            ["a.txt", "a.txt, d/", "a.txt, d/, d/b.txt", "d/, d/a.txt, d/b.txt", "d/, d/a.txt", "c.txt, d/, d/a.txt"],
            expected.Select(x => x.Tree));
        foreach (var (seq, tree) in expected)
            Assert.Equal(tree, Describe(Tree(store, seq)));
        Assert.Throws<StorePathNotFoundException>(() => store.List("d", expected[0].Seq));
        Assert.Null(store.Lookup("d", "a.txt", expected[2].Seq));
        Assert.NotNull(store.Lookup("d", "a.txt", expected[3].Seq));
    }

    [Fact]
    public void A_name_s_history_follows_atomic_saves_and_renames_back_newest_first()
    {
        var store = OpenStore();
        Directory.CreateDirectory(Project.Abs("src"));
        store.RecordCreate(Builder, "src");
        var v0 = Create(store, "src/greeting.c", "v0");                     // file Z
        var v1 = Create(store, "src/tmp1", "v1", "editor");                 // file A, saved atomically over Z
        Rename(store, "src/tmp1", "src/greeting.c", "editor");
        Rename(store, "src/greeting.c", "src/hello.c");                     // the name itself moves
        var v2 = Overwrite(store, "src/hello.c", "v2");
        var beforeSed = store.LastSeq;
        Create(store, "src/other.c", "not part of it");
        var v3 = Create(store, "src/sedXyZ12", "v3", "sed");                // file B: sed -i
        Rename(store, "src/sedXyZ12", "src/hello.c", "sed");

        var history = store.PathHistory("src/hello.c");

        Assert.Equal(
            [(v3.Seq, "src/sedXyZ12", v3.FileId), (v2.Seq, "src/hello.c", v1.FileId), (v1.Seq, "src/tmp1", v1.FileId), (v0.Seq, "src/greeting.c", v0.FileId)],
            history.Select(v => (v.VersionSeq, v.Path, v.FileId)));
        Assert.Equal(["v3", "v2", "v1", "v0"], history.Select(v => Text(store.ReadAllBytes(v.Path, v.VersionSeq))));
        // Without following: only the file that has the name now, across its own renames.
        Assert.Equal([v3.Seq], store.Versions("src/hello.c").Select(v => v.VersionSeq));
        // As of a point: what held the name up to then.
        Assert.Equal([v2.Seq, v1.Seq, v0.Seq], store.PathHistory("src/hello.c", beforeSed).Select(v => v.VersionSeq));
        Assert.Equal([v1.Seq, v0.Seq], store.PathHistory("src/greeting.c").Select(v => v.VersionSeq));
    }

    [Fact]
    public void A_removed_name_keeps_its_history_and_a_name_never_used_has_none()
    {
        var store = OpenStore();
        var created = Create(store, "gone.txt", "bytes");
        File.Delete(Project.Abs("gone.txt"));
        store.RecordUnlink(Builder, "gone.txt");
        var recreated = Create(store, "gone.txt", "again");
        File.Delete(Project.Abs("gone.txt"));
        store.RecordUnlink(Builder, "gone.txt");

        Assert.Equal([recreated.Seq, created.Seq], store.PathHistory("gone.txt").Select(v => v.VersionSeq));
        Assert.Equal([created.Seq], store.PathHistory("gone.txt", created.Seq).Select(v => v.VersionSeq));
        Assert.Throws<StorePathNotFoundException>(() => store.PathHistory("never.txt"));
        Assert.Throws<StorePathNotFoundException>(() => store.PathHistory("gone.txt", created.Seq - 1));
    }

    [Fact]
    public void The_log_is_newest_first_and_pages_without_gaps_or_repeats()
    {
        var store = OpenStore();
        for (var i = 0; i < 12; i++) Create(store, $"f{i:D2}.txt", "x");

        var seen = new List<long>();
        long? before = null;
        var pages = 0;
        do
        {
            var page = store.Log(new LogQuery { Limit = 5, BeforeSeq = before });
            Assert.InRange(page.Events.Count, 1, 5);
            seen.AddRange(page.Events.Select(e => e.Seq));
            before = page.NextBefore;
            pages++;
        } while (before is not null);

        Assert.Equal(Enumerable.Range(1, (int)store.LastSeq).Select(i => (long)i).Reverse(), seen);
        Assert.Equal((int)Math.Ceiling(store.LastSeq / 5.0), pages);
        Assert.Equal(store.LastSeq, store.Log(new LogQuery { Limit = 1 }).Events.Single().Seq);
    }

    [Fact]
    public void The_log_filters_by_agent_path_operation_and_time()
    {
        var store = OpenStore();
        Directory.CreateDirectory(Project.Abs("src"));
        store.RecordCreate("alice", "src");
        var aliceFile = Create(store, "src/a.cs", "a", "alice");
        var bobFile = Create(store, "b.txt", "b", "bob");
        File.Move(Project.Abs("b.txt"), Project.Abs("src/b.txt"));
        var bobMove = store.RecordRename("bob", "b.txt", "src/b.txt")!;
        File.Delete(Project.Abs("src/a.cs"));
        var bobDelete = store.RecordUnlink("bob", "src/a.cs");
        Create(store, "srcfile.txt", "not under src/", "carol");

        long[] Seqs(LogQuery q) => store.Log(q).Events.Select(e => e.Seq).ToArray();
        Assert.Equal([bobDelete.Seq, bobMove.Seq, bobFile.Seq], Seqs(new LogQuery { Agent = "bob" }));
        Assert.Equal([bobDelete.Seq, bobMove.Seq, aliceFile.Seq, aliceFile.Seq - 1], Seqs(new LogQuery { PathPrefix = "src" }));
        Assert.Equal([bobMove.Seq, bobFile.Seq], Seqs(new LogQuery { PathPrefix = "b.txt" })); // either side of a rename
        Assert.Equal([bobDelete.Seq], Seqs(new LogQuery { Operations = [EventOp.Unlink] }));
        Assert.Equal([bobMove.Seq, aliceFile.Seq], Seqs(new LogQuery { Operations = [EventOp.Rename, EventOp.Create], PathPrefix = "src" }));
        Assert.All(store.Log(new LogQuery { FromUtc = bobFile.TimeUtc }).Events, e => Assert.True(e.TimeUtc >= bobFile.TimeUtc));
        Assert.Contains(bobFile.Seq, Seqs(new LogQuery { FromUtc = bobFile.TimeUtc }));
        Assert.DoesNotContain(bobFile.Seq, Seqs(new LogQuery { ToUtc = bobFile.TimeUtc }));
        Assert.All(store.Log(new LogQuery { ToUtc = bobFile.TimeUtc }).Events, e => Assert.True(e.TimeUtc < bobFile.TimeUtc));
        Assert.Empty(store.Log(new LogQuery { Agent = "nobody" }).Events);
    }

    [Fact]
    public void Events_after_a_number_come_oldest_first_and_resume_where_they_stopped()
    {
        var store = OpenStore();
        for (var i = 0; i < 7; i++) Create(store, $"f{i}.txt", "x");

        var all = new List<StoreEvent>();
        long after = 0;
        while (store.EventsAfter(after, 3) is { Count: > 0 } batch)
        {
            Assert.InRange(batch.Count, 1, 3);
            all.AddRange(batch);
            after = batch[^1].Seq;
        }

        Assert.Equal(Enumerable.Range(1, (int)store.LastSeq).Select(i => (long)i), all.Select(e => e.Seq));
        var newestFirst = store.Log(new LogQuery { Limit = 1000 }).Events;
        Assert.Equal(newestFirst.Reverse().Select(e => (e.Seq, e.Op, e.Path, e.Agent)), all.Select(e => (e.Seq, e.Op, e.Path, e.Agent)));
        Assert.Empty(store.EventsAfter(store.LastSeq));
        Assert.Throws<ArgumentOutOfRangeException>(() => store.EventsAfter(0, 0));
    }

    [Fact]
    public void Versions_follow_a_file_across_renames_with_their_agents()
    {
        var store = OpenStore();
        var created = Create(store, "draft.md", "one", "alice");
        var written = Overwrite(store, "draft.md", "two two", "bob");
        File.Move(Project.Abs("draft.md"), Project.Abs("final.md"));
        store.RecordRename("carol", "draft.md", "final.md");
        File.SetUnixFileMode(Project.Abs("final.md"), UnixFileMode.UserRead);
        var setattr = store.RecordSetAttributes("dave", "final.md")!;

        var versions = store.Versions("final.md");

        Assert.Equal([created.Seq, written.Seq, setattr.Seq], versions.Select(v => v.VersionSeq));
        Assert.Equal(["alice", "bob", "dave"], versions.Select(v => v.Agent));
        Assert.Equal(["draft.md", "draft.md", "final.md"], versions.Select(v => v.Path));
        Assert.Equal([EventOp.Create, EventOp.Write, EventOp.SetAttributes], versions.Select(v => v.Op));
        Assert.Equal(versions, store.Versions(created.FileId));
        Assert.Equal(versions, store.Versions("draft.md", written.Seq));
        Assert.Equal("one", Text(store.ReadAllBytes("draft.md", versions[0].VersionSeq)));
        Assert.Empty(store.Versions(999_999));
        Assert.Throws<StorePathNotFoundException>(() => store.Versions("draft.md"));
    }

    [Fact]
    public void Changed_names_what_was_added_deleted_and_modified_between_two_points()
    {
        var store = OpenStore();
        Create(store, "keep.txt", "k");
        Create(store, "edit.txt", "e");
        Create(store, "gone.txt", "g");
        var from = store.LastSeq;
        Overwrite(store, "edit.txt", "edited");
        File.Delete(Project.Abs("gone.txt"));
        store.RecordUnlink(Builder, "gone.txt");
        Create(store, "new.txt", "n");
        Create(store, "temp.txt", "t");
        File.Delete(Project.Abs("temp.txt"));
        store.RecordUnlink(Builder, "temp.txt"); // added and removed in the range: no change

        var changed = store.Changed(from, StorePoint.Latest).ToDictionary(c => c.Path, c => c.Change);

        Assert.Equal(new Dictionary<string, ChangeKind>
        {
            ["edit.txt"] = ChangeKind.Modified,
            ["gone.txt"] = ChangeKind.Deleted,
            ["new.txt"] = ChangeKind.Added,
        }, changed);
        Assert.Equal(changed.Keys.Order(), store.Changed(StorePoint.Latest, from).Select(c => c.Path).Order());
        Assert.Empty(store.Changed(from, from));
    }

    [Fact]
    public void Snapshots_name_a_point_until_they_are_deleted()
    {
        var store = OpenStore();
        var v1 = Create(store, "app.cfg", "v1");
        var snapshot = store.CreateSnapshot(Builder, "release-1");
        Overwrite(store, "app.cfg", "v2 changed");
        var older = store.CreateSnapshot("alice", "at-v1", v1.Seq);

        Assert.Equal(v1.Seq, snapshot.Seq);
        Assert.Equal(Builder, snapshot.CreatedBy);
        Assert.True(snapshot.CreatedAtSeq > v1.Seq);
        Assert.Equal(["at-v1", "release-1"], store.Snapshots().Select(s => s.Name).Order());
        Assert.Equal(snapshot, store.Snapshots().Single(s => s.Name == "release-1"));
        Assert.Equal("v1", Text(store.ReadAllBytes("app.cfg", StorePoint.AtSnapshot("release-1"))));
        Assert.Equal("v1", Text(store.ReadAllBytes("app.cfg", StorePoint.AtSnapshot(older.Name))));
        var duplicate = Assert.Throws<SnapshotExistsException>(() => store.CreateSnapshot(Builder, "release-1"));
        Assert.Contains("release-1", duplicate.Message);

        store.DeleteSnapshot(Builder, "release-1");

        Assert.Equal(["at-v1"], store.Snapshots().Select(s => s.Name));
        Assert.Throws<PointNotFoundException>(() => store.Resolve(StorePoint.AtSnapshot("release-1")));
        Assert.Throws<PointNotFoundException>(() => store.DeleteSnapshot(Builder, "release-1"));
        Assert.Contains(store.Log(new LogQuery { Limit = 3 }).Events, e => e.Op == EventOp.SnapshotDelete);
        Assert.Throws<StoreException>(() => store.CreateSnapshot(Builder, "@12"));
        store.CreateSnapshot(Builder, "release-1"); // the name is free again
        Assert.Equal(store.LastSeq - 1, store.Resolve(StorePoint.AtSnapshot("release-1")));
    }
}
