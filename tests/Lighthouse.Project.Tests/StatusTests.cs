using Lighthouse.Project.Status;
using Lighthouse.Store;
using static Lighthouse.Project.Tests.TestProject;

namespace Lighthouse.Project.Tests;

/// <summary>What a status report says of the record: counts, the last event, snapshots, objects and the chain.</summary>
public sealed class StatusTests : IDisposable
{
    private readonly TestProject _p = new();
    public void Dispose() => _p.Dispose();

    [Fact]
    public void The_summary_counts_what_the_record_holds()
    {
        var host = _p.Open();
        _p.Create(Alice, "a.c", "int a;\n");
        host.Recorder.Flush();
        host.CreateSnapshot(Bob, "v1");
        var summary = RecordSummary.Of(host.Store);
        Assert.Equal(host.Store.LastSeq, summary.Events);
        Assert.Equal(EventOp.SnapshotCreate, summary.LastEvent!.Op);
        Assert.Equal("bob/make", summary.LastEvent.Agent);
        Assert.Equal(["v1"], summary.Snapshots.Select(s => s.Name));
        Assert.True(summary.Objects.Count >= 1);
        Assert.True(summary.Chain.Ok);
        Assert.True(summary.ChainCheckedFully); // fewer events than the quick check covers
        Assert.Equal(summary.Events, host.Status().LastSeq);
    }

    [Fact]
    public void An_altered_event_breaks_the_chain_in_the_summary()
    {
        var host = _p.Open();
        _p.Create(Alice, "a.c", "");
        host.Recorder.Flush();
        long seq = host.Store.LastSeq;
        host.Dispose();
        Lighthouse.Store.Testing.StoreTampering.AlterEvent(_p.Dir, seq, e => e with { Agent = "mallory" });
        using var store = SqliteProjectStoreFactory.Instance.OpenReadOnly(_p.Dir, Fast);
        var quick = RecordSummary.Of(store);
        Assert.False(quick.Chain.Ok);
        Assert.Equal(seq, quick.Chain.FirstBrokenSeq);
        var full = RecordSummary.Of(store, store.Verify);
        Assert.False(full.Chain.Ok);
        Assert.True(full.ChainCheckedFully);
    }
}
