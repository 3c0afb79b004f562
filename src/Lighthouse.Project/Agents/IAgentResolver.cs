namespace Lighthouse.Project.Agents;

/// <summary>
/// Names the agent behind a caller. Called on the request path for every change, so an
/// implementation caches per process (pid + start time, so a recycled pid inherits nothing).
/// Today: <see cref="ProcessAgentResolver"/> (user and command); the agents issue adds registered
/// ancestors, tokens and uid mappings in front of it (DESIGN.md "Identity and access").
/// </summary>
public interface IAgentResolver
{
    Agent Resolve(in Caller caller);
}
