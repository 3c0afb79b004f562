using Lighthouse.Fuse.LowLevel;
using Lighthouse.Fuse.Session;
using Lighthouse.Project.Feed;

namespace Lighthouse.FileSystem.Streams;

/// <summary>
/// One open stream file: its place in the feed, the reader it was opened by, and the bytes taken from the feed but not
/// yet read (lines a short read left over, or the rest of a line longer than the reader's buffer). A read takes whole
/// lines that fit; nothing taken from the feed is lost to a short buffer or an interrupted read.
/// </summary>
internal sealed class StreamHandle : IDisposable
{
    // Events looked at per fill: bounds the time one request spends catching up on a long log.
    private const int MaxItemsPerFill = 4096;

    private readonly FeedSubscription _subscription;
    private readonly StreamViewer _viewer;
    private readonly IFuseNotifier? _notifier;
    private readonly Lock _gate = new();
    private readonly Queue<byte[]> _lines = new();
    private int _headOffset;       // bytes of _lines' first line already read
    private long _pendingBytes;
    private ulong _pollHandle;     // the kernel's poll handle once it asked to be told (0: not asked)
    private TaskCompletionSource? _arrival;
    private bool _released;

    public StreamHandle(FeedSubscription subscription, StreamViewer viewer, IFuseNotifier? notifier)
    {
        _subscription = subscription; _viewer = viewer; _notifier = notifier;
        _subscription.Available += OnAvailable;
    }

    /// <summary>On the store's commit thread: wake a waiting read and the pollers; never reads from here.</summary>
    private void OnAvailable()
    {
        Interlocked.Exchange(ref _arrival, null)?.TrySetResult();
        var kh = Volatile.Read(ref _pollHandle);
        // Only queued here: the notifier writes it to the kernel from a thread of its own.
        if (kh != 0) _notifier?.PollWakeup(kh);
    }

    /// <summary>A read now: as many whole lines as fit, the part of a line that fills <paramref name="buffer"/> when the
    /// next one does not fit whole; 0 when nothing is ready. False once released.</summary>
    public bool TryReadNow(Span<byte> buffer, out int read)
    {
        lock (_gate)
        {
            read = 0;
            if (_released) return false;
            Fill(buffer.Length);
            read = CopyOut(buffer);
            Advance(read);
            return true;
        }
    }

    /// <summary>For poll: whether a read would return something now; with <paramref name="kh"/> != 0, the kernel is told
    /// (through the notifier) when that changes.</summary>
    public bool Readable(ulong kh)
    {
        // Asked for before looking, so an event arriving right after the look still wakes the poller.
        if (kh != 0) Volatile.Write(ref _pollHandle, kh);
        lock (_gate)
        {
            if (_released) return true; // a read would end at once
            Fill(1);
            return _pendingBytes > 0;
        }
    }

    /// <summary>
    /// A blocked read, served off the FUSE workers: waits for events this reader may see, then replies with what fits in
    /// <paramref name="size"/> bytes. Interrupted (<paramref name="interrupted"/>, FUSE INTERRUPT): EINTR, nothing
    /// consumed. Released meanwhile: end of stream.
    /// </summary>
    public async Task ServeBlockedReadAsync(DeferredReply reply, int size, CancellationToken interrupted)
    {
        try
        {
            while (true)
            {
                Task arrival;
                lock (_gate)
                {
                    if (_released) { reply.ReplyData([]); return; }
                    // Armed before looking: an event committed between the look and the wait still wakes us.
                    var next = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    Volatile.Write(ref _arrival, next);
                    arrival = next.Task;
                    Fill(size);
                    if (_pendingBytes > 0)
                    {
                        ReplyWhatFits(reply, size);
                        return;
                    }
                }
                await arrival.WaitAsync(interrupted).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            // Off the thread that delivered the INTERRUPT (it is cancelling the reply's own token source).
            await Task.Yield();
            reply.ReplyError(Errno.EINTR);
        }
        catch (Exception e)
        {
            reply.ReplyError(Errno.EIO);
            Console.Error.WriteLine($"lighthouse: a streams/ read failed: {e.Message}");
        }
    }

    /// <summary>Replies with what fits; the bytes leave the handle only once the reply is sent. Under _gate.</summary>
    private void ReplyWhatFits(DeferredReply reply, int size)
    {
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(size);
        try
        {
            int n = CopyOut(buffer.AsSpan(0, size));
            if (reply.ReplyData(buffer.AsSpan(0, n))) Advance(n);
        }
        finally { System.Buffers.ArrayPool<byte>.Shared.Return(buffer); }
    }

    /// <summary>Takes items from the feed, as the reader may see them, until <paramref name="wanted"/> bytes are pending or
    /// nothing more is there now. Under _gate.</summary>
    private void Fill(int wanted)
    {
        if (_pendingBytes >= wanted) return;
        var access = _viewer.NewBatch();
        for (int taken = 0; _pendingBytes < wanted && taken < MaxItemsPerFill && _subscription.TryRead(out var item); taken++)
        {
            byte[] line;
            if (item.Event is { } e)
            {
                if (_viewer.Visible(e, access) is not { } visible) continue;
                line = FeedFormat.ToUtf8JsonLine(FeedItem.Of(visible));
            }
            else line = FeedFormat.ToUtf8JsonLine(item); // a gap names no path: everyone may know events were dropped
            _lines.Enqueue(line);
            _pendingBytes += line.Length;
        }
    }

    /// <summary>Copies whole pending lines that fit into <paramref name="buffer"/>, or, if the first does not fit, as much
    /// of it as does. Consumes nothing (<see cref="Advance"/> does). Under _gate.</summary>
    private int CopyOut(Span<byte> buffer)
    {
        int n = 0, offset = _headOffset;
        foreach (var line in _lines)
        {
            int rest = line.Length - offset;
            if (n + rest > buffer.Length)
            {
                if (n == 0)
                {
                    line.AsSpan(offset, buffer.Length).CopyTo(buffer);
                    n = buffer.Length;
                }
                break;
            }
            line.AsSpan(offset).CopyTo(buffer[n..]);
            n += rest;
            offset = 0;
        }
        return n;
    }

    /// <summary>Drops the first <paramref name="count"/> pending bytes (they were read). Under _gate.</summary>
    private void Advance(int count)
    {
        _pendingBytes -= count;
        while (count > 0)
        {
            var line = _lines.Peek();
            int rest = line.Length - _headOffset;
            if (count < rest) { _headOffset += count; return; }
            count -= rest;
            _lines.Dequeue();
            _headOffset = 0;
        }
    }

    /// <summary>The file was released: leaves the feed and ends a read still waiting.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_released) return;
            _released = true;
            _lines.Clear();
            _pendingBytes = 0;
        }
        _subscription.Available -= OnAvailable;
        _subscription.Dispose();
        Interlocked.Exchange(ref _arrival, null)?.TrySetResult();
    }
}
