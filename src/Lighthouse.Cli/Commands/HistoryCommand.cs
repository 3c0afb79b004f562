using System.CommandLine;
using System.Text.Json.Nodes;
using Lighthouse.Project.History;
using Lighthouse.Store;

namespace Lighthouse.Cli.Commands;

/// <summary>`lighthouse history &lt;path&gt;`: the versions that name held, following atomic saves and renames.</summary>
public static class HistoryCommand
{
    public static Command Create()
    {
        var project = ProjectLocator.ProjectOption();
        var json = ProjectLocator.JsonOption("the versions");
        var path = new Argument<string>("path") { Description = "The file or directory, relative to the project root." };
        var at = new Option<string?>("--at") { Description = "Up to this point (@N, UTC time, snapshot) instead of now." };
        var noFollow = new Option<bool>("--no-follow")
        {
            Description = "Only the file that has the name now (or at --at; for a name gone now, just before it went), across its own renames.",
        };
        var command = new Command("history",
            "List the versions of a path, newest first, with time, agent, operation, content state, file number and the name each " +
            "version had. The path is followed like `git log --follow`: the versions of every file that held that name, each up to " +
            "when it stopped holding it. An atomic save (sed -i, editors, git: a temporary file written, then renamed over the name) " +
            "shows as the temporary file's versions, under its own name, above the versions of the file it replaced; a name that came " +
            "from a rename is followed back to the files that held the earlier name. --no-follow lists one file only.\n\n" +
            "When a version is captured: when a handle opened for writing is closed and the file changed; at fsync/fdatasync; " +
            "when a file still open for writing is renamed, replaced or removed; and before the first change of content recorded " +
            "without its bytes (copy-on-write). A file kept open and fsync'ed again and again is captured at most once a second: " +
            "the versions in between are left for the next capture point, and the close always captures the final content. " +
            "Every version is a state the file really had: a close while another process still writes to the file records none " +
            "(its change is captured at that process's close).\n\n" +
            "Content column: 'captured' (bytes kept, restorable), 'metadata only' (recorded without bytes), 'too large', or " +
            "'thinned' (bytes removed by the retention policy, see `lighthouse gc`; the event stays).\n\n" +
            "Other users than the store's owner (whose .lighthouse/ is private) ask the running mount: they see the versions " +
            "whose name they could list at the time (content column 'withheld' and no hash where they could not read the " +
            "file); when the project is not mounted they are told to ask the owner.\n\n" +
            "Examples:\n  lighthouse history src/main.c\n  lighthouse history src/main.c --no-follow\n  lighthouse history old/name.txt --at v1\n" +
            "  lighthouse history README.md --json")
        {
            path, project, at, noFollow, json,
        };
        command.SetAction(parse => CliRunner.Run(parse, ctx => Run(ctx, parse.GetValue(project), parse.GetValue(path)!, parse.GetValue(at),
            parse.GetValue(json), follow: !parse.GetValue(noFollow))));
        return command;
    }

    public static int Run(CliContext ctx, string? projectOpt, string userPath, string? atText, bool json, bool follow = true)
    {
        var projectDir = ProjectLocator.FindInitialised(projectOpt);
        var route = HistoryRoute.Of(projectDir);
        if (!route.Direct)
        {
            var path = ProjectLocator.ToStorePath(projectDir, userPath, route.RequireMount("history"));
            return route.Ask(ctx, "history", new JsonObject { ["op"] = "history", ["path"] = path, ["at"] = atText, ["json"] = json, ["follow"] = follow });
        }
        using var view = StoreAccess.OpenReadOnly(projectDir);
        return Print(ctx, view, null, ProjectLocator.ToStorePath(projectDir, userPath, MountState.ReadLive(projectDir)), atText, json, follow,
            ProjectLocator.Hint(projectDir, userPath));
    }

    /// <summary>
    /// Prints the versions of a store path. With <paramref name="access"/> (another user, asking the mount), only the
    /// versions whose name that user could list at the time are shown, and a content hash only where it could read them.
    /// </summary>
    public static int Print(CliContext ctx, IProjectStore view, HistoryAccess? access, string path, string? atText, bool json, bool follow, string hint = "")
    {
        StorePoint point = atText is null ? StorePoint.Latest : CliRunner.ParsePoint(atText, "--at point");
        string? note = null;
        string NeverExisted() => access is null
            ? $"'{ProjectLocator.Display(path)}' does not exist now and never existed in this project's history{hint}"
            : $"'{ProjectLocator.Display(path)}' has no version you may see (it never existed, or only where you could not list it)";
        if (atText is null && view.LookupPath(path, StorePoint.Latest) is null)
        {
            // Gone now: find the last event on that name (and, not following, look just before it).
            var last = view.Log(new LogQuery { PathPrefix = path, Limit = 1, Operations = [EventOp.Unlink, EventOp.Rmdir, EventOp.Rename] }).Events.FirstOrDefault();
            if (last is null || last.Seq <= 1 || view.LookupPath(path, StorePoint.AtEvent(last.Seq - 1)) is null)
                throw new CliException(NeverExisted(), ExitCodes.Usage);
            if (!follow) point = StorePoint.AtEvent(last.Seq - 1);
            if (access is null || access.CanSeeEventPath(path, last.Seq))
                note = last.Op == EventOp.Rename && last.Path == path
                    ? $"'{path}' was renamed to '{(access is null || access.CanSeeEventPath(last.Path2!, last.Seq) ? last.Path2 : "(" + HistoryAccess.Withheld(last.Seq) + ")")}' at @{last.Seq} by {last.Agent}"
                    : $"'{path}' was removed at @{last.Seq} by {last.Agent} ({Fmt.Time(last.TimeUtc)})";
        }
        // Newest first, like the log.
        var versions = follow ? view.PathHistory(path, point) : view.Versions(path, point).Reverse().ToList();
        if (access is not null)
        {
            versions = versions.Where(v => access.CanSeeName(v.Path, v.VersionSeq))
                .Select(v => access.CanReadContent(v.Path, v.VersionSeq) ? v : v with { ContentHash = null, ContentState = Withheld })
                .ToList();
            if (versions.Count == 0) throw new CliException(NeverExisted(), ExitCodes.Usage);
        }
        var files = versions.Select(v => v.FileId).Distinct().ToList();

        if (json)
        {
            var arr = new JsonArray();
            foreach (var v in versions)
                arr.Add(new JsonObject
                {
                    ["version"] = v.VersionSeq, ["time"] = Fmt.IsoTime(v.TimeUtc), ["agent"] = v.Agent, ["op"] = Fmt.Op(v.Op), ["path"] = v.Path,
                    ["fileId"] = v.FileId, ["kind"] = v.Attributes.Kind.ToString().ToLowerInvariant(), ["size"] = v.Attributes.Size,
                    ["mode"] = Convert.ToString(v.Attributes.Mode, 8), ["mtimeNs"] = v.Attributes.MtimeNs, ["content"] = Content(v.ContentState),
                    ["contentHash"] = v.ContentHash, ["capturedAt"] = v.CapturedAtSeq,
                });
            var o = new JsonObject
            {
                ["path"] = path, ["follow"] = follow, ["fileId"] = files.FirstOrDefault(), ["files"] = new JsonArray([.. files.Select(f => JsonValue.Create(f))]),
                ["note"] = note, ["versions"] = arr,
            };
            ctx.Out.WriteLine(o.ToJsonString(Fmt.JsonIndented));
            return ExitCodes.Ok;
        }

        // "(renamed from …)" where a file's version has another name than its version before.
        var renamedFrom = new Dictionary<long, string>();
        var lastName = new Dictionary<long, string>();
        foreach (var v in versions.Reverse())
        {
            if (lastName.TryGetValue(v.FileId, out var before) && before != v.Path) renamedFrom[v.VersionSeq] = before;
            lastName[v.FileId] = v.Path;
        }
        var rows = new List<string[]> { new[] { "VERSION", "TIME (UTC)", "AGENT", "OP", "SIZE", "MODE", "CONTENT", "FILE", "PATH" } };
        foreach (var v in versions)
        {
            var p = ProjectLocator.Display(v.Path);
            if (renamedFrom.TryGetValue(v.VersionSeq, out var from)) p += $"  (renamed from {ProjectLocator.Display(from)})";
            rows.Add([
                "@" + v.VersionSeq, Fmt.Time(v.TimeUtc), v.Agent, Fmt.Op(v.Op),
                v.Attributes.Kind == FileKind.Directory ? "-" : Fmt.Size(v.Attributes.Size), Fmt.Mode(v.Attributes.Mode),
                Content(v.ContentState) + (v.CapturedAtSeq is { } c && c != v.VersionSeq ? $" (@{c})" : ""), "#" + v.FileId, p,
            ]);
        }
        Fmt.Table(ctx.Out, rows);
        ctx.Out.WriteLine(files.Count == 1
            ? $"{versions.Count} version(s) of file #{files[0]}"
            : $"{versions.Count} version(s) of {files.Count} files that held '{ProjectLocator.Display(path)}': {string.Join(", ", files.Select(f => "#" + f))}");
        if (note is not null) ctx.Out.WriteLine(note);
        return ExitCodes.Ok;
    }

    /// <summary>How a version whose content another user may not read is shown (never a state the store records).</summary>
    private const ContentState Withheld = (ContentState)(-1);

    private static string Content(ContentState s) => s switch
    {
        Withheld => "withheld (no read permission)",
        ContentState.Captured => "captured",
        ContentState.NotCaptured => "metadata only",
        ContentState.TooLarge => "too large",
        ContentState.Pruned => "thinned",
        _ => "-",
    };
}
