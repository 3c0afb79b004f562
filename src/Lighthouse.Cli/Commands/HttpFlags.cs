using System.CommandLine;
using Lighthouse.Project;
using Lighthouse.Server;

namespace Lighthouse.Cli.Commands;

/// <summary>The options that say how the HTTP API listens (shared by `serve` and `mount --http`), and starting it.</summary>
public sealed class HttpFlags
{
    public readonly Option<bool> AllowRemote = new("--allow-remote")
    {
        Description = "Accept listening on an address other than loopback (0.0.0.0, a LAN address). Tokens then cross the network " +
                      "in clear: put a TLS proxy in front. Without it such an address is refused.",
    };

    public readonly Option<long> MaxBody = new("--max-body")
    {
        Description = "The largest request body in bytes (a file written with PUT); larger ones are refused with 413.",
        DefaultValueFactory = _ => 64L << 20,
    };

    public void AddTo(Command command)
    {
        command.Options.Add(AllowRemote);
        command.Options.Add(MaxBody);
    }

    public ServerOptions Read(ParseResult parse, string listen) => new()
    {
        Listen = listen, AllowNonLoopback = parse.GetValue(AllowRemote), MaxBodyBytes = parse.GetValue(MaxBody),
    };

    /// <summary>Starts the API in this process over <paramref name="project"/>; errors in words (CliException).</summary>
    public static LighthouseServer Start(ProjectHost project, ServerOptions options)
    {
        if (options.MaxBodyBytes < 1) throw new CliException("--max-body must be at least 1 byte", ExitCodes.Usage);
        try { return LighthouseServer.StartAsync(project, options).GetAwaiter().GetResult(); }
        catch (ArgumentException e) { throw new CliException(e.Message, ExitCodes.Usage); }
        catch (IOException e) { throw new CliException(e.Message, ExitCodes.Failure); }
    }

    /// <summary>What to tell the user once it listens.</summary>
    public static string Listening(LighthouseServer server, string where) =>
        $"lighthouse: HTTP API for {where} on {string.Join(", ", server.Addresses)} (send an agent's token: Authorization: Bearer <token>; " +
        "lighthouse agent token <name> issues one)";
}
