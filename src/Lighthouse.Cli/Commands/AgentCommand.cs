using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Lighthouse.Cli.Control;
using Lighthouse.Project.Agents;

namespace Lighthouse.Cli.Commands;

/// <summary>`lighthouse agent add|list|remove|token|revoke|map-uid|unmap-uid`: the project's named agents.</summary>
public static class AgentCommand
{
    public static Command Create()
    {
        var command = new Command("agent",
            "Manage the project's named agents: their roles (what the access policy matches on), their tokens and the uids " +
            "mapped to them. A change made through the mount is credited to an agent when its process (or an ancestor) was " +
            "started by `lighthouse run --agent`, or carries a valid LIGHTHOUSE_TOKEN, or runs as a mapped uid; otherwise to " +
            "<user>/<command>.\n\n" +
            "The registry is .lighthouse/agents.json (0600), edited by the project's owner whether or not it is mounted; a " +
            "running mount picks changes up within a second. Agents that run as the same user as each other can tell " +
            "themselves apart but not stop each other from claiming a name: for a boundary, give an agent a uid of its own " +
            "(map-uid).\n\n" +
            "Examples:\n  lighthouse agent add builder --role builder\n  lighthouse agent token builder --expires 1d\n" +
            "  lighthouse agent map-uid 1001 reviewer\n  lighthouse agent list");
        command.Subcommands.Add(AddVerb());
        command.Subcommands.Add(ListVerb());
        command.Subcommands.Add(RemoveVerb());
        command.Subcommands.Add(TokenVerb());
        command.Subcommands.Add(RevokeVerb());
        command.Subcommands.Add(MapUidVerb());
        command.Subcommands.Add(UnmapUidVerb());
        command.Subcommands.Add(ReadsVerb());
        return command;
    }

    private static Argument<string> NameArgument() => new("name") { Description = "The agent's name: 1-64 letters, digits, '-' or '_'." };

    private static Command AddVerb()
    {
        var project = ProjectLocator.ProjectOption();
        var name = NameArgument();
        var role = new Option<string?>("--role") { Description = "Its role (e.g. builder, reviewer, owner): policy rules match on it." };
        var c = new Command("add", "Add a named agent.\n\nExample:\n  lighthouse agent add builder --role builder") { name, role, project };
        c.SetAction(parse => CliRunner.Run(parse, ctx =>
        {
            var agent = Registry(parse.GetValue(project)).Add(parse.GetValue(name)!, parse.GetValue(role));
            ctx.Out.WriteLine($"added agent '{agent.Name}'{(agent.Role is null ? "" : $" with role '{agent.Role}'")}");
            return ExitCodes.Ok;
        }));
        return c;
    }

    private static Command ListVerb()
    {
        var project = ProjectLocator.ProjectOption();
        var json = ProjectLocator.JsonOption("the agents");
        var c = new Command("list", "List the named agents, their roles, live tokens and mapped uids.\n\nExample:\n  lighthouse agent list") { project, json };
        c.SetAction(parse => CliRunner.Run(parse, ctx =>
        {
            var registry = Registry(parse.GetValue(project));
            var now = DateTime.UtcNow;
            if (parse.GetValue(json))
            {
                var array = new JsonArray();
                foreach (var a in registry.Agents)
                    array.Add(new JsonObject
                    {
                        ["name"] = a.Name, ["role"] = a.Role, ["created"] = a.CreatedUtc,
                        ["tokens"] = new JsonArray([.. registry.Tokens.Where(t => t.Agent == a.Name).Select(t => (JsonNode)new JsonObject
                        {
                            ["id"] = t.Id, ["created"] = t.CreatedUtc, ["expires"] = t.ExpiresUtc, ["revoked"] = t.RevokedUtc, ["note"] = t.Note,
                        })]),
                        ["uids"] = new JsonArray([.. registry.UidMap.Where(u => u.Value == a.Name).Select(u => (JsonNode)JsonValue.Create(u.Key))]),
                    });
                ctx.Out.WriteLine(array.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
                return ExitCodes.Ok;
            }
            if (registry.Agents.Count == 0) { ctx.Out.WriteLine("no named agents (add one: lighthouse agent add <name> --role <role>)"); return ExitCodes.Ok; }
            ctx.Out.WriteLine($"{"NAME",-20} {"ROLE",-12} {"TOKENS",6}  UIDS");
            foreach (var a in registry.Agents)
            {
                var live = registry.Tokens.Count(t => t.Agent == a.Name && t.RevokedUtc is null && t.ExpiresUtc > now);
                var uids = string.Join(",", registry.UidMap.Where(u => u.Value == a.Name).Select(u => u.Key.ToString(CultureInfo.InvariantCulture)));
                ctx.Out.WriteLine($"{a.Name,-20} {a.Role ?? "-",-12} {live,6}  {(uids.Length == 0 ? "-" : uids)}");
            }
            return ExitCodes.Ok;
        }));
        return c;
    }

    private static Command RemoveVerb()
    {
        var project = ProjectLocator.ProjectOption();
        var name = NameArgument();
        var c = new Command("remove", "Remove a named agent: its tokens are revoked and its uids unmapped; its events keep its name.\n\nExample:\n  lighthouse agent remove builder") { name, project };
        c.SetAction(parse => CliRunner.Run(parse, ctx =>
        {
            Registry(parse.GetValue(project)).Remove(parse.GetValue(name)!);
            ctx.Out.WriteLine($"removed agent '{parse.GetValue(name)}' (its tokens are revoked)");
            return ExitCodes.Ok;
        }));
        return c;
    }

    private static Command TokenVerb()
    {
        var project = ProjectLocator.ProjectOption();
        var name = NameArgument();
        var expires = new Option<string>("--expires")
        { Description = "How long it is valid: 30m, 12h, 7d, 4w.", DefaultValueFactory = _ => "7d" };
        var c = new Command("token",
            "Issue a token for an agent and print it. A process whose environment has LIGHTHOUSE_TOKEN=<token> is that agent " +
            "(when no ancestor was started by `lighthouse run`); other users pass it to `lighthouse run --token`. Keep it " +
            "secret: anyone who has it can act as the agent until it expires or is revoked.\n\n" +
            "Example:\n  export LIGHTHOUSE_TOKEN=$(lighthouse agent token builder --expires 1d)") { name, project, expires };
        c.SetAction(parse => CliRunner.Run(parse, ctx =>
        {
            var lifetime = LogCommand.TryDuration(parse.GetValue(expires)!, out var span) && span > TimeSpan.Zero
                ? span : throw new CliException($"--expires '{parse.GetValue(expires)}' is not a duration like 30m, 12h, 7d or 4w", ExitCodes.Usage);
            var (token, text) = Registry(parse.GetValue(project)).IssueToken(parse.GetValue(name)!, lifetime, "lighthouse agent token");
            ctx.Out.WriteLine(text);
            ctx.Err.WriteLine($"lighthouse: token {token.Id} for '{token.Agent}', valid until {token.ExpiresUtc:yyyy-MM-dd HH:mm:ss}Z (revoke: lighthouse agent revoke {token.Id})");
            return ExitCodes.Ok;
        }));
        return c;
    }

    private static Command RevokeVerb()
    {
        var project = ProjectLocator.ProjectOption();
        var token = new Argument<string>("token") { Description = "The token's id (as `agent list --json` shows it) or the whole token." };
        var c = new Command("revoke", "Revoke a token: processes that carry it are no longer that agent (within a second, on a running mount).\n\nExample:\n  lighthouse agent revoke 3f9a0c12d4e5") { token, project };
        c.SetAction(parse => CliRunner.Run(parse, ctx =>
        {
            var n = Registry(parse.GetValue(project)).Revoke(parse.GetValue(token)!);
            ctx.Out.WriteLine(n == 0 ? "the token was already revoked" : "revoked");
            return ExitCodes.Ok;
        }));
        return c;
    }

    private static Command MapUidVerb()
    {
        var project = ProjectLocator.ProjectOption();
        var uid = new Argument<string>("uid") { Description = "A uid or a user name." };
        var name = NameArgument();
        var c = new Command("map-uid",
            "Make every process of a uid an agent (unless an ancestor or a token says otherwise): the dedicated-user set-up, " +
            "where the kernel itself tells agents apart.\n\nExample:\n  lighthouse agent map-uid agent-reviewer reviewer") { uid, name, project };
        c.SetAction(parse => CliRunner.Run(parse, ctx =>
        {
            var id = UidOf(parse.GetValue(uid)!);
            Registry(parse.GetValue(project)).MapUid(id, parse.GetValue(name)!);
            ctx.Out.WriteLine($"uid {id} is now agent '{parse.GetValue(name)}'");
            return ExitCodes.Ok;
        }));
        return c;
    }

    private static Command UnmapUidVerb()
    {
        var project = ProjectLocator.ProjectOption();
        var uid = new Argument<string>("uid") { Description = "A uid or a user name." };
        var c = new Command("unmap-uid", "Undo map-uid.\n\nExample:\n  lighthouse agent unmap-uid 1001") { uid, project };
        c.SetAction(parse => CliRunner.Run(parse, ctx =>
        {
            var id = UidOf(parse.GetValue(uid)!);
            ctx.Out.WriteLine(Registry(parse.GetValue(project)).UnmapUid(id) ? $"uid {id} is no longer mapped" : $"uid {id} was not mapped");
            return ExitCodes.Ok;
        }));
        return c;
    }

    private static Command ReadsVerb()
    {
        var project = ProjectLocator.ProjectOption();
        var name = new Argument<string?>("name") { Description = "The agent (default: every agent).", Arity = ArgumentArity.ZeroOrOne };
        var json = ProjectLocator.JsonOption("the reads");
        var limit = new Option<int>("--limit", "-n") { Description = "At most this many, newest first.", DefaultValueFactory = _ => 50 };
        var c = new Command("reads",
            "Show which version of each file an agent last read through the mount (newest first): the ground for \"changed " +
            "since you last read it\". A read is noted when a file is opened for reading; the version is the one valid then.\n\n" +
            "Example:\n  lighthouse agent reads builder") { name, project, json, limit };
        c.SetAction(parse => CliRunner.Run(parse, ctx =>
        {
            var projectDir = ProjectLocator.FindInitialised(parse.GetValue(project));
            if (HistoryRoute.IsOthers(projectDir))
                throw new CliException($"the reads of {projectDir}'s agents are in its owner's private store; ask the owner", ExitCodes.Failure);
            using var store = StoreAccess.OpenReadOnly(projectDir);
            var reads = store.LastReads(parse.GetValue(name), Math.Max(1, parse.GetValue(limit)));
            if (parse.GetValue(json))
            {
                ctx.Out.WriteLine(JsonSerializer.Serialize(reads, ControlJson.Options));
                return ExitCodes.Ok;
            }
            if (reads.Count == 0) { ctx.Out.WriteLine("no reads noted"); return ExitCodes.Ok; }
            foreach (var r in reads)
                ctx.Out.WriteLine($"{Fmt.Time(r.TimeUtc)}  {r.Agent,-18} @{r.VersionSeq,-7} {r.Path ?? $"(file {r.FileId}, removed)"}");
            return ExitCodes.Ok;
        }));
        return c;
    }

    /// <summary>The project's registry, for its owner (and root) only: it lives in the private state directory.</summary>
    private static AgentRegistry Registry(string? projectOpt)
    {
        var projectDir = ProjectLocator.FindInitialised(projectOpt);
        if (HistoryRoute.IsOthers(projectDir))
            throw new CliException($"only the owner of {projectDir} manages its agents (they live in its private .lighthouse/); " +
                "the mount shows them to everyone in agents/index.json", ExitCodes.Failure);
        return new AgentRegistry(projectDir);
    }

    private static uint UidOf(string text)
    {
        if (uint.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var uid)) return uid;
        foreach (var line in File.ReadLines("/etc/passwd"))
        {
            var f = line.Split(':');
            if (f.Length > 2 && f[0] == text && uint.TryParse(f[2], out var u)) return u;
        }
        throw new CliException($"'{text}' is neither a uid nor a user of /etc/passwd", ExitCodes.Usage);
    }
}
