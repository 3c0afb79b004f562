using Lighthouse.Store;

namespace Lighthouse.Project.Status;

/// <summary>
/// What a status report says of a project's record, whoever asks (`lighthouse status`, the coming
/// `GET /v1/status`): how many events, the last one, snapshots, the objects kept, and whether the
/// hash chain holds — its end only (cheap, every time) or all of it.
/// </summary>
public sealed record RecordSummary(long Events, StoreEvent? LastEvent, IReadOnlyList<Snapshot> Snapshots, ObjectStats Objects,
    VerifyResult Chain, bool ChainCheckedFully)
{
    /// <summary>How many of the newest events the quick check of the chain covers.</summary>
    public const int QuickChainCheck = 1000;

    /// <summary>Reads the summary from <paramref name="store"/> (read-only is enough).</summary>
    /// <param name="fullCheck">Checks the whole chain (the store's own Verify, or a running mount's); null: check
    /// only the last <see cref="QuickChainCheck"/> events.</param>
    public static RecordSummary Of(IProjectStore store, Func<VerifyResult>? fullCheck = null)
    {
        long last = store.LastSeq;
        var lastEvent = last > 0 ? store.Log(new LogQuery { Limit = 1 }).Events.FirstOrDefault() : null;
        var chain = fullCheck is not null ? fullCheck() : store.VerifyTail(QuickChainCheck);
        return new RecordSummary(last, lastEvent, store.Snapshots(), store.ObjectStatistics(), chain,
            ChainCheckedFully: fullCheck is not null || last <= QuickChainCheck);
    }
}
