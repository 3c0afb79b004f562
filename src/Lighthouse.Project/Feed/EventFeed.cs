using Lighthouse.Store;

namespace Lighthouse.Project.Feed;

/// <summary>
/// The live event feed of a project, read by <c>streams/</c> files and server-sent events alike: each
/// <see cref="Subscribe"/> replays the log from an event number and then follows new commits, in order,
/// with no duplicate and no hole between the two. One handler on the store's <c>Committed</c> fans
/// every commit out to the subscriptions; it only copies references into their queues and never waits
/// for a reader.
/// </summary>
public sealed class EventFeed : IDisposable
{
    private readonly IProjectStore _store;
    // Copy-on-write, so the commit thread reads it without a lock; changed only by (un)subscribing.
    private FeedSubscription[] _subscriptions = [];
    private readonly Lock _change = new();
    private bool _disposed;

    public EventFeed(IProjectStore store)
    {
        _store = store;
        _store.Committed += OnCommitted;
    }

    /// <summary>Number of open subscriptions.</summary>
    public int SubscriptionCount => Volatile.Read(ref _subscriptions).Length;

    /// <summary>
    /// Events from <paramref name="fromSeq"/> on (1 = the whole log; <c>store.LastSeq + 1</c> = only new ones) that
    /// pass <paramref name="filter"/>. A reader that falls more than <paramref name="capacity"/> events behind the
    /// live commits gets one gap item and goes on from the newest. Dispose the subscription when done.
    /// </summary>
    public FeedSubscription Subscribe(long fromSeq, FeedFilter? filter = null, int capacity = 10_000)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(fromSeq, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        var subscription = new FeedSubscription(this, _store, fromSeq, filter, capacity);
        lock (_change)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            // Interlocked (a full fence): the subscription is visible to the commit thread before it reads the log,
            // so an event is either in what that first read sees or handed to the subscription by its commit.
            Interlocked.Exchange(ref _subscriptions, [.. _subscriptions, subscription]);
        }
        return subscription;
    }

    internal void Remove(FeedSubscription subscription)
    {
        lock (_change)
            Interlocked.Exchange(ref _subscriptions, _subscriptions.Where(s => s != subscription).ToArray());
    }

    /// <summary>On the store's writer thread, after each group commit: O(events × subscriptions), never blocks on a reader.</summary>
    private void OnCommitted(IReadOnlyList<StoreEvent> events)
    {
        if (events.Count == 0) return;
        foreach (var s in Volatile.Read(ref _subscriptions)) s.OnCommitted(events);
    }

    /// <summary>Unhooks the feed from the store and ends every subscription.</summary>
    public void Dispose()
    {
        FeedSubscription[] open;
        lock (_change)
        {
            if (_disposed) return;
            _disposed = true;
            _store.Committed -= OnCommitted;
            open = _subscriptions;
        }
        foreach (var s in open) s.Dispose();
    }
}
