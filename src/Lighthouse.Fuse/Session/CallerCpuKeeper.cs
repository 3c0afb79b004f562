using System.Buffers.Text;
using System.Diagnostics;
using Lighthouse.Interop;

namespace Lighthouse.Fuse.Session;

/// <summary>
/// Keeps a caller on its CPU when a ring thread answers it. The ring thread runs on the caller's CPU,
/// so when its reply wakes the caller that CPU is busy (with the ring thread) and the scheduler moves
/// the caller to an idle CPU, and back on the next request: `tar x` of 5,000 files moved tar 34,000
/// times. While the thread submits the reply it runs as SCHED_IDLE, which the scheduler counts as an
/// idle CPU: the caller is woken where it was, preempts the thread at once, and the thread returns to
/// SCHED_OTHER before it waits for the next request (so it is woken with normal priority).
///
/// Measured on 2 CPUs (bench/run, tar x of 5,000 files through the passthrough): 1.4–1.6 s → 0.88–0.95 s
/// on an idle machine. The price is paid when another task wants the CPU: a preempted SCHED_IDLE
/// thread waits behind it (with a busy loop on each CPU the same tar took 1.35 s → 1.9 s). So the
/// switch is skipped while the 1-minute load average is above the CPU count, while the filesystem's
/// own background work is pending (<see cref="SessionOptions.BackgroundWorkPending"/>), and, per
/// queue, for a second after a submission took over 1 ms (another task held the CPU meanwhile):
/// with those, the busy-loop case costs 0–10% (0.94–1.08 s off, 1.03–1.16 s on). It needs the right to return
/// from SCHED_IDLE (root, CAP_SYS_NICE or an RLIMIT_NICE of 20), probed once on a throwaway thread,
/// and is left alone by threads started under another policy (`chrt --batch lighthouse ...`).
/// </summary>
internal static unsafe class CallerCpuKeeper
{
    private static readonly Lazy<bool> CanReturn = new(ProbeReturn);

    /// <summary>A submission at idle priority that took longer than this waited behind another task.</summary>
    public static readonly long StarvedTicks = Stopwatch.Frequency / 1000;        // 1 ms
    /// <summary>How long a queue then replies at normal priority before it tries again.</summary>
    public static readonly long PauseTicks = Stopwatch.Frequency;                // 1 s
    private static readonly int Cpus = Environment.ProcessorCount;
    private static long _nextLoadCheck;     // Stopwatch ticks
    private static volatile bool _saturated;
    private static int _loadFd = -2;

    /// <summary>Whether this process may switch to SCHED_IDLE and back (probed once).</summary>
    public static bool Available => CanReturn.Value;

    /// <summary>Switches the calling thread to SCHED_IDLE, unless the machine is saturated; true when switched.</summary>
    /// <param name="now">Stopwatch ticks (the caller has read the clock already).</param>
    public static bool TryEnterIdle(long now)
    {
        if (Saturated(now)) return false;
        int priority = 0;
        return Libc.SchedSetScheduler(0, Libc.SCHED_IDLE, &priority) == 0;
    }

    /// <summary>Returns the calling thread to SCHED_OTHER; false if refused (the thread stays idle-priority).</summary>
    public static bool LeaveIdle()
    {
        int priority = 0;
        return Libc.SchedSetScheduler(0, Libc.SCHED_OTHER, &priority) == 0;
    }

    private static bool ProbeReturn()
    {
        bool ok = false;
        var probe = new Thread(() =>
        {
            int priority = 0;
            ok = Libc.SchedSetScheduler(0, Libc.SCHED_IDLE, &priority) == 0
                 && Libc.SchedSetScheduler(0, Libc.SCHED_OTHER, &priority) == 0;
        }) { IsBackground = true, Name = "sched-probe" };
        probe.Start();
        probe.Join();
        return ok;
    }

    /// <summary>The 1-minute load average above the CPU count, read at most once a second.</summary>
    private static bool Saturated(long now)
    {
        if (now < Volatile.Read(ref _nextLoadCheck)) return _saturated;
        Volatile.Write(ref _nextLoadCheck, now + Stopwatch.Frequency);
        double? load = ReadLoadAverage();
        _saturated = load > Cpus;
        return _saturated;
    }

    private static double? _loadForTests;

    /// <summary>Tests: use <paramref name="load"/> as the load average from now on (null: read /proc again).</summary>
    internal static void OverrideLoadForTests(double? load)
    {
        _loadForTests = load;
        Volatile.Write(ref _nextLoadCheck, 0);
    }

    private static double? ReadLoadAverage()
    {
        if (_loadForTests is { } forced) return forced;
        if (Volatile.Read(ref _loadFd) == -2)
        {
            int fd;
            fixed (byte* path = "/proc/loadavg\0"u8) fd = Libc.Open(path, Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
            if (Interlocked.CompareExchange(ref _loadFd, fd, -2) != -2 && fd >= 0) Libc.Close(fd); // another queue was first
        }
        if (_loadFd < 0) return null; // no /proc: never counted as saturated
        byte* text = stackalloc byte[64];
        nint n = Libc.Pread(_loadFd, text, 64, 0);
        return n > 0 ? ParseFirstNumber(new ReadOnlySpan<byte>(text, (int)n)) : null;
    }

    /// <summary>The leading "12.34" of /proc/loadavg, without allocating.</summary>
    internal static double? ParseFirstNumber(ReadOnlySpan<byte> text) =>
        Utf8Parser.TryParse(text, out double value, out _) ? value : null;
}
