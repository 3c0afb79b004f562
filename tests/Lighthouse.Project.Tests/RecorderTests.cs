using Lighthouse.Project.Recording;
using Lighthouse.Store;
using static Lighthouse.Project.Tests.TestProject;

namespace Lighthouse.Project.Tests;

/// <summary>The recorder in-process: changes described by paths and stats become events of their agent, in order.</summary>
public sealed class RecorderTests : IDisposable
{
    private readonly TestProject _p = new();
    public void Dispose() => _p.Dispose();

    [Fact]
    public void Changes_become_events_of_their_agents_in_the_order_they_happened()
    {
        var host = _p.Open();
        long start = host.Store.LastSeq;
        using var gate = new ManualResetEventSlim();
        host.Recorder.EnqueueExternal(() => gate.Wait()); // the recorder is busy: what follows stays queued
        _p.Create(Alice, "a.txt", "one");
        Directory.CreateDirectory(_p.Abs("src"));
        var (dirKey, dirFacts) = _p.Stat("src");
        host.Recorder.Created(Bob, "src", dirKey, dirFacts);
        // Renamed and removed before the write's capture runs, without waiting for it.
        _p.Rename(Alice, "a.txt", "src/a.txt");
        _p.Remove(Bob, "src/a.txt");
        Assert.True(host.Recorder.Backlog >= 5);
        gate.Set();

        var events = _p.EventsAfter(start);
        Assert.Equal(
            [(EventOp.Create, "alice/editor", "a.txt"), (EventOp.Write, "alice/editor", "a.txt"), (EventOp.Mkdir, "bob/make", "src"), (EventOp.Rename, "alice/editor", "a.txt"), (EventOp.Unlink, "bob/make", "src/a.txt")],
            events.Select(e => (e.Op, e.Agent, e.Path)));
        Assert.Equal("src/a.txt", events[3].Path2);
        // Captured through its descriptor, under the name it had when written.
        Assert.Equal("one", HistoryText((host, "a.txt", events[1].Seq)));
        Assert.Equal(0, host.Recorder.Failed);
    }

    [Fact]
    public void A_file_born_with_bytes_and_rewritten_before_its_create_is_recorded_keeps_the_bytes_it_was_born_with()
    {
        var host = _p.Open();
        long start = host.Store.LastSeq;
        using var gate = new ManualResetEventSlim();
        host.Recorder.EnqueueExternal(() => gate.Wait()); // the recorder is busy: the create stays queued
        // An O_TMPFILE given a name, as the mount hands it over: its facts, and a descriptor to read its bytes through.
        File.WriteAllText(_p.Abs("born.txt"), "born with these bytes");
        var (key, facts) = _p.Stat("born.txt");
        var known = host.Recorder.Created(Alice, "born.txt", key, facts, content: File.OpenHandle(_p.Abs("born.txt")));
        Assert.Equal(ContentKnowledge.WritePending, known);
        // Opened for writing and rewritten through the mount before the create is recorded (as the observer does it).
        host.Recorder.BeforeOpenForWriting(key);
        File.WriteAllText(_p.Abs("born.txt"), "rewritten");
        _p.Written(Bob, "born.txt");
        gate.Set();

        var events = _p.EventsAfter(start).Where(e => e.Path == "born.txt").ToList();
        Assert.Equal([(EventOp.Create, "alice/editor"), (EventOp.Write, "bob/make")], events.Select(e => (e.Op, e.Agent)));
        Assert.Equal("born with these bytes", HistoryText((host, "born.txt", events[0].Seq)));
        Assert.Equal("rewritten", HistoryText((host, "born.txt", events[1].Seq)));
        Assert.Equal(0, host.Recorder.Failed);
    }

    [Fact]
    public void A_capture_point_passed_after_the_queued_capture_read_its_bytes_leaves_the_change_for_the_next_point()
    {
        var host = _p.Open();
        using var gate = new ManualResetEventSlim();
        host.Recorder.EnqueueExternal(() => gate.Wait()); // the captures stay queued
        File.WriteAllText(_p.Abs("held.txt"), "born");
        var (key, facts) = _p.Stat("held.txt");
        host.Recorder.Created(Alice, "held.txt", key, facts, content: File.OpenHandle(_p.Abs("held.txt")));
        host.Recorder.BeforeOpenForWriting(key); // the queued capture reads "born" now
        File.WriteAllText(_p.Abs("held.txt"), "written by a handle still open elsewhere");
        // A close passed while another handle still writes: the queued capture will not see these bytes.
        host.Recorder.LeftForLater(key);
        Assert.Equal(ContentKnowledge.Changed, host.Recorder.Known(key));
        gate.Set();
        host.Recorder.Flush();
        Assert.Equal(ContentKnowledge.Changed, host.Recorder.Known(key)); // still: the capture's commit settles nothing newer

        // A write capture that has not read yet takes the later bytes along: nothing is left for later.
        File.WriteAllText(_p.Abs("open.txt"), "one");
        var (key2, _) = _p.Stat("open.txt");
        using var gate2 = new ManualResetEventSlim();
        host.Recorder.EnqueueExternal(() => gate2.Wait());
        host.Recorder.Written(Alice, "open.txt", key2, File.OpenHandle(_p.Abs("open.txt")));
        host.Recorder.LeftForLater(key2);
        Assert.Equal(ContentKnowledge.WritePending, host.Recorder.Known(key2));
        gate2.Set();
    }

    [Fact]
    public void A_file_kept_open_is_due_for_capture_at_fsync_at_most_once_a_second()
    {
        var host = _p.Open();
        _p.Create(Alice, "log.txt", "line 1\n");
        var (key, _) = _p.Stat("log.txt");
        Assert.False(host.Recorder.CaptureDue(key));
        Thread.Sleep(ChangeRecorder.OpenCaptureInterval + TimeSpan.FromMilliseconds(100));
        Assert.True(host.Recorder.CaptureDue(key));
        Assert.True(host.Recorder.CaptureDue(new FileKey(0, 12345))); // never captured
    }

    [Fact]
    public void A_write_is_captured_at_close_and_then_known_safe()
    {
        var host = _p.Open();
        _p.Create(Alice, "notes.md", "");
        var (key, _) = _p.Stat("notes.md");
        File.WriteAllText(_p.Abs("notes.md"), "second version\n");
        host.Recorder.Written(Bob, "notes.md", key, File.OpenHandle(_p.Abs("notes.md")));
        Assert.NotEqual(ContentKnowledge.Unknown, host.Recorder.Known(key)); // pending or, already, safe
        host.Recorder.Flush();
        Assert.Equal(ContentKnowledge.Safe, host.Recorder.Known(key));
        var write = host.Store.Log(new LogQuery { Operations = [EventOp.Write] }).Events.Single();
        Assert.Equal("bob/make", write.Agent);
        Assert.Equal("second version\n", HistoryText((host, "notes.md", write.Seq)));
    }

    [Fact]
    public void Content_recorded_by_metadata_only_is_saved_before_it_is_overwritten()
    {
        File.WriteAllText(_p.Abs("old.c"), "int old;\n"); // there before the first mount: a baseline, metadata only
        var host = _p.Open();
        long baseline = host.Store.LastSeq;
        var (key, _) = _p.Stat("old.c");
        Assert.Equal(ContentKnowledge.Unknown, host.Recorder.Known(key));
        using (var content = File.OpenHandle(_p.Abs("old.c")))
            host.Recorder.CaptureBeforeModify(Alice, key, "old.c", content);
        Assert.Equal(ContentKnowledge.Safe, host.Recorder.Known(key));
        File.WriteAllText(_p.Abs("old.c"), "int new_and_longer;\n");
        host.Recorder.Written(Alice, "old.c", key, File.OpenHandle(_p.Abs("old.c")));
        host.Recorder.Flush();
        Assert.Equal("int old;\n", HistoryText((host, "old.c", baseline)));
        Assert.Equal("int new_and_longer;\n", HistoryText((host, "old.c", host.Store.LastSeq)));
    }

    /// <summary>What renameat2(RENAME_EXCHANGE) leaves on disk: the two names swap their inodes.</summary>
    private void SwapOnDisk(string a, string b)
    {
        void Move(string from, string to)
        {
            if (Directory.Exists(_p.Abs(from))) Directory.Move(_p.Abs(from), _p.Abs(to));
            else File.Move(_p.Abs(from), _p.Abs(to));
        }
        Move(a, "swap.tmp");
        Move(b, a);
        Move("swap.tmp", b);
    }

    [Fact]
    public void A_failed_record_is_repaired_from_the_tree_once_quiet_and_credited_to_repair_not_external()
    {
        var host = _p.Open();
        long before = host.Store.LastSeq;
        Directory.CreateDirectory(_p.Abs("lost")); // made through a server whose record of it was lost
        File.WriteAllText(_p.Abs("lost/a.c"), "int a;\n");
        var (key, facts) = _p.Stat("lost/a.c");
        host.Recorder.Created(Alice, "lost/a.c", key, facts); // its directory is not in the index: refused
        host.Recorder.Flush();
        Assert.Equal(1, host.Recorder.Failed);
        Assert.Contains("lost", host.Recorder.LastError);
        Assert.Equal(0, host.Recorder.Repairs); // not at once: the path was changed a moment ago

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (host.Recorder.Repairs == 0 && DateTime.UtcNow < deadline) Thread.Sleep(50);
        Assert.Equal(1, host.Recorder.Repairs);
        var repaired = _p.EventsAfter(before);
        Assert.Equal([(EventOp.Mkdir, "lost"), (EventOp.Create, "lost/a.c")], repaired.Select(e => (e.Op, e.Path)));
        Assert.All(repaired, e => Assert.Equal(StoreConstants.RepairAgent, e.Agent));
        Assert.Equal(2, host.Recorder.RepairEvents);
        Assert.Equal(facts.Size, host.Store.Attributes("lost/a.c", StorePoint.Latest).Attributes.Size);

        // The directory records again, without a chain of failures.
        long afterRepair = host.Store.LastSeq;
        _p.Create(Bob, "lost/b.c", "int b;\n");
        Assert.Equal([(EventOp.Create, "bob/make"), (EventOp.Write, "bob/make")], _p.EventsAfter(afterRepair).Select(e => (e.Op, e.Agent)));
        Assert.Equal(1, host.Recorder.Failed);
        Assert.Equal(1, host.Status().Repairs);
    }

    [Fact]
    public void A_file_known_nothing_of_is_saved_only_if_the_store_holds_it_by_metadata_only()
    {
        File.WriteAllText(_p.Abs("old.c"), "int old;\n"); // a baseline: metadata only
        var host = _p.Open();
        _p.Create(Alice, "new.c", "int new;\n"); // captured at close
        host.Recorder.Flush();
        host.Recorder.Trim(); // as after the kernel forgot the inodes: nothing known of either
        long before = host.Store.LastSeq;
        var (oldKey, _) = _p.Stat("old.c");
        var (newKey, _) = _p.Stat("new.c");
        Assert.Equal(ContentKnowledge.Unknown, host.Recorder.Known(newKey));

        using (var content = File.OpenHandle(_p.Abs("new.c"))) host.Recorder.CaptureBeforeModify(Alice, newKey, "new.c", content);
        Assert.Equal(before, host.Store.LastSeq); // already in the store: nothing to save, nothing asked of it
        using (var content = File.OpenHandle(_p.Abs("old.c"))) host.Recorder.CaptureBeforeModify(Alice, oldKey, "old.c", content);
        var capture = Assert.Single(_p.EventsAfter(before));
        Assert.Equal((EventOp.Capture, "old.c"), (capture.Op, capture.Path));
        Assert.Equal("int old;\n", HistoryText((host, "old.c", capture.Seq)));
    }

    [Fact]
    public void A_truncate_is_captured_at_once_and_a_chmod_keeps_what_is_known()
    {
        var host = _p.Open();
        _p.Create(Alice, "data.txt", "0123456789");
        host.Recorder.Flush();
        var (key, _) = _p.Stat("data.txt");
        Assert.Equal(ContentKnowledge.Safe, host.Recorder.Known(key));

        File.SetUnixFileMode(_p.Abs("data.txt"), UnixFileMode.UserRead | UnixFileMode.UserWrite);
        host.Recorder.AttributesChanged(Bob, "data.txt", key, _p.Stat("data.txt").Facts, bytesChanged: false);
        Assert.Equal(ContentKnowledge.Safe, host.Recorder.Known(key));

        host.Recorder.Flush();
        long before = host.Store.LastSeq;
        using (var f = File.OpenWrite(_p.Abs("data.txt"))) f.SetLength(4);
        host.Recorder.AttributesChanged(Bob, "data.txt", key, _p.Stat("data.txt").Facts, bytesChanged: true, File.OpenHandle(_p.Abs("data.txt")));
        Assert.NotEqual(ContentKnowledge.Safe, host.Recorder.Known(key)); // its capture is queued
        var events = _p.EventsAfter(before);
        Assert.Equal([EventOp.SetAttributes, EventOp.Write], events.Select(e => e.Op));
        Assert.Equal("0123", HistoryText((host, "data.txt", events[^1].Seq)));
        Assert.Equal(ContentKnowledge.Safe, host.Recorder.Known(key));
    }

    [Fact]
    public async Task A_write_joins_the_queued_capture_of_its_file_and_an_in_place_change_has_it_read_without_waiting_for_the_queue()
    {
        var host = _p.Open();
        _p.Create(Alice, "log.txt", "");
        var (key, _) = _p.Stat("log.txt");
        host.Recorder.Flush();
        long before = host.Store.LastSeq;
        using var first = new ManualResetEventSlim();
        using var gate = new ManualResetEventSlim();
        host.Recorder.EnqueueExternal(() => { first.Set(); gate.Wait(); }); // holds the queue behind it
        Assert.True(first.Wait(TimeSpan.FromSeconds(10)));
        File.WriteAllText(_p.Abs("log.txt"), "one\n");
        host.Recorder.Written(Alice, "log.txt", key, File.OpenHandle(_p.Abs("log.txt")));
        File.AppendAllText(_p.Abs("log.txt"), "two\n");
        host.Recorder.Written(Alice, "log.txt", key, File.OpenHandle(_p.Abs("log.txt"))); // the capture has not started: it will read both
        Assert.Equal(1, host.Recorder.CapturesCoalesced);

        // About to be changed in place while the queue is still held: the capture reads its bytes now, on this thread.
        await Task.Run(() => host.Recorder.ReadQueuedCapture(key)).WaitAsync(TimeSpan.FromSeconds(10));
        File.WriteAllText(_p.Abs("log.txt"), "three\n"); // the change it was read for
        gate.Set();
        var write = Assert.Single(_p.EventsAfter(before));
        Assert.Equal("one\ntwo\n", HistoryText((host, "log.txt", write.Seq)));
        Assert.Equal(ContentKnowledge.Safe, host.Recorder.Known(key));
    }

    [Fact]
    public void An_exchange_is_one_event_that_swaps_the_two_files_in_the_record()
    {
        var host = _p.Open();
        _p.Create(Alice, "a", "was a");
        _p.Create(Alice, "b", "was b");
        host.Recorder.Flush();
        long before = host.Store.LastSeq;
        long idA = host.History.Lookup(before, "", "a")!.FileId, idB = host.History.Lookup(before, "", "b")!.FileId;
        SwapOnDisk("a", "b");
        host.Recorder.Exchanged(Bob, "a", "b");
        var e = Assert.Single(_p.EventsAfter(before));
        long after = e.Seq;
        Assert.Equal((EventOp.Exchange, "bob/make", "a", "b"), (e.Op, e.Agent, e.Path, e.Path2));
        Assert.Equal((idA, idB), (e.FileId, e.OtherFileId));
        Assert.Equal("was a", HistoryText((host, "a", before)));
        Assert.Equal("was b", HistoryText((host, "a", after)));
        Assert.Equal("was a", HistoryText((host, "b", after)));
        Assert.Equal([("a", idB), ("b", idA)], host.History.List(after, "")!.Select(x => (x.Name, x.FileId)).Order());
        Assert.Equal(0, host.Recorder.Failed);
    }

    [Fact]
    public void An_exchange_of_a_file_and_a_directory_in_other_directories_takes_the_subtree_along()
    {
        var host = _p.Open();
        Directory.CreateDirectory(_p.Abs("x"));
        Directory.CreateDirectory(_p.Abs("y/dir"));
        foreach (var dir in new[] { "x", "y", "y/dir" })
        {
            var (key, facts) = _p.Stat(dir);
            host.Recorder.Created(Alice, dir, key, facts);
        }
        _p.Create(Alice, "x/file", "a file");
        _p.Create(Alice, "y/dir/inner", "inside");
        host.Recorder.Flush();
        long before = host.Store.LastSeq;
        SwapOnDisk("x/file", "y/dir");
        host.Recorder.Exchanged(Bob, "x/file", "y/dir");
        var e = Assert.Single(_p.EventsAfter(before));
        Assert.Equal(EventOp.Exchange, e.Op);
        Assert.Equal(FileKind.Directory, host.History.Lookup(e.Seq, "x", "file")!.Kind);
        Assert.Equal("inside", HistoryText((host, "x/file/inner", e.Seq)));
        Assert.Equal("a file", HistoryText((host, "y/dir", e.Seq)));
        Assert.Null(host.History.Lookup(e.Seq, "y/dir", "inner"));
        Assert.Equal("inside", HistoryText((host, "y/dir/inner", before)));
    }

    [Fact]
    public void A_device_node_and_a_chown_are_recorded_with_the_owner_and_device_number_the_caller_saw()
    {
        var host = _p.Open();
        long start = host.Store.LastSeq;
        const ulong Null = 0x103; // makedev(1, 3)
        var facts = new FileFacts(0x2000 | 0x1b6, 0, 1_700_000_000_000_000_000, 4242, 1000, 1001, Null);
        host.Recorder.Created(Alice, "null", new FileKey(1, 4242), facts);
        host.Recorder.AttributesChanged(Bob, "null", new FileKey(1, 4242), facts with { Uid = 1234, Gid = 5678 });
        host.Recorder.AttributesChanged(Bob, "null", new FileKey(1, 4242), facts with { Uid = 1234, Gid = 5678 }); // no change: no event
        var events = _p.EventsAfter(start);
        Assert.Equal([EventOp.Create, EventOp.SetAttributes], events.Select(e => e.Op));
        var created = host.History.Attributes(events[0].Seq, "null")!.Attributes;
        Assert.Equal((FileKind.CharDevice, 0x1b6, 1000L, 1001L, (long)Null), (created.Kind, created.Mode, created.Uid, created.Gid, created.Rdev));
        var chowned = host.History.Attributes(events[1].Seq, "null")!.Attributes;
        Assert.Equal((1234L, 5678L, (long)Null), (chowned.Uid, chowned.Gid, chowned.Rdev));
        Assert.Equal(FileKind.CharDevice, host.History.List(events[1].Seq, "")!.Single(x => x.Name == "null").Kind);
    }

    [Fact]
    public void Own_changes_are_marked_so_the_watcher_does_not_take_them_for_external_ones()
    {
        var host = _p.Open();
        Assert.False(host.Recorder.MayBeOurs("x.txt"));
        _p.Create(Alice, "x.txt", "x");
        Assert.True(host.Recorder.MayBeOurs("x.txt"));
        host.Recorder.OpenedForWriting("y.txt");
        Assert.True(host.Recorder.MayBeOurs("y.txt"));
    }

    [Fact]
    public void The_mark_of_a_file_open_for_writing_goes_when_it_is_renamed_then_removed_while_open()
    {
        var host = _p.Open();
        _p.Create(Alice, "a.log", "");
        var (key, _) = _p.Stat("a.log");
        host.Recorder.OpenedForWriting("a.log", key);
        _p.Rename(Alice, "a.log", "b.log"); // the mark follows the name
        _p.Remove(Alice, "b.log"); // and goes with it
        host.Recorder.ClosedForWriting("a.log", key); // released without a name: the name it was opened by
        Thread.Sleep(ChangeRecorder.RecentWindow + TimeSpan.FromMilliseconds(200));
        Assert.False(host.Recorder.MayBeOurs("a.log")); // a mark left behind would keep changes here "ours" for good
        Assert.False(host.Recorder.MayBeOurs("b.log"));
        Assert.False(host.Recorder.InodeMayBeOurs((long)key.Inode));
    }

    [Fact]
    public void A_failed_record_is_counted_and_reported_not_thrown_at_the_caller()
    {
        var host = _p.Open();
        // A write to a file whose creation was never recorded: the store refuses it; the caller must not wait or fail.
        File.WriteAllText(_p.Abs("unrecorded"), "bytes");
        _p.Written(Alice, "unrecorded");
        host.Recorder.Flush();
        Assert.Equal(1, host.Recorder.Failed);
        Assert.NotNull(host.Recorder.LastError);
    }

    [Fact]
    public void Disposing_the_project_records_everything_still_queued()
    {
        var host = _p.Open();
        long start = host.Store.LastSeq;
        for (int i = 0; i < 200; i++) _p.Create(Alice, $"f{i}", "");
        host.Dispose();
        using var store = ProjectStore.OpenReadOnly(_p.Dir, Fast);
        Assert.Equal(200, store.Log(new LogQuery { Limit = 1000, Operations = [EventOp.Create] }).Events.Count(e => e.Seq > start));
    }

    [Fact]
    public void A_symlink_removed_right_after_its_creation_is_still_recorded_with_its_target()
    {
        var host = _p.Open();
        long start = host.Store.LastSeq;
        File.CreateSymbolicLink(_p.Abs("link"), "target");
        var (key, facts) = _p.Stat("link");
        host.Recorder.Created(Alice, "link", key, facts, "target"u8);
        File.Delete(_p.Abs("link"));
        host.Recorder.Removed(Alice, "link", key, lastLink: true);
        var events = _p.EventsAfter(start);
        Assert.Equal([EventOp.Symlink, EventOp.Unlink], events.Select(e => e.Op));
        Assert.Equal("target"u8.ToArray(), host.History.SymlinkTarget(events[0].Seq, "link"));
    }

    /// <summary>The text a file had as of <paramref name="seq"/>, as history keeps it (chunks, an object file or the live file).</summary>
    private static string HistoryText((ProjectHost Host, string Path, long Seq) at)
    {
        var content = at.Host.History.Content(at.Seq, at.Path) ?? throw new InvalidOperationException($"{at.Path} did not exist at @{at.Seq}");
        return System.Text.Encoding.UTF8.GetString(History.ProjectHistory.ReadAll(at.Host.Store, content, $"@{at.Seq}"));
    }
}
