using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using Lighthouse.Cli.Control;
using Lighthouse.Project.Status;
using Lighthouse.Store;

namespace Lighthouse.Cli.Commands;

/// <summary>`lighthouse status`: mount state, kernel protocol, and what the store holds.</summary>
public static class StatusCommand
{
    public const int QuickChainCheck = RecordSummary.QuickChainCheck;

    public static Command Create()
    {
        var project = ProjectLocator.ProjectOption();
        var json = ProjectLocator.JsonOption("the status");
        var verify = new Option<bool>("--verify") { Description = "Check the whole hash chain of the event log (reads every event), not only the last 1,000 events." };
        var command = new Command("status",
            "Show the state of the project: whether it is mounted (where, by which process, since when), the kernel FUSE protocol " +
            "version and negotiated features and whether kernel passthrough is on (live from the mount), the number of events and " +
            "the time of the last one, the objects (file versions) kept and their size, snapshots, and whether the event log's " +
            "hash chain verifies. Exit code 1 if the chain is broken.\n\n" +
            "Other users than the store's owner (whose .lighthouse/ is private) get the same report from the running mount " +
            "(no path or content is in it); when the project is not mounted they are told to ask the owner.\n\n" +
            "Examples:\n  lighthouse status\n  lighthouse status --verify --project ~/src/myproject\n  lighthouse status --json | jq .events")
        {
            project, json, verify,
        };
        command.SetAction(parse => CliRunner.Run(parse, ctx => Run(ctx, parse.GetValue(project), parse.GetValue(json), parse.GetValue(verify))));
        return command;
    }

    public static int Run(CliContext ctx, string? projectOpt, bool json, bool fullVerify)
    {
        var projectDir = ProjectLocator.FindInitialised(projectOpt);
        var route = HistoryRoute.Of(projectDir);
        if (!route.Direct) return route.Ask(ctx, "status", new JsonObject { ["op"] = "status-report", ["json"] = json, ["verify"] = fullVerify });
        var mountFile = MountState.Read(projectDir);
        var mount = mountFile is { IsAlive: true } ? mountFile : null;

        JsonObject? live = null;
        string? liveError = null;
        if (mount is not null)
        {
            try
            {
                using var c = ControlClient.Connect(mount, TimeSpan.FromSeconds(5));
                live = c.Call(new JsonObject { ["op"] = "status" });
            }
            catch (CliException e)
            {
                liveError = e.Message;
            }
        }

        using var view = StoreAccess.OpenReadOnly(projectDir);
        // The mount owns the store: let it check the chain it writes, if it answers.
        VerifyResult? ByMount()
        {
            if (mount is null || live is null) return null;
            try
            {
                var r = ControlClient.Call(mount, new JsonObject { ["op"] = "verify" })["verify"];
                return r.Deserialize<VerifyResult>(ControlJson.Options);
            }
            catch (Exception e) when (e is CliException or JsonException or NullReferenceException) { return null; }
        }
        return Report(ctx, projectDir, mountFile, live, liveError, view, json, fullVerify, ByMount);
    }

    /// <summary>
    /// Prints the status from a view of the store, the mount's mount.json and its live answer. The mount itself calls
    /// this for other users (nothing in it is a file's content or a path of the tree).
    /// </summary>
    public static int Report(CliContext ctx, string projectDir, MountState? mountFile, JsonObject? live, string? liveError, IProjectStore view,
        bool json, bool fullVerify, Func<VerifyResult?> verifyByMount)
    {
        var mount = mountFile is { IsAlive: true } ? mountFile : null;
        var stale = mountFile is not null && mount is null;
        bool byMount = false;
        VerifyResult FullCheck()
        {
            if (verifyByMount() is { } byIt) { byMount = true; return byIt; }
            return view.Verify();
        }
        var summary = RecordSummary.Of(view, fullVerify ? FullCheck : null);
        var (last, lastEvent, snapshots, chain) = (summary.Events, summary.LastEvent, summary.Snapshots, summary.Chain);
        var (objects, objectBytes) = summary.Objects;
        var usage = view.Usage(largest: 0);
        string chainScope = !summary.ChainCheckedFully ? $"last {Fmt.N(QuickChainCheck)} events" : byMount ? "full (by the mount)" : "full";

        var liveMount = live?["mount"] as JsonObject;
        string? protocol = Str(liveMount, "protocol") ?? mount?.Protocol;
        var features = (liveMount?["features"] as JsonArray)?.Select(f => f?.ToString() ?? "").ToList() ?? mount?.Features?.ToList();
        bool? passthrough = Bool(liveMount, "kernelPassthrough") ?? mount?.KernelPassthrough;

        if (json)
        {
            var o = new JsonObject
            {
                ["projectDir"] = projectDir,
                ["mounted"] = mount is not null,
                ["mountPoint"] = mount?.MountPoint,
                ["pid"] = mount?.Pid,
                ["since"] = mount is null ? null : Fmt.IsoTime(mount.StartedUtc),
                ["staleMountFile"] = stale,
                ["protocol"] = protocol,
                ["features"] = features is null ? null : new JsonArray(features.Select(f => (JsonNode)f).ToArray()),
                ["kernelPassthrough"] = passthrough,
                ["live"] = live is null ? null : JsonNode.Parse(live.ToJsonString()),
                ["liveError"] = liveError,
                ["events"] = last,
                ["lastEventUtc"] = lastEvent is null ? null : Fmt.IsoTime(lastEvent.TimeUtc),
                ["objects"] = objects,
                ["objectBytes"] = objectBytes,
                ["store"] = DuCommand.ToJson(usage),
                ["snapshots"] = snapshots.Count,
                ["chain"] = new JsonObject
                {
                    ["ok"] = chain.Ok, ["scope"] = chainScope, ["eventsChecked"] = chain.EventsChecked, ["lastGoodSeq"] = chain.LastGoodSeq,
                    ["firstBrokenSeq"] = chain.FirstBrokenSeq, ["problem"] = chain.Problem,
                },
                ["reader"] = StoreAccess.Describe(view),
            };
            ctx.Out.WriteLine(o.ToJsonString(Fmt.JsonIndented));
            return chain.Ok ? ExitCodes.Ok : ExitCodes.Failure;
        }

        var rows = new List<string[]> { new[] { "project:", projectDir } };
        if (mount is not null)
        {
            rows.Add(["mounted:", $"yes, on {mount.MountPoint} (pid {mount.Pid}, since {Fmt.Time(mount.StartedUtc)})"]);
            rows.Add(["protocol:", protocol is null ? "unknown" : "FUSE " + protocol + (live is null ? " (from mount.json)" : "")]);
            rows.Add(["features:", features is { Count: > 0 } ? string.Join(' ', features) : "unknown"]);
            var passthroughOff = Str(liveMount, "kernelPassthroughOff");
            rows.Add(["passthrough:", passthrough is null ? "unknown" : passthrough.Value ? "on (kernel FUSE passthrough)"
                : passthroughOff is null ? "off" : $"off ({passthroughOff}; data goes through the mount process)"]);
            if (Bool(liveMount, "allowOther") is { } others)
                rows.Add(["users:", others ? "all (allow_other; the kernel checks permissions)" : $"only uid {Native.Lstat($"/proc/{mount.Pid}")?.Uid} (no allow_other: the kernel refuses everyone else)"]);
            if (liveMount is not null)
                foreach (var (key, value) in liveMount)
                {
                    if (key is "protocol" or "features" or "kernelPassthrough" or "kernelPassthroughOff" or "allowOther" or "lastSeq" || value is null or JsonObject or JsonArray) continue;
                    rows.Add([key + ":", value.ToString()]);
                }
            if (live?["controlRequests"] is { } rs) rows.Add(["control:", $"{mount.ControlSocket} ({rs} requests served)"]);
            if (liveError is not null) rows.Add(["control:", "not answering: " + liveError]);
        }
        else
        {
            rows.Add(["mounted:", stale ? $"no (stale mount.json: pid {mountFile!.Pid} is gone; `lighthouse unmount` cleans up)" : "no"]);
        }
        rows.Add(["events:", Fmt.N(last) + (lastEvent is null ? "" : $" (last @{lastEvent.Seq} at {Fmt.Time(lastEvent.TimeUtc)} by {lastEvent.Agent})")]);
        rows.Add(["objects:", $"{Fmt.N(objects)} ({Fmt.Size(objectBytes)})"]);
        rows.Add(["store:", $"{Fmt.Size(usage.StoreBytes)} on disk for {Fmt.N(usage.KeptVersions)} kept versions of {Fmt.Size(usage.KeptBytes)}; " +
            $"de-duplication {usage.DedupRatio:0.00}x, compression {usage.CompressionRatio:0.00}x (`lighthouse du` for more)"]);
        rows.Add(["snapshots:", snapshots.Count == 0 ? "none" : $"{snapshots.Count} ({string.Join(", ", snapshots.TakeLast(5).Select(s => $"{s.Name} @{s.Seq}"))}{(snapshots.Count > 5 ? ", ..." : "")})"]);
        rows.Add(["hash chain:", chain.Ok
            ? (chainScope.StartsWith("last", StringComparison.Ordinal)
                ? $"verified ({chainScope}; --verify checks all {Fmt.N(last)})"
                : $"verified ({chainScope}: {Fmt.N(chain.EventsChecked)} events)")
            : $"BROKEN at @{chain.FirstBrokenSeq}: {chain.Problem} (last good event @{chain.LastGoodSeq})"]);
        Fmt.Table(ctx.Out, rows);
        return chain.Ok ? ExitCodes.Ok : ExitCodes.Failure;
    }

    private static string? Str(JsonObject? o, string key) =>
        o is not null && o.TryGetPropertyValue(key, out var v) && v is JsonValue jv && jv.TryGetValue<string>(out var s) ? s : null;

    private static bool? Bool(JsonObject? o, string key) =>
        o is not null && o.TryGetPropertyValue(key, out var v) && v is JsonValue jv && jv.TryGetValue<bool>(out var b) ? b : null;
}
