namespace Lighthouse.Fuse.Session;

/// <summary>How a session serves requests. A record, so a host can derive its own (`with`) from what a user chose.</summary>
public sealed record SessionOptions
{
    /// <summary>Worker threads, each reading its own cloned /dev/fuse descriptor.</summary>
    public int Threads { get; init; } = Math.Max(2, Environment.ProcessorCount);
    /// <summary>
    /// Serve requests through FUSE over io_uring where the kernel offers it (6.14+, the fuse module's
    /// enable_uring on): one queue per CPU, each served by a thread on that CPU, so a request is
    /// answered on the CPU of its caller. /dev/fuse keeps serving FORGET and INTERRUPT, and everything
    /// when io_uring is not there.
    /// </summary>
    public bool IoUring { get; init; } = true;
    /// <summary>Ring entries per CPU queue: requests one queue can hold at once (each has a 1 MiB buffer).</summary>
    public int RingEntries { get; init; } = 4;
    /// <summary>
    /// Hand io_uring replies to the kernel at idle priority, so the scheduler wakes the caller on its own
    /// CPU instead of moving it to another one on every request. Used only by threads that run under
    /// SCHED_OTHER and may return to it (root or CAP_SYS_NICE), and not where idle priority would make a
    /// reply wait (see <see cref="CallerCpuKeeper"/>).
    /// </summary>
    public bool KeepCallerOnCpu { get; init; } = true;
    /// <summary>
    /// While this returns true, replies go out at normal priority after all: the filesystem's own
    /// background work wants a CPU, and a ring thread at idle priority would wait behind it (the
    /// recorded mount's store writer made `tar x` 20% slower that way).
    /// </summary>
    public Func<bool>? BackgroundWorkPending { get; init; }
    /// <summary>Measure managed allocation per request on worker threads (cheap; on by default).</summary>
    public bool MeasureAllocations { get; init; } = true;
    /// <summary>Requests taking at least this long are kept in <see cref="SessionStats.SlowRequests"/> (the last 1000).
    /// Default: <see cref="DefaultSlowThreshold"/>.</summary>
    public TimeSpan SlowRequestThreshold { get; init; } = DefaultSlowThreshold;
    /// <summary>Requests about node ids whose top byte is this tag are left out of <see cref="SessionStats"/> (0: none are):
    /// a directory that shows the statistics would otherwise change them by being read.</summary>
    public ulong UnmeasuredNodeTag { get; init; }
    /// <summary>100 ms, or the milliseconds in LIGHTHOUSE_SLOW_MS.</summary>
    public static TimeSpan DefaultSlowThreshold { get; } =
        double.TryParse(Environment.GetEnvironmentVariable("LIGHTHOUSE_SLOW_MS"), System.Globalization.NumberStyles.Float,
            System.Globalization.CultureInfo.InvariantCulture, out var ms) && ms >= 0 ? TimeSpan.FromMilliseconds(ms) : TimeSpan.FromMilliseconds(100);
    /// <summary>Called for every request when set: for debugging only (slow).</summary>
    public Action<string>? Trace { get; init; }
}
