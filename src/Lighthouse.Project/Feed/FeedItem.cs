using Lighthouse.Store;

namespace Lighthouse.Project.Feed;

/// <summary>
/// What a <see cref="FeedSubscription"/> yields: an event, or a gap — events <see cref="GapFirst"/> to
/// <see cref="GapLast"/> (of those the filter passes) were dropped because the reader fell more than its
/// capacity behind. They are still in the log: subscribe again from <see cref="GapFirst"/> to read them.
/// </summary>
public readonly record struct FeedItem
{
    private FeedItem(StoreEvent? e, long gapFirst, long gapLast)
    {
        Event = e;
        GapFirst = gapFirst;
        GapLast = gapLast;
    }

    public static FeedItem Of(StoreEvent e) => new(e, 0, 0);
    public static FeedItem Gap(long first, long last) => new(null, first, last);

    public StoreEvent? Event { get; }
    public long GapFirst { get; }
    public long GapLast { get; }

    public bool IsGap => Event is null;

    /// <summary>The event number to subscribe from to continue right after this item.</summary>
    public long NextSeq => Event is { } e ? e.Seq + 1 : GapLast + 1;
}
