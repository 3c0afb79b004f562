using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;

namespace Lighthouse.Project.Agents;

/// <summary>
/// Names the agent behind a caller, first match wins (DESIGN.md "Identity and access"):
/// <list type="number">
/// <item>a registered ancestor: the process, or one of its ancestors, was started by <c>lighthouse run --agent</c>
///   (<see cref="Register"/>; a registration names a pid and its start time, so a recycled pid inherits nothing);</item>
/// <item>a valid <c>LIGHTHOUSE_TOKEN</c> in the process's environment (/proc/&lt;pid&gt;/environ); a forged, expired,
///   revoked or other project's token is refused, said once per process (<see cref="Refusals"/>), and the next rule applies;</item>
/// <item>a uid mapped to an agent (<c>lighthouse agent map-uid</c>);</item>
/// <item>otherwise "&lt;user&gt;/&lt;command&gt;" (e.g. "alice/git"), never a guess at a named agent.</item>
/// </list>
/// Resolved once per process and cached by pid and start time; the start time is re-checked at most once a second per
/// pid, and a change of the registry or a new registration resolves everyone again.
/// </summary>
public sealed class ProcessAgentResolver : IAgentResolver
{
    public const string TokenVariable = "LIGHTHOUSE_TOKEN";
    private static readonly long RecheckTicks = Stopwatch.Frequency;
    private const int MaxAncestry = 128;
    private readonly ConcurrentDictionary<uint, Entry> _byPid = new();
    private readonly ConcurrentDictionary<uint, string> _userNames = new();
    private readonly ConcurrentDictionary<(uint Pid, ulong Start), Registration> _runs = new();
    private readonly ConcurrentDictionary<(uint Pid, ulong Start), byte> _refused = new();
    private readonly string _procRoot;
    private readonly AgentRegistry? _registry;
    private long _runsGeneration, _registryCheckedAt;

    private sealed record Entry(ulong StartTime, uint Uid, Agent Agent, long CheckedAt, long Generation);

    /// <summary>A process started as an agent by <c>lighthouse run</c>.</summary>
    public sealed record Registration(uint Pid, ulong StartTime, string Agent, string? Role, DateTime RegisteredUtc);

    /// <param name="procRoot">Where /proc is (tests point it at a fake one).</param>
    /// <param name="registry">The project's named agents (null: only the fallback and registered runs apply).</param>
    public ProcessAgentResolver(string procRoot = "/proc", AgentRegistry? registry = null)
    {
        _procRoot = procRoot;
        _registry = registry;
    }

    /// <summary>Called with a line for each refused token (once per process).</summary>
    public Action<string>? Refusals { get; init; }

    /// <summary>Processes registered by <c>lighthouse run</c> that are still running.</summary>
    public IReadOnlyList<Registration> Runs
    {
        get
        {
            // A run that ended changes who is present: the agents/ files date that from when it was noticed.
            foreach (var (key, _) in _runs)
                if (StartTimeOf(key.Pid) != key.Start && _runs.TryRemove(key, out _)) ChangedUtc = DateTime.UtcNow;
            return [.. _runs.Values.OrderBy(r => r.RegisteredUtc)];
        }
    }

    /// <summary>When the set of known agents or runs last changed (for the mount's agents/ files: never "now").</summary>
    public DateTime ChangedUtc { get; private set; } = DateTime.UtcNow;

    /// <summary>
    /// Makes the running process <paramref name="pid"/> (and every process it starts) the agent <paramref name="agent"/>
    /// with <paramref name="role"/>. Returns false if the process is gone.
    /// </summary>
    public bool Register(uint pid, string agent, string? role)
    {
        var start = StartTimeOf(pid);
        if (start == 0) return false;
        _runs[(pid, start)] = new Registration(pid, start, agent, role, DateTime.UtcNow);
        ChangedUtc = DateTime.UtcNow;
        Interlocked.Increment(ref _runsGeneration);
        return true;
    }

    private long Generation => Interlocked.Read(ref _runsGeneration) + (_registry?.Generation ?? 0) * (1L << 32);

    public Agent Resolve(in Caller caller)
    {
        if (caller.IsKernel) return Agent.Kernel;
        long now = Stopwatch.GetTimestamp();
        RefreshRegistry(now);
        uint pid = caller.Pid, uid = caller.Uid;
        long generation = Generation;
        if (_byPid.TryGetValue(pid, out var cached) && cached.Uid == uid && cached.Generation == generation && now - cached.CheckedAt < RecheckTicks)
            return cached.Agent;
        var process = ReadProcess(pid);
        if (cached is not null && cached.StartTime == process.Start && cached.Uid == uid && cached.Generation == generation && process.Start != 0)
        {
            _byPid[pid] = cached with { CheckedAt = now };
            return cached.Agent;
        }
        var agent = Identify(process, uid, generation);
        _byPid[pid] = new Entry(process.Start, uid, agent, now, generation);
        if (_byPid.Count > 4096) Prune(now);
        return agent;
    }

    private Agent Identify(in ProcessFacts process, uint uid, long generation)
    {
        if (process.Start != 0)
        {
            if (RegisteredAncestor(process, generation) is { } run) return new Agent(run.Agent, AgentSource.Ancestor, run.Role);
            if (_registry is not null && TokenAgent(process) is { } byToken) return byToken;
        }
        if (_registry is not null && _registry.UidMap.TryGetValue(uid, out var mapped) && _registry.Find(mapped) is { } named)
            return new Agent(named.Name, AgentSource.Uid, named.Role);
        return new Agent($"{UserName(uid)}/{process.Comm ?? "unknown"}", AgentSource.Fallback);
    }

    /// <summary>The registration of the process or its nearest registered ancestor. A parent resolved in this generation
    /// answers for everything above it, so most processes read one /proc entry.</summary>
    private Registration? RegisteredAncestor(ProcessFacts process, long generation)
    {
        if (_runs.IsEmpty) return null;
        var (pid, start, parent) = (process.Tgid, process.Start, process.Parent);
        for (int depth = 0; depth < MaxAncestry; depth++)
        {
            if (_runs.TryGetValue((pid, start), out var run)) return run;
            if (parent <= 1) return null;
            var up = ReadProcess(parent);
            if (up.Start == 0) return null;
            if (_byPid.TryGetValue(parent, out var known) && known.StartTime == up.Start && known.Generation == generation)
                return known.Agent.Source == AgentSource.Ancestor
                    ? new Registration(up.Tgid, up.Start, known.Agent.Name, known.Agent.Role, default)
                    : null;
            (pid, start, parent) = (up.Tgid, up.Start, up.Parent);
        }
        return null;
    }

    private Agent? TokenAgent(in ProcessFacts process)
    {
        var token = EnvironmentVariable(process.Tgid, TokenVariable);
        if (token is null) return null;
        var (result, agent, _) = _registry!.Check(token);
        if (result == TokenCheck.Valid) return new Agent(agent!.Name, AgentSource.Token, agent.Role);
        if (_refused.TryAdd((process.Tgid, process.Start), 0))
        {
            Refusals?.Invoke($"refused the {TokenVariable} of pid {process.Tgid} ({process.Comm}): {Describe(result)}; it is identified by the next rule");
            if (_refused.Count > 4096) _refused.Clear();
        }
        return null;
    }

    public static string Describe(TokenCheck result) => result switch
    {
        TokenCheck.Malformed => "not a Lighthouse token",
        TokenCheck.BadSignature => "bad signature (forged, or issued for another project)",
        TokenCheck.Expired => "expired",
        TokenCheck.Revoked => "revoked",
        TokenCheck.UnknownAgent => "its agent was removed",
        _ => "valid",
    };

    private void RefreshRegistry(long now)
    {
        if (_registry is null || now - Interlocked.Read(ref _registryCheckedAt) < RecheckTicks) return;
        Interlocked.Exchange(ref _registryCheckedAt, now);
        try
        {
            if (_registry.Refresh()) ChangedUtc = DateTime.UtcNow;
        }
        catch (AgentRegistryException) { } // said once by the registry's owner (AgentRegistry.Unreadable); the one in force stays
    }

    private void Prune(long now)
    {
        foreach (var (pid, e) in _byPid)
            if (now - e.CheckedAt > 60 * RecheckTicks) _byPid.TryRemove(pid, out _);
    }

    private readonly record struct ProcessFacts(uint Tgid, ulong Start, uint Parent, string? Comm);

    /// <summary>Process (thread group), start time (clock ticks since boot), parent and command name of a thread: FUSE
    /// requests carry the calling thread's id. Start 0: the process is gone.</summary>
    private ProcessFacts ReadProcess(uint tid)
    {
        try
        {
            uint pid = tid;
            foreach (var line in File.ReadLines($"{_procRoot}/{tid}/status"))
                if (line.StartsWith("Tgid:", StringComparison.Ordinal)) { uint.TryParse(line.AsSpan(5).Trim(), out pid); break; }
            var (start, parent, comm) = ParseStat(File.ReadAllText($"{_procRoot}/{pid}/stat"));
            return new ProcessFacts(pid, start, parent, comm);
        }
        catch (IOException) { return default; } // the process has already exited
        catch (UnauthorizedAccessException) { return default; }
    }

    private ulong StartTimeOf(uint pid)
    {
        try { return ParseStat(File.ReadAllText($"{_procRoot}/{pid}/stat")).Start; }
        catch (IOException) { return 0; }
        catch (UnauthorizedAccessException) { return 0; }
    }

    /// <summary>/proc/&lt;pid&gt;/stat: the command is in parentheses (and may hold spaces and parentheses); after it come
    /// state (field 3), ppid (4) … starttime (22).</summary>
    private static (ulong Start, uint Parent, string? Comm) ParseStat(string stat)
    {
        int open = stat.IndexOf('('), close = stat.LastIndexOf(')');
        if (open < 0 || close < open || close + 2 > stat.Length) return (0, 0, null);
        var rest = stat[(close + 2)..].Split(' ');
        ulong start = rest.Length > 19 && ulong.TryParse(rest[19], out var s) ? s : 0;
        uint parent = rest.Length > 1 && uint.TryParse(rest[1], out var p) ? p : 0;
        return (start, parent, stat[(open + 1)..close]);
    }

    /// <summary>A variable of a process's environment as it was started (readable by its own user and root).</summary>
    private string? EnvironmentVariable(uint pid, string name)
    {
        try
        {
            var environ = File.ReadAllBytes($"{_procRoot}/{pid}/environ");
            var prefix = Encoding.UTF8.GetBytes(name + "=");
            foreach (var range in environ.AsSpan().Split((byte)0))
            {
                var entry = environ.AsSpan(range);
                if (entry.StartsWith(prefix)) return Encoding.UTF8.GetString(entry[prefix.Length..]);
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return null;
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
