using System.CommandLine;
using System.Text.Json.Nodes;
using Lighthouse.Cli.Control;
using Lighthouse.Store;

namespace Lighthouse.Cli.Commands;

/// <summary>`lighthouse snapshot create|list|delete`: named points of history.</summary>
public static class SnapshotCommand
{
    public static Command Create()
    {
        var command = new Command("snapshot",
            "Create, list and delete snapshots: names for points of the project's history, usable wherever a point is " +
            "(history/<name>/ in the mount, diff, restore --at).\n\n" +
            "Other users than the store's owner (whose .lighthouse/ is private) may list snapshots while the project is " +
            "mounted (the mount answers); creating and deleting them is the owner's (and root's): the mount refuses others.\n\n" +
            "Examples:\n  lighthouse snapshot create before-refactor\n  lighthouse snapshot list\n  lighthouse snapshot delete before-refactor");
        command.Subcommands.Add(CreateVerb());
        command.Subcommands.Add(ListVerb());
        command.Subcommands.Add(DeleteVerb());
        return command;
    }

    private static Command CreateVerb()
    {
        var project = ProjectLocator.ProjectOption();
        var name = new Argument<string>("name") { Description = "The snapshot's name (not 'latest', not starting with '@', no '/', not looking like a time)." };
        var at = new Option<string?>("--at") { Description = "Name this earlier point instead of now: @N, a UTC time, or another snapshot." };
        var c = new Command("create",
            "Name the current point of history (or --at an earlier one). While the project is mounted the request goes to the " +
            "mount process; otherwise changes made to the directory since the last record are recorded first (as 'external'), " +
            "so the snapshot names the directory as it is.\n\n" +
            "Examples:\n  lighthouse snapshot create v1\n  lighthouse snapshot create morning --at 2026-11-25T08:00:00Z")
        {
            name, project, at,
        };
        c.SetAction(parse => CliRunner.Run(parse, ctx => RunCreate(ctx, parse.GetValue(project), parse.GetValue(name)!, parse.GetValue(at))));
        return c;
    }

    private static Command ListVerb()
    {
        var project = ProjectLocator.ProjectOption();
        var json = ProjectLocator.JsonOption("the snapshots");
        var c = new Command("list", "List snapshots: name, the event they name, when and by whom they were created.\n\nExamples:\n  lighthouse snapshot list\n  lighthouse snapshot list --json")
        {
            project, json,
        };
        c.SetAction(parse => CliRunner.Run(parse, ctx => RunList(ctx, parse.GetValue(project), parse.GetValue(json))));
        return c;
    }

    private static Command DeleteVerb()
    {
        var project = ProjectLocator.ProjectOption();
        var name = new Argument<string>("name") { Description = "The snapshot to delete." };
        var c = new Command("delete",
            "Delete a snapshot's name (the history it named stays; the deletion is itself recorded as an event).\n\nExample:\n  lighthouse snapshot delete v1")
        {
            name, project,
        };
        c.SetAction(parse => CliRunner.Run(parse, ctx => RunDelete(ctx, parse.GetValue(project), parse.GetValue(name)!)));
        return c;
    }

    public static int RunCreate(CliContext ctx, string? projectOpt, string name, string? atText)
    {
        var projectDir = ProjectLocator.FindInitialised(projectOpt);
        var point = atText is null ? (StorePoint?)null : CliRunner.ParsePoint(atText, "--at point");
        // Another user asks the mount, which refuses: naming points is the owner's.
        var route = HistoryRoute.Of(projectDir);
        if ((route.Direct ? MountState.ReadLive(projectDir) : route.RequireMount("snapshot create")) is { } mount)
        {
            var request = new JsonObject { ["op"] = "snapshot-create", ["name"] = name, ["agent"] = CliContext.Agent };
            if (point is not null) request["at"] = point.Value.ToString();
            var r = ControlClient.Call(mount, request);
            var pointSeq = r["snapshot"]?["seq"]?.GetValue<long>();
            ctx.Out.WriteLine($"snapshot '{name}' names @{pointSeq?.ToString() ?? "?"} (recorded by the mount as event @{r["seq"]})");
            return ExitCodes.Ok;
        }
        using var store = StoreAccess.OpenForWriting(projectDir);
        var external = 0;
        if (point is null)
        {
            using var progress = new ProgressLine(ctx);
            var report = store.Reconcile(new SyncProgress<ReconcileProgress>(p => progress.Report($"checking the project directory: {p.Phase} {Fmt.N(p.Done)}{(p.Total > 0 ? "/" + Fmt.N(p.Total) : "")}")));
            external = report.Events.Count;
        }
        Snapshot s;
        try
        {
            s = store.CreateSnapshot(CliContext.Agent, name, point);
        }
        catch (SnapshotExistsException e)
        {
            throw new CliException(e.Message, ExitCodes.Usage);
        }
        catch (ArgumentException e)
        {
            throw new CliException($"'{name}' cannot name a snapshot: {e.Message}", ExitCodes.Usage);
        }
        if (external > 0) ctx.Out.WriteLine($"recorded {Fmt.N(external)} change(s) made to the directory outside Lighthouse first (agent external)");
        ctx.Out.WriteLine($"snapshot '{s.Name}' names @{s.Seq} (event @{s.CreatedAtSeq} by {s.CreatedBy})");
        return ExitCodes.Ok;
    }

    public static int RunList(CliContext ctx, string? projectOpt, bool json)
    {
        var projectDir = ProjectLocator.FindInitialised(projectOpt);
        var route = HistoryRoute.Of(projectDir);
        if (!route.Direct) return route.Ask(ctx, "snapshot list", new JsonObject { ["op"] = "snapshot-list", ["json"] = json });
        using var view = StoreAccess.OpenReadOnly(projectDir);
        return List(ctx, view, json);
    }

    /// <summary>Prints the snapshots (names, points, who made them: nothing of the tree), for the owner and, through the mount, anyone.</summary>
    public static int List(CliContext ctx, IProjectStore view, bool json)
    {
        var list = view.Snapshots();
        if (json)
        {
            var arr = new JsonArray();
            foreach (var s in list)
                arr.Add(new JsonObject { ["name"] = s.Name, ["seq"] = s.Seq, ["createdAtSeq"] = s.CreatedAtSeq, ["createdBy"] = s.CreatedBy, ["createdUtc"] = Fmt.IsoTime(s.CreatedUtc) });
            ctx.Out.WriteLine(arr.ToJsonString(Fmt.JsonIndented));
            return ExitCodes.Ok;
        }
        if (list.Count == 0)
        {
            ctx.Out.WriteLine("no snapshots (create one with `lighthouse snapshot create <name>`)");
            return ExitCodes.Ok;
        }
        var rows = new List<string[]> { new[] { "NAME", "POINT", "CREATED (UTC)", "BY" } };
        rows.AddRange(list.Select(s => new[] { s.Name, "@" + s.Seq, Fmt.Time(s.CreatedUtc), s.CreatedBy }));
        Fmt.Table(ctx.Out, rows);
        return ExitCodes.Ok;
    }

    public static int RunDelete(CliContext ctx, string? projectOpt, string name)
    {
        var projectDir = ProjectLocator.FindInitialised(projectOpt);
        var route = HistoryRoute.Of(projectDir);
        if ((route.Direct ? MountState.ReadLive(projectDir) : route.RequireMount("snapshot delete")) is { } mount)
        {
            var r = ControlClient.Call(mount, new JsonObject { ["op"] = "snapshot-delete", ["name"] = name, ["agent"] = CliContext.Agent });
            ctx.Out.WriteLine($"snapshot '{name}' deleted (recorded by the mount as event @{r["seq"]})");
            return ExitCodes.Ok;
        }
        using var store = StoreAccess.OpenForWriting(projectDir);
        try
        {
            store.DeleteSnapshot(CliContext.Agent, name);
        }
        catch (PointNotFoundException e)
        {
            throw new CliException(e.Message, ExitCodes.Usage);
        }
        ctx.Out.WriteLine($"snapshot '{name}' deleted (event @{store.LastSeq})");
        return ExitCodes.Ok;
    }
}
