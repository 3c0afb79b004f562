using System.Collections.Concurrent;
using Lighthouse.Interop;
using System.Diagnostics.CodeAnalysis;

namespace Lighthouse.Store;

/// <summary>Threads that do deferred bookkeeping (recording, watching) run at a lower priority.</summary>
public static class BackgroundThread
{
    /// <summary>The nice value of background threads: where they share a CPU with a process waiting for
    /// a reply from the mount, the scheduler gives that process the CPU first (recording is asynchronous:
    /// it catches up when the CPU is free), without starving them when the machine is busy.</summary>
    public const int Nice = 10;

    /// <summary>Lowers the calling thread's priority to <see cref="Nice"/>; false if the system refused.</summary>
    public static bool LowerPriority() => Libc.SetPriority(Libc.PRIO_PROCESS, Libc.GetTid(), Nice) == 0;

    private static int _busy;

    /// <summary>Whether some background thread has work in hand (it wants a CPU soon). The FUSE ring threads
    /// then reply at normal priority: one at idle priority would wait behind that work on its CPU.</summary>
    public static bool AnyBusy => Volatile.Read(ref _busy) > 0;

    /// <summary>One thread's part in <see cref="AnyBusy"/>: busy from its start, idle only while it blocks
    /// for more work in <see cref="Take{T}"/>, idle for good once disposed.</summary>
    public sealed class Activity : IDisposable
    {
        private bool _busyNow;

        public Activity() => Busy();

        /// <summary>Waits for the next item, counted as idle meanwhile; false once the queue is completed.</summary>
        public bool Take<T>(BackgroundQueue<T> queue, [MaybeNullWhen(false)] out T item) =>
            Take(queue, Timeout.InfiniteTimeSpan, out item);

        /// <summary>As <see cref="Take{T}(BackgroundQueue{T}, out T)"/>, also false after <paramref name="timeout"/>.</summary>
        public bool Take<T>(BackgroundQueue<T> queue, TimeSpan timeout, [MaybeNullWhen(false)] out T item)
        {
            Idle();
            bool taken = queue.TryTake(out item, timeout);
            Busy();
            return taken;
        }

        /// <summary>Sleeps or waits for something other than CPU (a nap, a batch window), counted as idle meanwhile.</summary>
        public void Pause(Action wait)
        {
            Idle();
            try { wait(); }
            finally { Busy(); }
        }

        public void Dispose() => Idle();

        private void Busy()
        {
            if (_busyNow) return;
            _busyNow = true;
            Interlocked.Increment(ref _busy);
        }

        private void Idle()
        {
            if (!_busyNow) return;
            _busyNow = false;
            Interlocked.Decrement(ref _busy);
        }
    }
}

/// <summary>
/// The work queue of a background thread: many producers, one consumer. Unlike <see cref="System.Collections.Concurrent.BlockingCollection{T}"/>
/// (whose SemaphoreSlim spins with sched_yield before it blocks), a consumer that finds it empty blocks at once:
/// on 2 cores the spinning of an idle writer or recorder took CPU from the threads answering FUSE requests. A
/// producer takes no lock unless the consumer sleeps (a FUSE thread queues a record per change).
/// </summary>
public sealed class BackgroundQueue<T>
{
    private readonly ConcurrentQueue<T> _items = new();
    private readonly object _gate = new();
    private volatile bool _completed;
    private int _sleeping;

    public int Count => _items.Count;
    public bool IsAddingCompleted => _completed;
    /// <summary>Completed and drained.</summary>
    public bool IsCompleted => _completed && _items.IsEmpty;

    /// <exception cref="InvalidOperationException">after <see cref="CompleteAdding"/>.</exception>
    public void Add(T item)
    {
        if (_completed) throw new InvalidOperationException("the queue takes no more items");
        _items.Enqueue(item); // a full fence, as the consumer's Exchange: it sees the item, or we see it asleep
        if (Volatile.Read(ref _sleeping) != 0)
            lock (_gate) Monitor.Pulse(_gate);
    }

    public bool TryTake([MaybeNullWhen(false)] out T item) => _items.TryDequeue(out item);

    /// <summary>Waits up to <paramref name="timeout"/> (infinite: until an item comes or the queue is completed).</summary>
    public bool TryTake([MaybeNullWhen(false)] out T item, TimeSpan timeout)
    {
        if (_items.TryDequeue(out item)) return true;
        long deadline = timeout == Timeout.InfiniteTimeSpan ? long.MaxValue : Environment.TickCount64 + (long)Math.Ceiling(timeout.TotalMilliseconds);
        lock (_gate)
        {
            Interlocked.Exchange(ref _sleeping, 1); // one consumer: it is the only one who sleeps
            try
            {
                while (!_items.TryDequeue(out item))
                {
                    long left = deadline == long.MaxValue ? Timeout.Infinite : deadline - Environment.TickCount64;
                    if (_completed || deadline != long.MaxValue && left <= 0) return false;
                    Monitor.Wait(_gate, (int)Math.Min(left, int.MaxValue));
                }
                return true;
            }
            finally { Volatile.Write(ref _sleeping, 0); }
        }
    }

    /// <summary>No more items: a waiting consumer wakes up and gets false once the queue is drained.</summary>
    public void CompleteAdding()
    {
        lock (_gate)
        {
            _completed = true;
            Monitor.PulseAll(_gate);
        }
    }
}
