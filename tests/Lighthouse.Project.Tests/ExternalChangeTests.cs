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
