using System.Collections.Concurrent;
using Lighthouse.Project.Agents;

namespace Lighthouse.FileSystem.Debug;

/// <summary>
/// What each agent did through current/, counted where the record already knows the agent: opens and changes (create,
/// remove, rename, link, attributes) as operations, and at each close the bytes the daemon read and wrote through that
/// handle. Lookups, stats and listings are not attributed (naming their caller would cost a resolution per request), and
/// data moved by kernel passthrough never reaches the daemon. Bounded: past <see cref="MaxAgents"/> names, the rest
/// are counted together under <see cref="Others"/>.
/// </summary>
public sealed class AgentActivity
{
    public const int MaxAgents = 4096;
    public const string Others = "(others)";

    private sealed class Counters
    {
        public long Operations, BytesRead, BytesWritten;
    }

    private readonly ConcurrentDictionary<string, Counters> _byAgent = new(StringComparer.Ordinal);
    private long _changedTicks;

    private Counters For(string name)
    {
        if (_byAgent.TryGetValue(name, out var counters)) return counters;
        return _byAgent.Count >= MaxAgents ? _byAgent.GetOrAdd(Others, _ => new Counters()) : _byAgent.GetOrAdd(name, _ => new Counters());
    }

    public void Operation(Agent agent)
    {
        Interlocked.Increment(ref For(agent.Name).Operations);
        Volatile.Write(ref _changedTicks, DateTime.UtcNow.Ticks);
    }

    public void Bytes(Agent agent, long read, long written)
    {
        if (read == 0 && written == 0) return;
        var counters = For(agent.Name);
        Interlocked.Add(ref counters.BytesRead, read);
        Interlocked.Add(ref counters.BytesWritten, written);
        Volatile.Write(ref _changedTicks, DateTime.UtcNow.Ticks);
    }

    /// <summary>When a count last moved (null: never).</summary>
    public DateTime? ChangedUtc => Volatile.Read(ref _changedTicks) is var t and > 0 ? new DateTime(t, DateTimeKind.Utc) : null;

    public sealed record Totals(string Agent, long Operations, long BytesRead, long BytesWritten);

    /// <summary>Every agent counted so far, by name.</summary>
    public IReadOnlyList<Totals> Snapshot() =>
        [.. _byAgent.Select(p => new Totals(p.Key, Interlocked.Read(ref p.Value.Operations), Interlocked.Read(ref p.Value.BytesRead),
            Interlocked.Read(ref p.Value.BytesWritten))).OrderBy(t => t.Agent, StringComparer.Ordinal)];
}
