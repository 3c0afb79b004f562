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
        _p.Create(Alice, "a.txt", "one");
        Directory.CreateDirectory(_p.Abs("src"));
        var (dirKey, dirFacts) = _p.Stat("src");
        host.Recorder.Created(Bob, "src", dirKey, dirFacts);
        host.Recorder.BeforeNamespaceChange("a.txt"); // as the mount does: queued captures read by path
        File.Move(_p.Abs("a.txt"), _p.Abs("src/a.txt"));
        host.Recorder.Renamed(Alice, "a.txt", "src/a.txt");
        var (key, _) = _p.Stat("src/a.txt");
        host.Recorder.BeforeNamespaceChange("src/a.txt");
        File.Delete(_p.Abs("src/a.txt"));
        host.Recorder.Removed(Bob, "src/a.txt", key, lastLink: true);

        var events = _p.EventsAfter(start);
        Assert.Equal(
            [(EventOp.Create, "alice/editor", "a.txt"), (EventOp.Write, "alice/editor", "a.txt"), (EventOp.Mkdir, "bob/make", "src"), (EventOp.Rename, "alice/editor", "a.txt"), (EventOp.Unlink, "bob/make", "src/a.txt")],
            events.Select(e => (e.Op, e.Agent, e.Path)));
        Assert.Equal("src/a.txt", events[3].Path2);
        Assert.Equal(0, host.Recorder.Failed);
    }

    [Fact]
    public void A_write_is_captured_at_close_and_then_known_safe()
    {
        var host = _p.Open();
        _p.Create(Alice, "notes.md", "");
        var (key, _) = _p.Stat("notes.md");
        File.WriteAllText(_p.Abs("notes.md"), "second version\n");
        host.Recorder.Written(Bob, "notes.md", key);
        Assert.NotEqual(ContentKnowledge.Unknown, host.Recorder.Known(key)); // pending or, already, safe
        host.Recorder.Flush();
        Assert.Equal(ContentKnowledge.Safe, host.Recorder.Known(key));
        var write = host.Store.Log(new LogQuery { Operations = [EventOp.Write] }).Events.Single();
        Assert.Equal("bob/make", write.Agent);
        Assert.Equal("second version\n", File.ReadAllText(HistoryFile(host, "notes.md", write.Seq)));
    }

    [Fact]
    public void Content_recorded_by_metadata_only_is_saved_before_it_is_overwritten()
    {
        File.WriteAllText(_p.Abs("old.c"), "int old;\n"); // there before the first mount: a baseline, metadata only
        var host = _p.Open();
        long baseline = host.Store.LastSeq;
        var (key, _) = _p.Stat("old.c");
        Assert.Equal(ContentKnowledge.Unknown, host.Recorder.Known(key));
        host.Recorder.CaptureBeforeModify(Alice, key, "old.c");
        Assert.Equal(ContentKnowledge.Safe, host.Recorder.Known(key));
        File.WriteAllText(_p.Abs("old.c"), "int new_and_longer;\n");
        host.Recorder.Written(Alice, "old.c", key);
        host.Recorder.Flush();
        Assert.Equal("int old;\n", File.ReadAllText(HistoryFile(host, "old.c", baseline)));
        Assert.Equal("int new_and_longer;\n", File.ReadAllText(HistoryFile(host, "old.c", host.Store.LastSeq)));
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

        host.Recorder.CaptureBeforeModify(Alice, newKey, "new.c");
        Assert.Equal(before, host.Store.LastSeq); // already in the store: nothing to save, nothing asked of it
        host.Recorder.CaptureBeforeModify(Alice, oldKey, "old.c");
        var capture = Assert.Single(_p.EventsAfter(before));
        Assert.Equal((EventOp.Capture, "old.c"), (capture.Op, capture.Path));
        Assert.Equal("int old;\n", File.ReadAllText(HistoryFile(host, "old.c", capture.Seq)));
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
        host.Recorder.AttributesChanged(Bob, "data.txt", key, _p.Stat("data.txt").Facts, bytesChanged: true);
        Assert.NotEqual(ContentKnowledge.Safe, host.Recorder.Known(key)); // its capture is queued
        var events = _p.EventsAfter(before);
        Assert.Equal([EventOp.SetAttributes, EventOp.Write], events.Select(e => e.Op));
        Assert.Equal("0123", File.ReadAllText(HistoryFile(host, "data.txt", events[^1].Seq)));
        Assert.Equal(ContentKnowledge.Safe, host.Recorder.Known(key));
    }

    [Fact]
    public async Task A_write_joins_the_queued_capture_of_its_file_and_a_wait_is_for_that_capture_only()
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
        host.Recorder.Written(Alice, "log.txt", key);
        File.AppendAllText(_p.Abs("log.txt"), "two\n");
        host.Recorder.Written(Alice, "log.txt", key); // the capture has not started: it will read both
        Assert.Equal(1, host.Recorder.CapturesCoalesced);

        using var later = new ManualResetEventSlim();
        host.Recorder.EnqueueExternal(() => later.Wait()); // queued behind the capture: no reason to wait for it
        gate.Set();
        await Task.Run(() => host.Recorder.WaitForCapture(key)).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(ContentKnowledge.Safe, host.Recorder.Known(key));
        later.Set();
        var write = Assert.Single(_p.EventsAfter(before));
        Assert.Equal("one\ntwo\n", File.ReadAllText(HistoryFile(host, "log.txt", write.Seq)));
    }

    [Fact]
    public void An_exchange_swaps_the_two_files_in_the_record()
    {
        var host = _p.Open();
        _p.Create(Alice, "a", "was a");
        _p.Create(Alice, "b", "was b");
        host.Recorder.Flush();
        long before = host.Store.LastSeq;
        File.Move(_p.Abs("a"), _p.Abs("tmp"));
        File.Move(_p.Abs("b"), _p.Abs("a"));
        File.Move(_p.Abs("tmp"), _p.Abs("b"));
        host.Recorder.Exchanged(Bob, "a", "b");
        host.Recorder.Flush();
        long after = host.Store.LastSeq;
        Assert.Equal("was a", File.ReadAllText(HistoryFile(host, "a", before)));
        Assert.Equal("was b", File.ReadAllText(HistoryFile(host, "a", after)));
        Assert.Equal("was a", File.ReadAllText(HistoryFile(host, "b", after)));
        Assert.Equal(["a", "b"], host.History.List(after, "")!.Select(e => e.Name).Order());
    }

    [Fact]
    public void Own_changes_are_marked_so_the_watcher_does_not_take_them_for_external_ones()
    {
        var host = _p.Open();
        Assert.False(host.Recorder.TouchedRecently("x.txt"));
        _p.Create(Alice, "x.txt", "x");
        Assert.True(host.Recorder.TouchedRecently("x.txt"));
        host.Recorder.OpenedForWriting("y.txt");
        Assert.True(host.Recorder.TouchedRecently("y.txt"));
    }

    [Fact]
    public void A_failed_record_is_counted_and_reported_not_thrown_at_the_caller()
    {
        var host = _p.Open();
        // A write to a file whose creation was never recorded: the store refuses it; the caller must not wait or fail.
        File.WriteAllText(_p.Abs("unrecorded"), "bytes");
        host.Recorder.Written(Alice, "unrecorded", _p.Stat("unrecorded").Key);
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
        host.Recorder.BeforeNamespaceChange("link");
        File.Delete(_p.Abs("link"));
        host.Recorder.Removed(Alice, "link", key, lastLink: true);
        var events = _p.EventsAfter(start);
        Assert.Equal([EventOp.Symlink, EventOp.Unlink], events.Select(e => e.Op));
        Assert.Equal("target"u8.ToArray(), host.History.SymlinkTarget(events[0].Seq, "link"));
    }

    private static string HistoryFile(ProjectHost host, string path, long seq)
    {
        var content = host.History.Content(seq, path) ?? throw new InvalidOperationException($"{path} did not exist at @{seq}");
        return content.ObjectPath ?? content.LivePath ?? throw new InvalidOperationException(content.Unavailable);
    }
}
