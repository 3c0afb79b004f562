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
}

/// <summary>Who made a change: the name recorded with its event, and how that name was found.</summary>
public sealed record Agent(string Name, AgentSource Source)
{
    public static readonly Agent Kernel = new("kernel", AgentSource.Kernel);
    public static readonly Agent External = new(Lighthouse.Store.StoreConstants.ExternalAgent, AgentSource.External);

    public override string ToString() => Name;
}
