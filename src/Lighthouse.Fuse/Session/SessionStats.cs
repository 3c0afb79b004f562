using System.Diagnostics;
using System.Numerics;
using Lighthouse.Fuse.Protocol;

namespace Lighthouse.Fuse.Session;

/// <summary>
/// What the workers did, per opcode: requests and errors (by errno) and bytes since the start, and latency over sliding
/// windows (the last 1, 10 and 60 minutes) from a ring of per-minute histograms; plus a bounded ring of the recent
/// requests slower than <see cref="SlowThreshold"/>. Updated lock-free by the workers: a request costs three interlocked
/// operations (its count, its minute's latency bucket and sum), one more on an error or for READ/WRITE bytes, and allocates
/// nothing; a new minute takes a lock once, a slow request takes one to enter the ring.
/// </summary>
public sealed class SessionStats
{
    public const int Opcodes = 64;
    /// <summary>errno values counted one by one; larger ones (none in Linux today) share the last slot.</summary>
    private const int ErrnoSlots = 140;
    // Latency buckets, in microseconds: 0-3 exact, then four per power of two (about 19% wide) up to 2^25 µs (33 s);
    // the last bucket holds everything above. A percentile is its bucket's upper bound, capped at the window's maximum.
    private const int Octaves = 24;
    private const int Buckets = 4 * Octaves;
    private const int MinutesKept = 61; // the current minute and the 60 before it
    public const int SlowRingSize = 1000;

    private static readonly long TicksPerMinute = Stopwatch.Frequency * 60;
    private static readonly long TicksPerMicro = Math.Max(1, Stopwatch.Frequency / 1_000_000);
    private static readonly long TicksPerMilli = Math.Max(1, Stopwatch.Frequency / 1_000);

    private readonly long[] _counts = new long[Opcodes];
    private readonly long[] _bytes = new long[Opcodes];
    private readonly long[] _errors = new long[Opcodes * ErrnoSlots];
    private readonly Minute?[] _minutes = new Minute?[MinutesKept];
    private readonly ulong _unmeasuredTag;
    private readonly long _startTimestamp = Stopwatch.GetTimestamp();
    private long _lastTimestamp;
    private long _slowTicks;
    private long _slowSeen;
    private readonly SlowRequest[] _slow = new SlowRequest[SlowRingSize];
    private long _allocatedBytes;
    private long _measuredRequests;

    /// <summary>One minute's latency histograms (by opcode) and maxima; reused 61 minutes later.</summary>
    private sealed class Minute
    {
        public long Number = -1;
        public readonly int[] Histogram = new int[Opcodes * Buckets];
        public readonly long[] MaxTicks = new long[Opcodes];
        public readonly long[] SumTicks = new long[Opcodes];
    }

    /// <param name="unmeasuredNodeTag">Requests about node ids with this top byte are not counted (0: all are).</param>
    public SessionStats(TimeSpan? slowThreshold = null, ulong unmeasuredNodeTag = 0)
    {
        StartedUtc = DateTime.UtcNow;
        SlowThreshold = slowThreshold ?? SessionOptions.DefaultSlowThreshold;
        _unmeasuredTag = unmeasuredNodeTag & TagMask;
    }

    private const ulong TagMask = 0xFFUL << 56;

    /// <summary>When counting began (the session was created).</summary>
    public DateTime StartedUtc { get; }

    /// <summary>Requests taking at least this long enter <see cref="SlowRequests"/>; settable while serving.</summary>
    public TimeSpan SlowThreshold
    {
        get => TimeSpan.FromSeconds((double)Volatile.Read(ref _slowTicks) / Stopwatch.Frequency);
        set => Volatile.Write(ref _slowTicks, value <= TimeSpan.Zero ? 0 : (long)(value.TotalSeconds * Stopwatch.Frequency));
    }

    /// <param name="errno">The errno answered (positive), or 0.</param>
    /// <param name="bytes">Payload bytes moved: READ's reply data, WRITE's written count.</param>
    internal void Record(Opcode opcode, long start, long end, int errno, long bytes, ulong node, uint pid, uint uid)
    {
        if (_unmeasuredTag != 0 && (node & TagMask) == _unmeasuredTag) return;
        int op = (uint)opcode < Opcodes ? (int)opcode : 0;
        long elapsed = end - start;
        long minuteNumber = end / TicksPerMinute;
        var minute = _minutes[minuteNumber % MinutesKept];
        if (minute is null || Volatile.Read(ref minute.Number) != minuteNumber) minute = Turn(minuteNumber);
        Interlocked.Increment(ref minute.Histogram[op * Buckets + BucketOf(elapsed / TicksPerMicro)]);
        Interlocked.Add(ref minute.SumTicks[op], elapsed);
        if (elapsed > Volatile.Read(ref minute.MaxTicks[op])) RaiseMax(ref minute.MaxTicks[op], elapsed);
        Interlocked.Increment(ref _counts[op]);
        if (errno > 0) Interlocked.Increment(ref _errors[op * ErrnoSlots + Math.Min(errno, ErrnoSlots - 1)]);
        if (bytes > 0) Interlocked.Add(ref _bytes[op], bytes);
        // Written at most once a millisecond (a line every worker writes would bounce between CPUs); last writer wins.
        if (end - Volatile.Read(ref _lastTimestamp) > TicksPerMilli) Volatile.Write(ref _lastTimestamp, end);
        long slow = Volatile.Read(ref _slowTicks);
        if (slow > 0 && elapsed >= slow) AddSlow(opcode, end, elapsed, errno, node, pid, uid);
    }

    private static void RaiseMax(ref long max, long value)
    {
        long seen = Volatile.Read(ref max);
        while (value > seen)
        {
            long was = Interlocked.CompareExchange(ref max, value, seen);
            if (was == seen) return;
            seen = was;
        }
    }

    /// <summary>The slot of minute <paramref name="number"/>, emptied of what it held 61 minutes ago.</summary>
    private Minute Turn(long number)
    {
        lock (_minutes)
        {
            int index = (int)(number % MinutesKept);
            var minute = _minutes[index] ??= new Minute();
            // A request that started before the turn and ends after another thread turned it counts in the newer minute.
            if (minute.Number >= number) return minute;
            Array.Clear(minute.Histogram);
            Array.Clear(minute.MaxTicks);
            Array.Clear(minute.SumTicks);
            Volatile.Write(ref minute.Number, number);
            return minute;
        }
    }

    internal static int BucketOf(long micros)
    {
        if (micros < 4) return micros <= 0 ? 0 : (int)micros;
        int exponent = 63 - BitOperations.LeadingZeroCount((ulong)micros); // ≥ 2
        int bucket = 4 * (exponent - 1) + (int)((micros >> (exponent - 2)) & 3);
        return Math.Min(bucket, Buckets - 1);
    }

    /// <summary>The largest latency, in µs, a bucket holds (the last one: unbounded).</summary>
    internal static double UpperBoundMicros(int bucket)
    {
        if (bucket < 4) return bucket + 1;
        if (bucket == Buckets - 1) return double.PositiveInfinity;
        int exponent = bucket / 4 + 1, sub = bucket % 4;
        return (double)((4L + sub + 1) << (exponent - 2));
    }

    private void AddSlow(Opcode opcode, long end, long elapsed, int errno, ulong node, uint pid, uint uid)
    {
        var entry = new SlowRequest(UtcOf(end - elapsed), opcode, node, elapsed * 1e6 / Stopwatch.Frequency, errno, pid, uid);
        lock (_slow) _slow[_slowSeen++ % SlowRingSize] = entry;
    }

    internal void RecordAllocation(long bytes)
    {
        Interlocked.Add(ref _allocatedBytes, bytes);
        Interlocked.Increment(ref _measuredRequests);
    }

    private DateTime UtcOf(long timestamp) =>
        StartedUtc.AddTicks((long)((double)(timestamp - _startTimestamp) * TimeSpan.TicksPerSecond / Stopwatch.Frequency));

    public long TotalRequests
    {
        get { long sum = 0; for (int i = 0; i < Opcodes; i++) sum += Interlocked.Read(ref _counts[i]); return sum; }
    }

    /// <summary>When the latest counted request ended, to the millisecond (null: none yet).</summary>
    public DateTime? LastRequestUtc => Volatile.Read(ref _lastTimestamp) is var t and not 0 ? UtcOf(t) : null;

    /// <summary>Managed bytes allocated on worker threads while handling requests (the hot path should add none).</summary>
    public long AllocatedBytes => Interlocked.Read(ref _allocatedBytes);
    public long MeasuredRequests => Interlocked.Read(ref _measuredRequests);

    /// <summary>Requests that reached <see cref="SlowThreshold"/>, ever (the ring keeps the last <see cref="SlowRingSize"/>).</summary>
    public long SlowRequestsSeen { get { lock (_slow) return _slowSeen; } }

    /// <summary>A request that took at least the threshold: when it started, what, about which node, by whom, how long.</summary>
    public sealed record SlowRequest(DateTime StartedUtc, Opcode Opcode, ulong Node, double Micros, int Errno, uint Pid, uint Uid);

    /// <summary>Latency over one window: requests, their total time, percentiles and maximum in µs (0 when there were none).</summary>
    public sealed record Window(string Name, long Count, double SumMicros, double P50Micros, double P90Micros, double P99Micros, double MaxMicros);

    public sealed record OperationStats(Opcode Opcode, long Count, long Errors, IReadOnlyList<(int Errno, long Count)> ErrorsByErrno,
        long Bytes, IReadOnlyList<Window> Windows);

    /// <summary>The windows reported, by name and length in minutes.</summary>
    public static readonly IReadOnlyList<(string Name, int Minutes)> WindowSpans = [("1m", 1), ("10m", 10), ("1h", 60)];

    /// <summary>
    /// Every opcode seen since the start. A window of N minutes holds the requests that ended in the current minute
    /// and the N before it (so "1m" covers between one and two minutes).
    /// </summary>
    public IReadOnlyList<OperationStats> Snapshot()
    {
        long now = Stopwatch.GetTimestamp() / TicksPerMinute;
        var result = new List<OperationStats>();
        var histogram = new long[Buckets];
        for (int op = 0; op < Opcodes; op++)
        {
            long count = Interlocked.Read(ref _counts[op]);
            if (count == 0) continue;
            var errors = new List<(int, long)>();
            long errorTotal = 0;
            for (int e = 1; e < ErrnoSlots; e++)
                if (Interlocked.Read(ref _errors[op * ErrnoSlots + e]) is var n and > 0) { errors.Add((e, n)); errorTotal += n; }
            var windows = new List<Window>();
            foreach (var (name, minutes) in WindowSpans)
            {
                Array.Clear(histogram);
                long inWindow = 0, maxTicks = 0, sumTicks = 0;
                foreach (var minute in _minutes)
                {
                    if (minute is null) continue;
                    long number = Volatile.Read(ref minute.Number);
                    if (number < now - minutes || number > now) continue;
                    for (int b = 0; b < Buckets; b++)
                    {
                        int c = Volatile.Read(ref minute.Histogram[op * Buckets + b]);
                        histogram[b] += c;
                        inWindow += c;
                    }
                    maxTicks = Math.Max(maxTicks, Volatile.Read(ref minute.MaxTicks[op]));
                    sumTicks += Interlocked.Read(ref minute.SumTicks[op]);
                }
                double max = maxTicks * 1e6 / Stopwatch.Frequency;
                windows.Add(new Window(name, inWindow, sumTicks * 1e6 / Stopwatch.Frequency, Percentile(histogram, inWindow, 0.50, max), Percentile(histogram, inWindow, 0.90, max),
                    Percentile(histogram, inWindow, 0.99, max), inWindow == 0 ? 0 : max));
            }
            result.Add(new OperationStats((Opcode)op, count, errorTotal, errors, Interlocked.Read(ref _bytes[op]), windows));
        }
        return result;
    }

    private static double Percentile(long[] histogram, long count, double q, double max)
    {
        if (count == 0) return 0;
        long target = Math.Max(1, (long)Math.Ceiling(count * q)), seen = 0;
        for (int b = 0; b < Buckets; b++)
        {
            seen += histogram[b];
            if (seen >= target) return Math.Min(UpperBoundMicros(b), max);
        }
        return max; // counts moved while we read: the maximum bounds every percentile
    }

    /// <summary>The slow requests still in the ring, oldest first.</summary>
    public IReadOnlyList<SlowRequest> SlowRequests()
    {
        lock (_slow)
        {
            int kept = (int)Math.Min(_slowSeen, SlowRingSize);
            var result = new List<SlowRequest>(kept);
            for (long i = _slowSeen - kept; i < _slowSeen; i++) result.Add(_slow[i % SlowRingSize]);
            return result;
        }
    }
}
