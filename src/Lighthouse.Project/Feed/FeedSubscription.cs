using Lighthouse.Store;

namespace Lighthouse.Project.Feed;

/// <summary>
/// One reader's position in the <see cref="EventFeed"/>: yields the events from its start, in order, first
/// from the log (read a page at a time, on the reader's thread) and then as they are committed. Safe for
/// several threads, though one reader is the normal case.
/// </summary>
/// <remarks>
/// Switch-over: the subscription is registered with the feed before it first reads the log, so every event
/// is either already in the log at that read or handed over by its commit; the first event handed over
/// (<c>_liveFirst</c>) tells how far the log must be read, and live events already read from the log are
/// skipped. Hence no hole and no duplicate, whatever the timing.
/// </remarks>
public sealed class FeedSubscription : IDisposable
{
    // Events per log read while catching up: bounded memory whatever the log's length.
    private const int PageSize = 512;

    private readonly EventFeed _feed;
    private readonly IProjectStore _store;
    private readonly FeedFilter? _filter;
    private readonly int _capacity;

    // Reader side, under _read: items ready to hand out, and the next event number not yet looked at.
    private readonly Lock _read = new();
    private readonly Queue<FeedItem> _ready = new();
    private long _next;
    // The first event wanted: a commit still being handed out when we subscribed may hold older ones.
    private readonly long _from;

    // Shared with the commit thread, under _queue; held only to move references, never during I/O.
    private readonly Lock _queue = new();
    private readonly Queue<FeedItem> _live = new();
    private int _liveEvents;        // events in _live (its gap item, if any, not counted)
    private long _lastLiveSeq;
    private long _liveFirst;        // the first event the commit thread handed over; 0 = none yet
    private TaskCompletionSource? _waiter;
    private volatile bool _disposed;

    internal FeedSubscription(EventFeed feed, IProjectStore store, long fromSeq, FeedFilter? filter, int capacity)
    {
        _feed = feed;
        _store = store;
        _filter = filter;
        _capacity = capacity;
        _next = fromSeq;
        _from = fromSeq;
    }

    /// <summary>
    /// Raised when items become available after there were none queued: the hook for poll. It runs on the
    /// store's commit thread: keep it short (signal a waiter, queue a notification), never read from here.
    /// </summary>
    public event Action? Available;

    /// <summary>Takes the next item if there is one now (never waits for a commit): the O_NONBLOCK read.</summary>
    public bool TryRead(out FeedItem item)
    {
        lock (_read)
        {
            if (!_disposed && Fill()) return _ready.TryDequeue(out item);
            item = default;
            return false;
        }
    }

    /// <summary>Whether <see cref="TryRead"/> would return an item now (for poll); may read the next page of the log to know.</summary>
    public bool CanRead
    {
        get
        {
            lock (_read) return !_disposed && Fill();
        }
    }

    /// <summary>
    /// The next item, waiting for a commit if needed. Cancelled by <paramref name="cancellationToken"/> (an
    /// interrupted read: nothing is consumed); <see cref="ObjectDisposedException"/> once the subscription is disposed.
    /// </summary>
    public async ValueTask<FeedItem> ReadAsync(CancellationToken cancellationToken = default)
    {
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (TryRead(out var item)) return item;
            Task ready;
            lock (_queue)
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                if (_live.Count > 0) continue; // arrived since TryRead looked
                // Continuations run asynchronously so the commit thread never runs a reader's code.
                _waiter ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                ready = _waiter.Task;
            }
            await ready.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Makes sure _ready holds the next item if there is one; under _read.</summary>
    private bool Fill()
    {
        while (_ready.Count == 0)
        {
            long liveFirst;
            lock (_queue) liveFirst = _liveFirst;
            if ((liveFirst == 0 || _next < liveFirst) && ReadLogPage(liveFirst)) continue;
            if (!TakeLive()) return false;
        }
        return true;
    }

    /// <summary>Reads the events from _next on (below <paramref name="liveFirst"/>) from the log; false when there are none.</summary>
    private bool ReadLogPage(long liveFirst)
    {
        var before = liveFirst == 0 ? _next + PageSize : Math.Min(_next + PageSize, liveFirst);
        // The log pages newest first below a bound; event numbers have no holes, so this window holds
        // exactly [_next, before). The filter is applied here rather than in SQL, where it would make the
        // query scan below _next for matches.
        var page = _store.Log(new LogQuery { BeforeSeq = before, Limit = PageSize }).Events;
        var advanced = false;
        for (var i = page.Count - 1; i >= 0; i--)
        {
            var e = page[i];
            if (e.Seq < _next) continue;
            if (_filter is null || _filter.Matches(e)) _ready.Enqueue(FeedItem.Of(e));
            _next = e.Seq + 1;
            advanced = true;
        }
        return advanced;
    }

    /// <summary>Moves the next live item not already read from the log into _ready; under _read.</summary>
    private bool TakeLive()
    {
        lock (_queue)
        {
            while (_live.TryDequeue(out var item))
            {
                if (item.Event is { } e)
                {
                    _liveEvents--;
                    if (e.Seq < _next) continue;
                    _next = e.Seq + 1;
                    _ready.Enqueue(item);
                    return true;
                }
                if (item.GapLast < _next) continue; // all of it was read from the log
                _ready.Enqueue(FeedItem.Gap(Math.Max(item.GapFirst, _next), item.GapLast));
                _next = item.GapLast + 1;
                return true;
            }
            return false;
        }
    }

    /// <summary>On the store's commit thread: queues the matching events, O(events), never waits for the reader.</summary>
    internal void OnCommitted(IReadOnlyList<StoreEvent> events)
    {
        TaskCompletionSource? waiter;
        var becameAvailable = false;
        lock (_queue)
        {
            if (_disposed) return;
            var wasEmpty = _live.Count == 0;
            foreach (var e in events)
            {
                // Older than the start: neither ours nor a measure of how far behind we are.
                if (e.Seq < _from) continue;
                if (_liveFirst == 0) _liveFirst = e.Seq;
                if (_filter is not null && !_filter.Matches(e)) continue;
                if (_liveEvents == _capacity) DropBacklog();
                _live.Enqueue(FeedItem.Of(e));
                _liveEvents++;
                _lastLiveSeq = e.Seq;
            }
            if (_live.Count == 0) return;
            becameAvailable = wasEmpty;
            waiter = _waiter;
            _waiter = null;
        }
        waiter?.TrySetResult();
        if (becameAvailable) Available?.Invoke();
    }

    /// <summary>
    /// The reader is more than its capacity behind: rather than grow without bound or hold up the commit,
    /// its backlog becomes one gap item (merged with a gap still unread) and it goes on from the newest.
    /// The dropped events stay in the log for whoever subscribes again from the gap's first event.
    /// </summary>
    private void DropBacklog()
    {
        var head = _live.Peek();
        var first = head.Event is { } e ? e.Seq : head.GapFirst;
        _live.Clear();
        _live.Enqueue(FeedItem.Gap(first, _lastLiveSeq));
        _liveEvents = 0;
    }

    /// <summary>Unhooks the subscription from the feed; a pending <see cref="ReadAsync"/> ends with <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        TaskCompletionSource? waiter;
        lock (_queue)
        {
            if (_disposed) return;
            _disposed = true;
            waiter = _waiter;
            _waiter = null;
            _live.Clear();
        }
        _feed.Remove(this);
        waiter?.TrySetException(new ObjectDisposedException(nameof(FeedSubscription)));
    }
}
