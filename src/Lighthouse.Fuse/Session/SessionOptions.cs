namespace Lighthouse.Fuse.Session;

public sealed class SessionOptions
{
    /// <summary>Worker threads, each reading its own cloned /dev/fuse descriptor.</summary>
    public int Threads { get; init; } = Math.Max(2, Environment.ProcessorCount);
    /// <summary>Measure managed allocation per request on worker threads (cheap; on by default).</summary>
    public bool MeasureAllocations { get; init; } = true;
    /// <summary>Called for every request when set: for debugging only (slow).</summary>
    public Action<string>? Trace { get; init; }
}
