using System.CommandLine;
using System.Text.Json.Nodes;
using Lighthouse.Store;

namespace Lighthouse.Cli.Commands;

/// <summary>`lighthouse history &lt;path&gt;`: the versions of one file, across renames.</summary>
public static class HistoryCommand
{
    public static Command Create()
    {
        var project = ProjectLocator.ProjectOption();
        var json = ProjectLocator.JsonOption("the versions");
        var path = new Argument<string>("path") { Description = "The file or directory, relative to the project root." };
        var at = new Option<string?>("--at") { Description = "Find the file by the name it had at this point (@N, UTC time, snapshot). Default: now, or just before it was deleted." };
        var command = new Command("history",
            "List every version of a file with its time, agent and operation, oldest first. The file is followed across renames " +
            "(the path column shows the name each version had). For a file that no longer exists, the versions up to its removal " +
            "are shown. Content column: 'captured' (bytes kept, restorable), 'metadata only' (recorded without bytes) or 'too large'.\n\n" +
            "Examples:\n  lighthouse history src/main.c\n  lighthouse history old/name.txt --at v1\n  lighthouse history README.md --json")
        {
            path, project, at, json,
        };
        command.SetAction(parse => CliRunner.Run(parse, ctx => Run(ctx, parse.GetValue(project), parse.GetValue(path)!, parse.GetValue(at), parse.GetValue(json))));
        return command;
    }

    public static int Run(CliContext ctx, string? projectOpt, string userPath, string? atText, bool json)
    {
        var projectDir = ProjectLocator.FindInitialised(projectOpt);
        var mount = MountState.ReadLive(projectDir);
        var path = ProjectLocator.ToStorePath(projectDir, userPath, mount);
        using var view = StoreAccess.OpenReadOnly(projectDir);

        StorePoint point = atText is null ? StorePoint.Latest : CliRunner.ParsePoint(atText, "--at point");
        string? note = null;
        if (atText is null && view.LookupPath(path, StorePoint.Latest) is null)
        {
            // Gone now: find the last event on that name and look just before it.
            var last = view.Log(new LogQuery { PathPrefix = path, Limit = 1, Operations = [EventOp.Unlink, EventOp.Rmdir, EventOp.Rename] }).Events.FirstOrDefault();
            if (last is null || last.Seq <= 1 || view.LookupPath(path, StorePoint.AtEvent(last.Seq - 1)) is null)
                throw new CliException($"'{ProjectLocator.Display(path)}' does not exist now and never existed in this project's history{ProjectLocator.Hint(projectDir, userPath)}", ExitCodes.Usage);
            point = StorePoint.AtEvent(last.Seq - 1);
            note = last.Op == EventOp.Rename && last.Path == path
                ? $"'{path}' was renamed to '{last.Path2}' at @{last.Seq} by {last.Agent}"
                : $"'{path}' was removed at @{last.Seq} by {last.Agent} ({Fmt.Time(last.TimeUtc)})";
        }
        var versions = view.Versions(path, point);

        if (json)
        {
            var arr = new JsonArray();
            foreach (var v in versions)
                arr.Add(new JsonObject
                {
                    ["version"] = v.VersionSeq, ["time"] = Fmt.IsoTime(v.TimeUtc), ["agent"] = v.Agent, ["op"] = Fmt.Op(v.Op), ["path"] = v.Path,
                    ["kind"] = v.Attributes.Kind.ToString().ToLowerInvariant(), ["size"] = v.Attributes.Size, ["mode"] = Convert.ToString(v.Attributes.Mode, 8),
                    ["mtimeNs"] = v.Attributes.MtimeNs, ["content"] = Content(v.ContentState), ["contentHash"] = v.ContentHash, ["capturedAt"] = v.CapturedAtSeq,
                });
            var o = new JsonObject { ["path"] = path, ["fileId"] = versions.FirstOrDefault()?.FileId, ["note"] = note, ["versions"] = arr };
            ctx.Out.WriteLine(o.ToJsonString(Fmt.JsonIndented));
            return ExitCodes.Ok;
        }

        var rows = new List<string[]> { new[] { "VERSION", "TIME (UTC)", "AGENT", "OP", "SIZE", "MODE", "CONTENT", "PATH" } };
        string? previous = null;
        foreach (var v in versions)
        {
            var p = ProjectLocator.Display(v.Path);
            if (previous is not null && previous != v.Path) p += $"  (renamed from {previous})";
            previous = v.Path;
            rows.Add([
                "@" + v.VersionSeq, Fmt.Time(v.TimeUtc), v.Agent, Fmt.Op(v.Op),
                v.Attributes.Kind == FileKind.Directory ? "-" : Fmt.Size(v.Attributes.Size), Fmt.Mode(v.Attributes.Mode),
                Content(v.ContentState) + (v.CapturedAtSeq is { } c && c != v.VersionSeq ? $" (@{c})" : ""), p,
            ]);
        }
        Fmt.Table(ctx.Out, rows);
        ctx.Out.WriteLine($"{versions.Count} version(s) of file #{versions.FirstOrDefault()?.FileId}");
        if (note is not null) ctx.Out.WriteLine(note);
        return ExitCodes.Ok;
    }

    private static string Content(ContentState s) => s switch
    {
        ContentState.Captured => "captured",
        ContentState.NotCaptured => "metadata only",
        ContentState.TooLarge => "too large",
        _ => "-",
    };
}
