namespace Lighthouse.Store;

/// <summary>Threads that do deferred bookkeeping (recording, watching) run at a lower priority.</summary>
public static class BackgroundThread
{
    /// <summary>The nice value of background threads: where they share a CPU with a process waiting for
    /// a reply from the mount, the scheduler gives that process the CPU first (recording is asynchronous:
    /// it catches up when the CPU is free), without starving them when the machine is busy.</summary>
    public const int Nice = 10;

    /// <summary>Lowers the calling thread's priority to <see cref="Nice"/>; false if the system refused.</summary>
    public static bool LowerPriority() => Native.Libc.SetPriority(0 /* PRIO_PROCESS */, Native.Libc.GetTid(), Nice) == 0;
}
