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
        public bool Take<T>(BlockingCollection<T> queue, [MaybeNullWhen(false)] out T item)
        {
            Idle();
            try { item = queue.Take(); }
            catch (InvalidOperationException) { item = default; return false; } // completed while waiting
            Busy();
            return true;
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
