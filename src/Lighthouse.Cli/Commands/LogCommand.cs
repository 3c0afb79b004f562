using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Lighthouse.Project.Feed;
using Lighthouse.Project.History;
using Lighthouse.Store;

namespace Lighthouse.Cli.Commands;

/// <summary>`lighthouse log`: the event log, filtered, optionally followed live.</summary>
public static class LogCommand
{
    public static Command Create()
    {
        var project = ProjectLocator.ProjectOption();
        var json = new Option<bool>("--json") { Description = "Print one JSON object per event per line (JSON Lines), for scripts." };
        var agent = new Option<string?>("--agent", "-a") { Description = "Only events of this agent, e.g. root/git or external." };
        var path = new Option<string?>("--path", "-p") { Description = "Only events on this path or under it (relative to the project root); matches either side of a rename or exchange." };
        var op = new Option<string[]>("--op")
        {
            Description = "Only these operations (repeat or comma-separate): init, baseline, create, mkdir, symlink, write, setattr, capture, unlink, rmdir, rename, exchange, link, snapshot, snapshot-delete.",
            AllowMultipleArgumentsPerToken = true,
        };
        var since = new Option<string?>("--since") { Description = "Only events at or after: a UTC time (2026-11-25T10:30:00Z), a duration ago (90s, 10m, 2h, 3d), an event (@120) or a snapshot name." };
        var until = new Option<string?>("--until") { Description = "Only events before (a time or duration ago) or up to (an event or snapshot): same forms as --since." };
        var limit = new Option<int>("--limit", "-n") { Description = "How many of the most recent matching events to show (before following).", DefaultValueFactory = _ => 50 };
        var follow = new Option<bool>("--follow", "-f") { Description = "Keep printing new matching events as they are recorded (polls every 250 ms) until Ctrl-C." };
        var command = new Command("log",
            "Show the event log: every recorded change with its event number, UTC time, agent, operation and path, oldest first " +
            "(the last --limit matching events). Filters combine.\n\n" +
            "Other users than the store's owner (whose .lighthouse/ is private) see the log through the running mount: every " +
            "event's number, time, agent and operation, but a path only if they could list its directory at that event, and a " +
            "content hash only if they could read the file; when the project is not mounted they are told to ask the owner.\n\n" +
            "Examples:\n  lighthouse log -n 20\n  lighthouse log --agent root/git --path src --op write,unlink\n" +
            "  lighthouse log --since 2h\n  lighthouse log --follow --json")
        {
            project, agent, path, op, since, until, limit, follow, json,
        };
        command.SetAction((parse, ct) => CliRunner.RunAsync(parse, ct, (ctx, token) => Run(ctx, new Options(
            parse.GetValue(project), parse.GetValue(agent), parse.GetValue(path), parse.GetValue(op) ?? [],
            parse.GetValue(since), parse.GetValue(until), parse.GetValue(limit), parse.GetValue(follow), parse.GetValue(json)), token)));
        return command;
    }

    public sealed record Options(string? Project, string? Agent, string? Path, string[] Ops, string? Since, string? Until, int Limit, bool Follow, bool Json)
    {
        public TimeSpan PollInterval { get; init; } = TimeSpan.FromMilliseconds(250);
    }

    public static async Task<int> Run(CliContext ctx, Options o, CancellationToken ct)
    {
        if (o.Limit < 0) throw new CliException("--limit must be 0 or more", ExitCodes.Usage);
        var projectDir = ProjectLocator.FindInitialised(o.Project);
        var route = HistoryRoute.Of(projectDir);
        if (!route.Direct) return await RunThroughMount(ctx, route, o, ct).ConfigureAwait(false);
        var mount = MountState.ReadLive(projectDir);
        // A read-only view takes no lock: following for hours never keeps a mount from starting.
        using var view = StoreAccess.OpenReadOnly(projectDir);
        var prefix = o.Path is null ? null : ProjectLocator.ToStorePath(projectDir, o.Path, mount);
        var upTo = view.LastSeq;
        Page(ctx, view, null, o, prefix, afterSeq: null, upTo, quiet: false);
        if (!o.Follow) return ExitCodes.Ok;
        var (toSeq, toTime) = Bound(view, o.Until, "--until");
        if (toSeq is not null || toTime is not null) throw new CliException("--follow cannot be combined with --until", ExitCodes.Usage);

        ctx.Out.Flush();
        try
        {
            while (!ct.IsCancellationRequested)
            {
                await Task.Delay(o.PollInterval, ct).ConfigureAwait(false);
                var last = view.LastSeq;
                if (last <= upTo) continue;
                Page(ctx, view, null, o with { Limit = int.MaxValue }, prefix, afterSeq: upTo, last, quiet: true);
                ctx.Out.Flush();
                upTo = last;
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        return ExitCodes.Ok;
    }

    /// <summary>Another user's log: the mount answers (paths it may not see and content hashes of files it may not read withheld).</summary>
    private static async Task<int> RunThroughMount(CliContext ctx, HistoryRoute route, Options o, CancellationToken ct)
    {
        var mount = route.RequireMount("log");
        var prefix = o.Path is null ? null : ProjectLocator.ToStorePath(route.ProjectDir, o.Path, mount);
        JsonObject Request(Options opts, long? after) => new()
        {
            ["op"] = "log", ["agent"] = opts.Agent, ["path"] = prefix, ["ops"] = new JsonArray([.. opts.Ops.Select(x => JsonValue.Create(x))]),
            ["since"] = opts.Since, ["until"] = opts.Until, ["limit"] = opts.Limit, ["json"] = opts.Json, ["after"] = after, ["quiet"] = after is not null,
        };
        var answer = route.Call("log", Request(o, null));
        var code = HistoryRoute.Print(ctx, answer);
        if (!o.Follow || code != ExitCodes.Ok) return code;
        if (o.Until is not null) throw new CliException("--follow cannot be combined with --until", ExitCodes.Usage);
        var upTo = answer["lastSeq"]!.GetValue<long>();
        ctx.Out.Flush();
        try
        {
            while (!ct.IsCancellationRequested)
            {
                await Task.Delay(o.PollInterval, ct).ConfigureAwait(false);
                answer = route.Call("log", Request(o with { Limit = int.MaxValue }, upTo));
                if ((code = HistoryRoute.Print(ctx, answer)) != ExitCodes.Ok) return code;
                ctx.Out.Flush();
                upTo = answer["lastSeq"]!.GetValue<long>();
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        return ExitCodes.Ok;
    }

    /// <summary>
    /// Prints the last <see cref="Options.Limit"/> matching events up to <paramref name="upTo"/> (after
    /// <paramref name="afterSeq"/> if given). With <paramref name="access"/> (another user, asking the mount), the
    /// path of an event is shown only if that user could list its directory then, and the content hash only if it could
    /// read the file; the rest of the line (number, time, agent, operation) stays.
    /// </summary>
    public static int Page(CliContext ctx, IProjectStore view, HistoryAccess? access, Options o, string? prefix, long? afterSeq, long upTo, bool quiet)
    {
        var ops = o.Ops.SelectMany(s => s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            .Select(Fmt.ParseOp).Distinct().ToArray();
        var query = new LogQuery
        {
            Agent = string.IsNullOrWhiteSpace(o.Agent) ? null : o.Agent.Trim(),
            PathPrefix = prefix,
            Operations = ops.Length > 0 ? ops : null,
        };
        var (fromSeq, fromTime) = Bound(view, o.Since, "--since");
        var (toSeq, toTime) = Bound(view, o.Until, "--until");
        query = query with { FromUtc = fromTime, ToUtc = toTime };
        if (afterSeq is { } after) fromSeq = Math.Max(fromSeq ?? 0, after + 1);
        var page = Collect(view, query, fromSeq, Math.Min(toSeq ?? long.MaxValue, upTo), o.Limit);
        foreach (var e in page)
        {
            // Naming a path shows no event under it that the user could not see (that would confirm the name exists).
            if (access is not null && prefix is not null && !access.CanSeeEventPath(e.Path, e.Seq) && (e.Path2 is null || !access.CanSeeEventPath(e.Path2, e.Seq))) continue;
            Print(ctx, access is null ? e : Visible(access, e), o.Json);
        }
        if (!o.Json && !quiet && page.Count == 0) ctx.Err.WriteLine("lighthouse: no matching events");
        return page.Count;
    }

    /// <summary>The event as another user may see it.</summary>
    public static StoreEvent Visible(HistoryAccess access, StoreEvent e)
    {
        var seen = access.CanSeeEventPath(e.Path, e.Seq);
        var seen2 = e.Path2 is null || access.CanSeeEventPath(e.Path2, e.Seq);
        var readable = e.ContentHash is null || seen && access.CanReadEventContent(e.Path, e.Seq);
        if (seen && seen2 && readable) return e;
        var withheld = $"({HistoryAccess.Withheld(e.Seq)})";
        return e with
        {
            Path = seen ? e.Path : withheld,
            Path2 = seen2 ? e.Path2 : withheld,
            Attributes = seen ? e.Attributes : null,
            ContentHash = readable ? e.ContentHash : null,
        };
    }

    /// <summary>The last <paramref name="limit"/> matching events with seq in [from, to], oldest first.</summary>
    private static List<StoreEvent> Collect(IProjectStore view, LogQuery query, long? fromSeq, long toSeq, int limit)
    {
        var result = new List<StoreEvent>();
        if (limit == 0) return result;
        long? before = toSeq == long.MaxValue ? null : toSeq + 1;
        if (query.BeforeSeq is { } b) before = before is null ? b : Math.Min(before.Value, b);
        while (result.Count < limit)
        {
            var page = view.Log(query with { BeforeSeq = before, Limit = Math.Clamp(limit - result.Count, 1, 1000) });
            foreach (var e in page.Events)
            {
                if (fromSeq is { } f && e.Seq < f) { result.Reverse(); return result; }
                result.Add(e);
                if (result.Count == limit) break;
            }
            if (page.NextBefore is null) break;
            before = page.NextBefore;
        }
        result.Reverse();
        return result;
    }

    /// <summary>A --since/--until bound: an event number (from a point) or a time.</summary>
    private static (long? Seq, DateTime? Time) Bound(IProjectStore view, string? text, string option)
    {
        if (string.IsNullOrWhiteSpace(text)) return (null, null);
        text = text.Trim();
        if (TryDuration(text, out var ago)) return (null, DateTime.UtcNow - ago);
        var point = CliRunner.ParsePoint(text, option);
        return point.Kind == StorePoint.PointKind.Time ? (null, point.TimeUtc) : (view.Resolve(point), null);
    }

    public static bool TryDuration(string text, out TimeSpan span)
    {
        span = default;
        if (text.Length < 2) return false;
        var unit = text[^1];
        if (!double.TryParse(text.AsSpan(0, text.Length - 1), NumberStyles.Float, CultureInfo.InvariantCulture, out var n) || n < 0) return false;
        switch (unit)
        {
            case 's': span = TimeSpan.FromSeconds(n); return true;
            case 'm': span = TimeSpan.FromMinutes(n); return true;
            case 'h': span = TimeSpan.FromHours(n); return true;
            case 'd': span = TimeSpan.FromDays(n); return true;
            case 'w': span = TimeSpan.FromDays(7 * n); return true;
            default: return false;
        }
    }

    public static void Print(CliContext ctx, StoreEvent e, bool json)
    {
        if (json)
        {
            // The same JSON line as streams/ and the server-sent events carry.
            ctx.Out.Write(FeedFormat.ToJsonLine(e));
            return;
        }
        ctx.Out.WriteLine(Format(e));
    }

    /// <summary>A deny, policy or agents event's detail in a few words: "  (write refused: rule 2 'x' (policy.yaml line 7): deny; git reset --hard)".</summary>
    private static string AuditSummary(string? detail)
    {
        if (detail is null) return "";
        try
        {
            var o = System.Text.Json.Nodes.JsonNode.Parse(detail)?.AsObject();
            if (o is null) return "";
            if (o["outcome"] is { } outcome) return $"  ({outcome}{(o["error"] is { } error ? ": " + error : "")})";
            if (o["changes"] is System.Text.Json.Nodes.JsonArray changes) return $"  ({string.Join("; ", changes.Select(c => c?.ToString()))})";
            var refused = o["refused"]?.GetValue<bool>() == true ? "refused" : "would be refused (audit)";
            var repeats = o["repeatsBefore"] is { } r ? $"; {r} more like it before" : "";
            return $"  ({o["operation"]} {refused}: {o["rule"]}{(o["command"] is { } c ? "; " + c : "")}{repeats})";
        }
        catch (System.Text.Json.JsonException) { return "  " + detail; }
    }

    public static string Format(StoreEvent e)
    {
        var what = e.Op switch
        {
            EventOp.Rename => $"{e.Path} -> {e.Path2}",
            EventOp.Exchange => $"{e.Path} <-> {e.Path2}",
            EventOp.Link => $"{e.Path2} (link to {e.Path})",
            EventOp.SnapshotCreate => $"{e.Path} (names @{e.Point})",
            EventOp.Init => "/",
            EventOp.Deny => $"{(e.Path2 is null ? ProjectLocator.Display(e.Path) : $"{e.Path} -> {e.Path2}")}{AuditSummary(e.Detail)}",
            EventOp.Policy or EventOp.Agents => $"{e.Path}{AuditSummary(e.Detail)}",
            _ => ProjectLocator.Display(e.Path),
        };
        var detail = e.Attributes is { Kind: FileKind.File } a && e.Op is not (EventOp.Rename or EventOp.Exchange or EventOp.Link)
            ? $"  {Fmt.Size(a.Size)}{(e.ContentState == ContentState.TooLarge ? ", metadata only (too large)" : "")}"
            : "";
        if (e.Op == EventOp.Write && e.ContentState == ContentState.NotCaptured) detail += ", metadata only";
        return $"@{e.Seq,-6} {Fmt.Time(e.TimeUtc)}  {e.Agent,-18} {Fmt.Op(e.Op),-9} {what}{detail}";
    }
}
