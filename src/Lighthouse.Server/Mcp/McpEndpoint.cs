using System.Security.Claims;
using Lighthouse.Project;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Lighthouse.Server.Mcp;

/// <summary>
/// <c>/mcp</c> on the HTTP server: the MCP Streamable HTTP transport of the official SDK, one stateful session per client
/// (resource subscriptions need one), each an <see cref="AgentMcpSession"/> of the agent whose bearer token opened it.
/// Every request must carry a valid token of that same agent: the SDK binds a session to the user that created it, and
/// the user here is the token's agent, so a session id alone is worth nothing.
/// </summary>
internal static class McpEndpoint
{
    public const string Path = "/mcp";
    private const string SessionKey = "lighthouse.mcp.session";

    public static void AddServices(IServiceCollection services, ProjectHost host)
    {
        services.AddMcpServer().WithHttpTransport(o =>
        {
            o.Stateless = false;
            o.ConfigureSessionOptions = (http, options, _) =>
            {
                var caller = AgentCallers.FromToken(host, BearerToken(http), "mcp");
                var session = new AgentMcpSession(host, caller);
                session.Configure(options);
                http.Items[SessionKey] = session;
                return Task.CompletedTask;
            };
            // The one hook that sees a session end (its feed subscription must go with it); marked experimental by the SDK.
#pragma warning disable MCPEXP002
            o.RunSessionHandler = async (http, server, ct) =>
            {
                await using var session = http.Items[SessionKey] as AgentMcpSession;
                await server.RunAsync(ct).ConfigureAwait(false);
            };
#pragma warning restore MCPEXP002
        });
    }

    public static void Map(WebApplication app, ProjectHost host)
    {
        // Authenticate before the SDK sees the request: 401 problem+json as on every other route, and the agent as the user.
        app.UseWhen(ctx => ctx.Request.Path.StartsWithSegments(Path), branch => branch.Use(async (ctx, next) =>
        {
            var caller = AgentCallers.TryFromToken(host, BearerToken(ctx), "mcp", out var why);
            if (caller is null)
            {
                ctx.Response.Headers.WWWAuthenticate = "Bearer realm=\"lighthouse\"";
                await Results.Problem(title: "Unauthorized", detail: why, statusCode: StatusCodes.Status401Unauthorized).ExecuteAsync(ctx).ConfigureAwait(false);
                return;
            }
            ctx.User = new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.NameIdentifier, caller.Agent.Name), new Claim(ClaimTypes.Name, caller.Agent.Name)], "lighthouse-agent-token"));
            await next(ctx).ConfigureAwait(false);
        }));
        app.MapMcp(Path);
    }

    private static string? BearerToken(HttpContext ctx)
    {
        var header = ctx.Request.Headers.Authorization.ToString();
        return header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header[7..] : null;
    }
}
