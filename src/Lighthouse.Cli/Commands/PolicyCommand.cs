using System.CommandLine;
using Lighthouse.Project.Agents;
using Lighthouse.Project.Policy;

namespace Lighthouse.Cli.Commands;

/// <summary>`lighthouse policy show|check`: the project's access policy, and why it decides what it decides.</summary>
public static class PolicyCommand
{
    public static Command Create()
    {
        var command = new Command("policy",
            "Show the project's access policy (.lighthouse/policy.yaml) or explain one of its decisions. The mount enforces it " +
            "on every request of current/ and history/ and re-reads the file within a second of a change; an invalid file " +
            "keeps the previous policy (the mount logs why and records a 'policy' event). Refusals are 'deny' events in the " +
            "log (`lighthouse log --op deny`). The format is described in src/Lighthouse.Project/Policy/README.md.\n\n" +
            "Examples:\n  lighthouse policy show\n  lighthouse policy check --agent builder --op delete src/main.c\n" +
            "  lighthouse policy check --agent builder --op write --command 'git reset --hard' src/main.c");
        command.Subcommands.Add(ShowVerb());
        command.Subcommands.Add(CheckVerb());
        return command;
    }

    private static Command ShowVerb()
    {
        var project = ProjectLocator.ProjectOption();
        var c = new Command("show", "Print the policy in force, rule by rule, as the mount reads it (or say there is none).\n\nExample:\n  lighthouse policy show") { project };
        c.SetAction(parse => CliRunner.Run(parse, ctx =>
        {
            var (file, policy) = Load(parse.GetValue(project));
            if (policy is null) { ctx.Out.WriteLine($"no policy ({file} does not exist): every agent may do what the file permissions let it"); return ExitCodes.Ok; }
            ctx.Out.WriteLine($"# {file}");
            ctx.Out.Write(policy.Describe());
            return ExitCodes.Ok;
        }));
        return c;
    }

    private static Command CheckVerb()
    {
        var project = ProjectLocator.ProjectOption();
        var agent = new Option<string>("--agent") { Description = "The agent asking (its role comes from the registry unless --role).", Required = true };
        var role = new Option<string?>("--role") { Description = "Its role (default: the registered agent's)." };
        var op = new Option<string>("--op") { Description = "read, list, write, create, delete, rename or meta.", Required = true };
        var commandLine = new Option<string?>("--command") { Description = "The calling command line, for rules with commands (e.g. 'git reset --hard')." };
        var directory = new Option<bool>("--directory") { Description = "The path is a directory (patterns ending in '/' match only directories)." };
        var path = new Argument<string>("path") { Description = "A project-relative path (src/main.c)." };
        var c = new Command("check",
            "Explain the decision for an agent doing an operation on a path: the effect, the errno a request would get, and " +
            "the rule that matched (or the default). Exit code 0 if allowed, 1 if refused.\n\n" +
            "Example:\n  lighthouse policy check --agent reviewer --op write src/main.c")
        {
            path, agent, op, role, commandLine, directory, project,
        };
        c.SetAction(parse => CliRunner.Run(parse, ctx =>
        {
            var projectOpt = parse.GetValue(project);
            var (file, policy) = Load(projectOpt);
            var operation = ParseOperation(parse.GetValue(op)!);
            var name = parse.GetValue(agent)!;
            var projectDir = ProjectLocator.FindInitialised(projectOpt);
            var known = new AgentRegistry(projectDir).Find(name);
            var subject = new PolicySubject(name, parse.GetValue(role) ?? known?.Role, parse.GetValue(commandLine));
            var storePath = ProjectLocator.ToStorePath(projectDir, parse.GetValue(path)!);
            var decision = (policy ?? AccessPolicy.AllowAll).Decide(subject, operation, storePath, parse.GetValue(directory));
            string verdict = !decision.WouldDeny ? "allowed" : decision.Allowed ? "allowed (audit mode: would be refused)" : "refused";
            ctx.Out.WriteLine($"{verdict}: {parse.GetValue(op)} {ProjectLocator.Display(storePath)} by {name}" +
                $"{(subject.Role is null ? "" : $" (role {subject.Role})")}{(decision.Errno != 0 ? $" -> {ErrnoName(decision.Errno)}" : "")}");
            ctx.Out.WriteLine($"  because: {(policy is null ? $"no policy ({file} does not exist)" : decision.Explain())}");
            if (known is null) ctx.Err.WriteLine($"lighthouse: note: '{name}' is not a registered agent; rules were matched with role {subject.Role ?? "(none)"}");
            return decision.Allowed ? ExitCodes.Ok : ExitCodes.Failure;
        }));
        return c;
    }

    private static (string File, AccessPolicy? Policy) Load(string? projectOpt)
    {
        var projectDir = ProjectLocator.FindInitialised(projectOpt);
        if (HistoryRoute.IsOthers(projectDir))
            throw new CliException($"the policy of {projectDir} lives in its owner's private .lighthouse/; ask the owner", ExitCodes.Failure);
        var file = AccessControl.PathOf(projectDir);
        if (!File.Exists(file)) return (file, null);
        return (file, AccessPolicy.Parse(File.ReadAllText(file), file));
    }

    private static PolicyOperation ParseOperation(string word) => word switch
    {
        "read" => PolicyOperation.Read,
        "list" => PolicyOperation.List,
        "write" => PolicyOperation.Write,
        "create" => PolicyOperation.Create,
        "delete" => PolicyOperation.Delete,
        "rename" => PolicyOperation.Rename,
        "meta" => PolicyOperation.Meta,
        _ => throw new CliException($"--op '{word}' is not one of read, list, write, create, delete, rename, meta", ExitCodes.Usage),
    };

    private static string ErrnoName(int errno) => errno switch
    {
        PolicyErrno.ENOENT => "ENOENT (hidden)",
        PolicyErrno.EACCES => "EACCES",
        PolicyErrno.EROFS => "EROFS",
        _ => errno.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };
}
