using System.Diagnostics;
using Lighthouse.Fuse.Protocol;

namespace Lighthouse.Fuse.Session;

/// <summary>Per-opcode request counts, errors and latency histograms, updated lock-free by the workers.</summary>
public sealed class SessionStats
{
    private const int Opcodes = 64;
    private const int Buckets = 32; // bucket b counts latencies in [2^b, 2^(b+1)) microseconds; bucket 0 includes < 1 µs
    private readonly long[] _counts = new long[Opcodes];
    private readonly long[] _errors = new long[Opcodes];
    private readonly long[] _ticks = new long[Opcodes];
    private readonly long[] _histogram = new long[Opcodes * Buckets];
    private long _allocatedBytes;
    private long _measuredRequests;

    internal void Record(Opcode opcode, long elapsedTicks, bool failed)
    {
        int op = (int)opcode < Opcodes ? (int)opcode : 0;
        Interlocked.Increment(ref _counts[op]);
        if (failed) Interlocked.Increment(ref _errors[op]);
        Interlocked.Add(ref _ticks[op], elapsedTicks);
        long micros = elapsedTicks * 1_000_000 / Stopwatch.Frequency;
        int bucket = micros <= 0 ? 0 : Math.Min(Buckets - 1, 63 - System.Numerics.BitOperations.LeadingZeroCount((ulong)micros));
        Interlocked.Increment(ref _histogram[op * Buckets + bucket]);
    }

    internal void RecordAllocation(long bytes)
    {
        Interlocked.Add(ref _allocatedBytes, bytes);
        Interlocked.Increment(ref _measuredRequests);
    }

    public long TotalRequests
    {
        get { long sum = 0; for (int i = 0; i < Opcodes; i++) sum += Interlocked.Read(ref _counts[i]); return sum; }
    }

    /// <summary>Managed bytes allocated on worker threads while handling requests (the hot path should add none).</summary>
    public long AllocatedBytes => Interlocked.Read(ref _allocatedBytes);
    public long MeasuredRequests => Interlocked.Read(ref _measuredRequests);

    public sealed record OperationStats(Opcode Opcode, long Count, long Errors, double MeanMicros, double P50Micros, double P99Micros);

    public IReadOnlyList<OperationStats> Snapshot()
    {
        var result = new List<OperationStats>();
        for (int op = 0; op < Opcodes; op++)
        {
            long count = Interlocked.Read(ref _counts[op]);
            if (count == 0) continue;
            double mean = Interlocked.Read(ref _ticks[op]) * 1e6 / Stopwatch.Frequency / count;
            result.Add(new OperationStats((Opcode)op, count, Interlocked.Read(ref _errors[op]), mean,
                Percentile(op, count, 0.50), Percentile(op, count, 0.99)));
        }
        return result;
    }

    private double Percentile(int op, long count, double q)
    {
        long target = (long)Math.Ceiling(count * q), seen = 0;
        for (int b = 0; b < Buckets; b++)
        {
            seen += Interlocked.Read(ref _histogram[op * Buckets + b]);
            if (seen >= target) return Math.Pow(2, b + 1); // upper bound of the bucket
        }
        return double.NaN;
    }
}
