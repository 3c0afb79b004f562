using System.CommandLine;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Lighthouse.Cli.Control;
using Lighthouse.Project;
using Lighthouse.Project.Agents;
using Lighthouse.Server;
using Lighthouse.Server.Mcp;
using Lighthouse.Store;

namespace Lighthouse.Cli.Commands;

/// <summary>
/// <c>lighthouse mcp</c>: an MCP server on stdin/stdout for one agent of a project. While the project is mounted the
/// mount serves the session (it holds the store, and its current/ and streams/ see every change at once) and this
/// process only relays bytes over the mount's control socket; otherwise it opens the project itself.
/// </summary>
public static class McpCommand
{
    public static Command Create()
    {
        var project = ProjectLocator.ProjectOption();
        var token = new Option<string?>("--token") { Description = "The agent's token (default: $LIGHTHOUSE_TOKEN, which `lighthouse run --agent` sets): the session acts as that agent." };
        var c = new Command("mcp",
            "Serve the project to an AI agent over the Model Context Protocol (stdio).\n\n" +
            "Tools: read_file, write_file, edit_file (replace one unique string), delete_file, list_directory, search, " +
            "read_log, file_history, diff, restore. Resources: lighthouse://files/<path> and lighthouse://events, with " +
            "subscriptions that notify on every change, whoever made it. Every change is recorded as the token's agent and " +
            "checked against .lighthouse/policy.yaml, as through the mount.\n\n" +
            "While the project is mounted the mount serves the session; otherwise this process opens the project (as its owner).\n\n" +
            "Examples (an MCP client's server command):\n  lighthouse mcp -C ~/src/app --token lh1.builder.…\n" +
            "  lighthouse run --agent builder -- lighthouse mcp")
        {
            project, token,
        };
        c.SetAction(parse => CliRunner.Run(parse, ctx => Run(ctx, parse.GetValue(project),
            parse.GetValue(token) ?? Environment.GetEnvironmentVariable(ProcessAgentResolver.TokenVariable))));
        return c;
    }

    private static int Run(CliContext ctx, string? projectOpt, string? token)
    {
        if (string.IsNullOrWhiteSpace(token))
            throw new CliException("lighthouse mcp acts as an agent: give its token with --token or $LIGHTHOUSE_TOKEN (the owner makes one with `lighthouse agent token <name>`), or start it with `lighthouse run --agent <name> -- lighthouse mcp`", ExitCodes.Usage);
        var projectDir = ProjectLocator.Find(projectOpt);
        var route = HistoryRoute.Of(projectDir);
        var mount = route.Direct ? MountState.ReadLive(projectDir) : MountRegistry.Find(projectDir);
        if (mount is not null) return Relay(mount, token);
        if (!route.Direct) throw new CliException(route.OwnersOnly("mcp"), ExitCodes.Failure);
        using var host = ProjectHost.Open(projectDir, new ProjectOptions { Stores = SqliteProjectStoreFactory.Instance, Log = m => Console.Error.WriteLine($"lighthouse: {m}") });
        var caller = AgentCallers.FromToken(host, token, "mcp");
        Console.Error.WriteLine($"lighthouse: MCP session of agent '{caller.Agent.Name}' on {projectDir} (not mounted: served by this process)");
        using var stdin = Console.OpenStandardInput();
        using var stdout = Console.OpenStandardOutput();
        AgentMcpSession.RunAsync(host, caller, stdin, stdout).GetAwaiter().GetResult();
        return ExitCodes.Ok;
    }

    /// <summary>Hands the session to the mount: asks for it on the control socket, then copies bytes both ways until
    /// either side closes.</summary>
    private static int Relay(MountState mount, string token)
    {
        var path = mount.ControlSocket ?? MountState.DefaultControlSocket(mount.ProjectDir);
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try { socket.Connect(new UnixDomainSocketEndPoint(path)); }
        catch (SocketException e) { throw new CliException($"cannot reach the mount's control socket {path}: {e.Message}", ExitCodes.Failure); }
        using var stream = new NetworkStream(socket, ownsSocket: false);
        stream.Write(Encoding.UTF8.GetBytes(new JsonObject { ["op"] = "mcp", ["token"] = token }.ToJsonString() + "\n"));
        var answer = ReadLine(stream) ?? throw new CliException($"the mount closed its control socket {path} without answering", ExitCodes.Failure);
        if (JsonNode.Parse(answer) is not JsonObject o || o["ok"]?.GetValue<bool>() != true)
            throw new CliException((JsonNode.Parse(answer) as JsonObject)?["error"]?.GetValue<string>() ?? "the mount refused the MCP session", ExitCodes.Failure);
        Console.Error.WriteLine($"lighthouse: MCP session of agent '{o["agent"]}' served by the mount of {mount.ProjectDir} (pid {mount.Pid})");
        using var stdin = Console.OpenStandardInput();
        using var stdout = Console.OpenStandardOutput();
        var up = Task.Run(async () =>
        {
            await stdin.CopyToAsync(stream).ConfigureAwait(false);
            socket.Shutdown(SocketShutdown.Send); // the client is done: let the mount end the session
        });
        var down = Task.Run(() => stream.CopyToAsync(stdout));
        Task.WaitAny(up, down);
        return ExitCodes.Ok;
    }

    /// <summary>One line read byte by byte, so nothing after it is taken from the stream.</summary>
    private static string? ReadLine(Stream stream)
    {
        var bytes = new List<byte>();
        var one = new byte[1];
        while (true)
        {
            if (stream.Read(one, 0, 1) == 0) return bytes.Count > 0 ? Encoding.UTF8.GetString([.. bytes]) : null;
            if (one[0] == '\n') return Encoding.UTF8.GetString([.. bytes]);
            bytes.Add(one[0]);
            if (bytes.Count > ControlServer.MaxLineBytes) throw new CliException("the mount's answer is too long", ExitCodes.Failure);
        }
    }
}
