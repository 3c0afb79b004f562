using Lighthouse.Store;
using static Lighthouse.Project.Tests.TestProject;

namespace Lighthouse.Project.Tests;

/// <summary>Changes made beside the servers are recorded as external; our own are not taken for theirs.</summary>
public sealed class ExternalChangeTests : IDisposable
{
    private readonly TestProject _p = new();
    public void Dispose() => _p.Dispose();

    [Fact]
    public void A_file_written_beside_the_mount_is_recorded_as_external_and_reported_first()
    {
        var host = _p.Open();
        var reported = new List<string>();
        var follower = host.FollowExternalChanges();
        follower.ChangedBeside += paths => { lock (reported) reported.AddRange(paths); };
        long start = host.Store.LastSeq;
        _p.Create(Alice, "ours.txt", "made through the recorder");
        File.WriteAllText(_p.Abs("theirs.txt"), "made by an editor beside the mount");

        var deadline = DateTime.UtcNow.AddSeconds(10);
        IReadOnlyList<StoreEvent> events;
        do
        {
            Thread.Sleep(100);
            events = _p.EventsAfter(start);
        } while (!events.Any(e => e.Path == "theirs.txt") && DateTime.UtcNow < deadline);

        Assert.Contains(events, e => e.Path == "theirs.txt" && e.Agent == StoreConstants.ExternalAgent);
        Assert.DoesNotContain(events, e => e.Path == "ours.txt" && e.Agent == StoreConstants.ExternalAgent);
        lock (reported)
        {
            Assert.Contains("theirs.txt", reported);
            Assert.DoesNotContain("ours.txt", reported);
        }
        Assert.True(follower.ExternalEvents >= 1);
    }
}

/// <summary>A file kept open for writing through the mount is ours however long it stays open.</summary>
public sealed class LongWriterTests : IDisposable
{
    private readonly TestProject _p = new();
    public void Dispose() => _p.Dispose();

    [Fact]
    public void Bytes_that_reach_the_disk_while_a_file_is_open_through_us_are_never_taken_for_external()
    {
        var host = _p.Open();
        host.FollowExternalChanges();
        _p.Create(Alice, "build.log", "line 1\n");
        host.Recorder.Flush();
        long start = host.Store.LastSeq;
        host.Recorder.OpenedForWriting("build.log");
        Thread.Sleep(3300); // past the few seconds in which a change counts as ours anyway
        // Kernel passthrough: the writer's bytes go to the project directory without passing through us.
        File.AppendAllText(_p.Abs("build.log"), "line 2, written four seconds later\n");
        Thread.Sleep(1000); // the watcher's debounce and reconciliation
        Assert.True(host.Recorder.MayBeOurs("build.log"));
        Assert.DoesNotContain(_p.EventsAfter(start), e => e.Agent == StoreConstants.ExternalAgent);

        host.Recorder.ClosedForWriting("build.log");
        _p.Written(Alice, "build.log");
        var events = _p.EventsAfter(start);
        Assert.Equal([(EventOp.Write, "alice/editor")], events.Select(e => (e.Op, e.Agent)));
        Assert.False(host.Recorder.MayBeOurs("never-opened.txt"));
    }
}
