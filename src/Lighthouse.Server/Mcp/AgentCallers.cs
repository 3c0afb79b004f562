using Lighthouse.Project;
using Lighthouse.Project.Agents;
using Lighthouse.Project.Files;

namespace Lighthouse.Server.Mcp;

/// <summary>Turns an agent token into the caller the file service acts for, or says why it cannot.</summary>
public static class AgentCallers
{
    /// <summary>The agent <paramref name="token"/> names, checked against the project's registry (signature, expiry,
    /// revocation, the agent still known); <see cref="UnauthorizedAccessException"/> with the reason otherwise.</summary>
    public static FileCaller FromToken(ProjectHost host, string? token, string channel)
    {
        if (string.IsNullOrWhiteSpace(token))
            throw new UnauthorizedAccessException("no agent token: give one (lighthouse agent token <name>) to act as that agent");
        var (result, agent, _) = host.Registry.Check(token);
        return result switch
        {
            TokenCheck.Valid => new FileCaller(new Agent(agent!.Name, AgentSource.Token, agent.Role), channel),
            TokenCheck.Expired => throw new UnauthorizedAccessException("the agent token has expired"),
            TokenCheck.Revoked => throw new UnauthorizedAccessException("the agent token was revoked"),
            TokenCheck.UnknownAgent => throw new UnauthorizedAccessException("the agent token names an agent that no longer exists"),
            _ => throw new UnauthorizedAccessException("the agent token is not valid for this project"),
        };
    }
}
