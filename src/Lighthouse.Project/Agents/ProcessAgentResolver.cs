using System.Collections.Concurrent;
using System.Diagnostics;

namespace Lighthouse.Project.Agents;

/// <summary>
/// Names a caller "&lt;user&gt;/&lt;command&gt;" (e.g. "alice/git"): the user name of its uid and the
/// command name of its process — never a guess at a named agent. Resolved once per process, cached by
/// pid and the process's start time, so a recycled pid does not inherit another process's name; the
/// start time is re-checked at most once a second per pid.
/// </summary>
public sealed class ProcessAgentResolver : IAgentResolver
{
    private static readonly long RecheckTicks = Stopwatch.Frequency;
    private readonly ConcurrentDictionary<uint, Entry> _byPid = new();
    private readonly ConcurrentDictionary<uint, string> _userNames = new();
    private readonly string _procRoot;

    private sealed record Entry(ulong StartTime, uint Uid, Agent Agent, long CheckedAt);

    /// <param name="procRoot">Where /proc is (tests point it at a fake one).</param>
    public ProcessAgentResolver(string procRoot = "/proc") => _procRoot = procRoot;

    public Agent Resolve(in Caller caller)
    {
        if (caller.IsKernel) return Agent.Kernel;
        long now = Stopwatch.GetTimestamp();
        uint pid = caller.Pid, uid = caller.Uid;
        if (_byPid.TryGetValue(pid, out var cached) && cached.Uid == uid && now - cached.CheckedAt < RecheckTicks)
            return cached.Agent;
        var (start, comm) = ReadProcess(pid);
        if (cached is not null && cached.StartTime == start && cached.Uid == uid && start != 0)
        {
            _byPid[pid] = cached with { CheckedAt = now };
            return cached.Agent;
        }
        var agent = new Agent($"{UserName(uid)}/{comm ?? "unknown"}", AgentSource.Fallback);
        _byPid[pid] = new Entry(start, uid, agent, now);
        if (_byPid.Count > 4096) Prune(now);
        return agent;
    }

    private void Prune(long now)
    {
        foreach (var (pid, e) in _byPid)
            if (now - e.CheckedAt > 60 * RecheckTicks) _byPid.TryRemove(pid, out _);
    }

    /// <summary>Command name and start time (clock ticks since boot) of the process a thread belongs to.
    /// FUSE requests carry the calling thread's id; the process is its thread group.</summary>
    private (ulong Start, string? Comm) ReadProcess(uint tid)
    {
        try
        {
            uint pid = tid;
            foreach (var line in File.ReadLines($"{_procRoot}/{tid}/status"))
                if (line.StartsWith("Tgid:", StringComparison.Ordinal)) { uint.TryParse(line.AsSpan(5).Trim(), out pid); break; }
            var stat = File.ReadAllText($"{_procRoot}/{pid}/stat");
            int open = stat.IndexOf('('), close = stat.LastIndexOf(')');
            if (open < 0 || close < open) return (0, null);
            string comm = stat[(open + 1)..close];
            // Fields after the command: state is field 3; starttime is field 22.
            var rest = stat[(close + 2)..].Split(' ');
            ulong start = rest.Length > 19 && ulong.TryParse(rest[19], out var s) ? s : 0;
            return (start, comm);
        }
        catch (IOException) { return (0, null); } // the process has already exited
        catch (UnauthorizedAccessException) { return (0, null); }
    }

    private string UserName(uint uid) => _userNames.GetOrAdd(uid, static id =>
    {
        try
        {
            foreach (var line in File.ReadLines("/etc/passwd"))
            {
                var f = line.Split(':');
                if (f.Length > 2 && f[2] == id.ToString()) return f[0];
            }
        }
        catch (IOException) { }
        return $"uid{id}";
    });
}
