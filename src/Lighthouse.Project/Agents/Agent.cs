using Lighthouse.Store;

namespace Lighthouse.Project.Agents;

/// <summary>How the caller of a change was identified (DESIGN.md "Identity and access": first match wins).</summary>
public enum AgentSource
{
    /// <summary>No agent matched: named after the caller's user and command (`alice/git`), never a guess at a named agent.</summary>
    Fallback,
    /// <summary>The kernel itself (writeback, release): attributed to whoever opened the file where that is known.</summary>
    Kernel,
    /// <summary>A change made beside the mount, found by the watcher or the reconciliation at start-up.</summary>
    External,
    /// <summary>Lighthouse itself (snapshots, baselines, restores run by the CLI without a mount).</summary>
    System,
    /// <summary>A process started by <c>lighthouse run --agent</c>, or one of its descendants.</summary>
    Ancestor,
    /// <summary>A valid <c>LIGHTHOUSE_TOKEN</c> in the process's environment.</summary>
    Token,
    /// <summary>A uid mapped to a named agent (<c>lighthouse agent map-uid</c>).</summary>
    Uid,
}

/// <summary>Who made a change: the name recorded with its event, how that name was found, and the agent's role (named
/// agents only; the policy matches on it).</summary>
public sealed record Agent(string Name, AgentSource Source, string? Role = null)
{
    public static readonly Agent Kernel = new("kernel", AgentSource.Kernel);
    public static readonly Agent External = new(StoreConstants.ExternalAgent, AgentSource.External);

    /// <summary>The word the log shows for <see cref="Source"/>.</summary>
    public string Via => Source switch
    {
        AgentSource.Ancestor => AgentVia.Ancestor,
        AgentSource.Token => AgentVia.Token,
        AgentSource.Uid => AgentVia.Uid,
        AgentSource.Kernel => AgentVia.Kernel,
        AgentSource.External => AgentVia.External,
        AgentSource.System => AgentVia.System,
        _ => AgentVia.Fallback,
    };

    /// <summary>What the store records of the agent: its name and how it was identified.</summary>
    public static implicit operator Actor(Agent agent) => new(agent.Name, agent.Via);

    public override string ToString() => Name;
}
