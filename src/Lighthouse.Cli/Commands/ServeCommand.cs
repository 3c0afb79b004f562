using System.CommandLine;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using Lighthouse.Cli.Control;
using Lighthouse.Project;
using Lighthouse.Store;

namespace Lighthouse.Cli.Commands;

/// <summary>`lighthouse serve`: the project's HTTP API, for agents on hosts (or in containers) without FUSE.</summary>
public static class ServeCommand
{
    public static Command Create()
    {
        var project = new Argument<string?>("project-dir") { Description = "The project directory (default: the project around the current directory).", Arity = ArgumentArity.ZeroOrOne };
        var listen = new Option<string>("--listen", "-l")
        {
            Description = $"Where to listen: host:port ({Server.ServerOptions.DefaultListen} by default; port 0 picks a free one) or unix:/path/to.sock.",
            DefaultValueFactory = _ => Server.ServerOptions.DefaultListen,
        };
        var http = new HttpFlags();
        var command = new Command("serve",
            "Serve the project over HTTP: agents read, write, delete and list files, search, read the log and history, diff, " +
            "snapshot and restore with the same recording and access policy as the mount's current/. Each request carries an " +
            "agent's token (Authorization: Bearer <token>; `lighthouse agent token <name>` issues one): its changes are events " +
            "of that agent (agentVia: token), and what the policy refuses it is refused (403; hidden paths are 404), as a deny event.\n\n" +
            "Routes (all under /v1): GET status; GET tree/<path>?at=; GET|PUT|DELETE files/<path> (?at= a point for GET; ETag is " +
            "the content hash; If-Match and If-None-Match: * for compare-and-swap); GET events?since=&agent=&path=&op=&limit=; " +
            "GET events/stream (server-sent events, resumable with Last-Event-ID); GET history/<path>; GET diff?from=&to=&path=; " +
            "GET search?q=&path=&literal=&ignoreCase=; POST snapshots {\"name\"}; POST restore {\"path\",\"at\",\"dryRun\"}. " +
            "Errors are application/problem+json.\n\n" +
            "When the project is not mounted, serve opens it in this process (no FUSE needed: it works on a host without " +
            "/dev/fuse) and runs until Ctrl-C or SIGTERM. When it is mounted, serve asks the mount (over its control socket; " +
            "the mount's owner or root only) to listen, so changes over HTTP show in <mnt>/current at once; it prints where and " +
            "returns, and the API stops with the mount (or start the mount with --http).\n\n" +
            "POSIX: HTTP callers act as the project directory's owner: what they create is owned by its uid and gid, and only " +
            "the policy limits them. Paths are relative to the project; '..', absolute paths, NUL, names over 255 bytes, paths " +
            "over 4096 bytes and .lighthouse/ are refused (400), and no request follows a symbolic link out of the project.\n\n" +
            "Listening on anything but loopback or a Unix socket needs --allow-remote.\n\n" +
            "Examples:\n  lighthouse serve ~/src/app\n  lighthouse serve ~/src/app --listen unix:/run/app.sock\n" +
            "  curl -H \"Authorization: Bearer $TOKEN\" http://127.0.0.1:7411/v1/files/README.md")
        {
            project, listen,
        };
        http.AddTo(command);
        command.SetAction(parse => CliRunner.Run(parse, ctx => Run(ctx, parse.GetValue(project), http.Read(parse, parse.GetValue(listen)!))));
        return command;
    }

    private static int Run(CliContext ctx, string? projectArg, Server.ServerOptions options)
    {
        string projectDir = projectArg is null ? ProjectLocator.FindInitialised(null) : Path.TrimEndingDirectorySeparator(Path.GetFullPath(projectArg));
        if (!Directory.Exists(projectDir)) throw new CliException($"project directory {projectDir} does not exist", ExitCodes.Usage);
        // Refused here, before asking anyone.
        try { Server.ListenAddress.Parse(options.Listen, options.AllowNonLoopback); }
        catch (ArgumentException e) { throw new CliException(e.Message, ExitCodes.Usage); }
        if (MountState.ReadLive(projectDir) is { } mount)
        {
            var answer = ControlClient.Call(mount, new JsonObject
            {
                ["op"] = "http-start", ["listen"] = options.Listen, ["allowRemote"] = options.AllowNonLoopback, ["maxBody"] = options.MaxBodyBytes,
            });
            if (answer["ok"]?.GetValue<bool>() != true)
                throw new CliException($"the mount (pid {mount.Pid}) did not start the HTTP API: {answer["error"]?.GetValue<string>() ?? "no reason given"}", ExitCodes.Failure);
            var addresses = (answer["addresses"] as JsonArray)?.Select(a => a!.GetValue<string>()) ?? [];
            ctx.Out.WriteLine($"lighthouse: the mount of {projectDir} (pid {mount.Pid}, at {mount.MountPoint}) serves the HTTP API on {string.Join(", ", addresses)}; " +
                              "it stops when the mount does");
            return ExitCodes.Ok;
        }

        Console.Error.WriteLine($"lighthouse: opening {projectDir} (comparing the directory with the log)...");
        ProjectHost host;
        try { host = ProjectHost.Open(projectDir, new ProjectOptions { Stores = StoreAccess.Stores }); }
        catch (StoreLockedException e) { throw new CliException($"{e.Message} (another serve, or a mount starting?)", ExitCodes.Failure); }
        catch (StoreException e) { throw new CliException(e.Message, ExitCodes.Failure); }
        using (host)
        {
            host.FollowExternalChanges();
            using var stop = new ManualResetEventSlim();
            using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Set(); });
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Set(); });
            var server = HttpFlags.Start(host, options);
            try
            {
                Console.Error.WriteLine(HttpFlags.Listening(server, projectDir));
                Console.Error.WriteLine("  Ctrl-C stops.");
                stop.Wait();
            }
            finally
            {
                server.DisposeAsync().AsTask().GetAwaiter().GetResult();
                Console.Error.WriteLine($"lighthouse: stopped; recording the last {host.Recorder.Backlog} queued changes...");
            }
        }
        return ExitCodes.Ok;
    }
}
