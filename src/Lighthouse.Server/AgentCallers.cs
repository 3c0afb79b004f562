using Lighthouse.Project;
using Lighthouse.Project.Agents;
using Lighthouse.Project.Files;

namespace Lighthouse.Server;

/// <summary>Turns an agent token into the caller the file service acts for (HTTP's bearer token, MCP's session token),
/// or says why it cannot: the same identities and the same policy as the mount's.</summary>
public static class AgentCallers
{
    /// <summary>The agent <paramref name="token"/> names, checked against the project's registry (signature, expiry,
    /// revocation, the agent still known); null with the reason otherwise.</summary>
    public static FileCaller? TryFromToken(ProjectHost host, string? token, string channel, out string why)
    {
        if (string.IsNullOrWhiteSpace(token))
        {
            why = "no agent token: give the agent's token (lighthouse agent token <name>)";
            return null;
        }
        var (result, agent, _) = host.Registry.Check(token.Trim());
        why = result switch
        {
            TokenCheck.Valid => "",
            TokenCheck.Expired => "the token has expired; issue a new one (lighthouse agent token <name>)",
            TokenCheck.Revoked => "the token was revoked",
            TokenCheck.UnknownAgent => "the token's agent no longer exists",
            TokenCheck.BadSignature => "the token is not one of this project's (bad signature)",
            _ => "the token is malformed",
        };
        return result == TokenCheck.Valid ? new FileCaller(new Agent(agent!.Name, AgentSource.Token, agent.Role), channel) : null;
    }

    /// <summary>As <see cref="TryFromToken"/>, throwing <see cref="UnauthorizedAccessException"/> with the reason.</summary>
    public static FileCaller FromToken(ProjectHost host, string? token, string channel) =>
        TryFromToken(host, token, channel, out var why) ?? throw new UnauthorizedAccessException(why);
}
