using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using Lighthouse.Cli.Control;
using Lighthouse.Store;
using Lighthouse.Store.Retention;

namespace Lighthouse.Cli.Commands;

/// <summary>`lighthouse gc`: thin old versions by the retention policy and remove what nothing refers to.</summary>
public static class GcCommand
{
    public static Command Create()
    {
        var project = ProjectLocator.ProjectOption();
        var dryRun = new Option<bool>("--dry-run") { Description = "Say what would be thinned and freed; change nothing." };
        var keepAll = new Option<string?>("--keep-all") { Description = "Keep every version younger than this (e.g. 7d; default from retention.json, else 7d)." };
        var hourly = new Option<string?>("--hourly") { Description = "Then keep the last version of each hour up to this age (e.g. 30d)." };
        var daily = new Option<string?>("--daily") { Description = "Then keep the last version of each day up to this age, or 'forever' (the default); older versions lose their bytes." };
        var json = ProjectLocator.JsonOption("the report");
        var c = new Command("gc",
            "Thin old versions by the project's retention policy and remove the stored bytes nothing refers to any more.\n\n" +
            "The policy (.lighthouse/retention.json, e.g. {\"keepAll\":\"7d\",\"hourly\":\"30d\",\"daily\":\"forever\",\"gcEvery\":\"6h\"}; " +
            "those are the defaults) keeps every version for keepAll, then the last version of each hour up to hourly, then the last " +
            "of each day up to daily. A file's current version and every version a snapshot shows are always kept. A thinned " +
            "version keeps its event in the log (who, when, the hash of its bytes): history/ and `lighthouse history` say its " +
            "content is no longer kept. The options override the policy for this run.\n\n" +
            "Safe while the project is mounted (the mount runs it, and also runs it in the background every gcEvery) and " +
            "at any moment of a crash: nothing still referenced is ever removed.\n\n" +
            "Examples:\n  lighthouse gc --dry-run\n  lighthouse gc\n  lighthouse gc --keep-all 1d --hourly 7d --daily 90d")
        {
            project, dryRun, keepAll, hourly, daily, json,
        };
        c.SetAction(parse => CliRunner.Run(parse, ctx => Run(ctx, parse.GetValue(project), parse.GetValue(dryRun),
            parse.GetValue(keepAll), parse.GetValue(hourly), parse.GetValue(daily), parse.GetValue(json))));
        return c;
    }

    public static int Run(CliContext ctx, string? projectOpt, bool dryRun, string? keepAll, string? hourly, string? daily, bool json)
    {
        var projectDir = ProjectLocator.FindInitialised(projectOpt);
        var overrides = new JsonObject();
        if (keepAll is not null) overrides["keepAll"] = keepAll;
        if (hourly is not null) overrides["hourly"] = hourly;
        if (daily is not null) overrides["daily"] = daily;
        GcReport report;
        if (MountState.ReadLive(projectDir) is { } mount)
        {
            var r = ControlClient.Call(mount, new JsonObject { ["op"] = "gc", ["dryRun"] = dryRun, ["policy"] = overrides });
            report = r["gc"].Deserialize<GcReport>(ControlJson.Options) ?? throw new CliException("the mount answered gc without a report", ExitCodes.Failure);
        }
        else
        {
            using var store = StoreAccess.OpenForWriting(projectDir);
            var policy = WithOverrides(store.Retention, overrides);
            // Each phase on stderr as it starts: a long collection shows where it is (and a crash test can aim its kills).
            report = store.CollectGarbage(policy, dryRun, progress: phase => { ctx.Err.WriteLine($"lighthouse gc: {phase}"); ctx.Err.Flush(); });
        }
        if (json)
        {
            ctx.Out.WriteLine(JsonSerializer.Serialize(report, ControlJson.Options));
            return ExitCodes.Ok;
        }
        var verb = report.DryRun ? "would free" : "freed";
        ctx.Out.WriteLine($"policy: {report.Policy}");
        ctx.Out.WriteLine($"{(report.DryRun ? "would thin" : "thinned")} {Fmt.N(report.VersionsPruned)} version(s) ({Fmt.Size(report.BytesOfVersionsPruned)} of content; their events stay in the log)");
        ctx.Out.WriteLine($"{verb} {Fmt.Size(report.BytesFreed)}: {Fmt.N(report.ChunksRemoved)} chunk(s) ({Fmt.Size(report.ChunkBytesRemoved)} stored), " +
            $"{Fmt.N(report.BlobsRemoved)} version list(s), {Fmt.N(report.ObjectFilesRemoved)} object file(s) ({Fmt.Size(report.ObjectFileBytesRemoved)})");
        if (!report.DryRun) ctx.Out.WriteLine($"database file shrank by {Fmt.Size(report.DatabaseBytesReleased)}");
        if (report.PinnedKept > 0) ctx.Out.WriteLine($"kept {Fmt.N(report.PinnedKept)} unreferenced item(s) that captures in progress count on (the next gc takes them)");
        ctx.Out.WriteLine($"took {report.Elapsed.TotalSeconds:0.00} s");
        return ExitCodes.Ok;
    }

    /// <summary>The policy with the settings given on the command line (or in a control request) in place of its own.</summary>
    public static RetentionPolicy WithOverrides(RetentionPolicy policy, JsonObject? overrides)
    {
        if (overrides is null || overrides.Count == 0) return policy;
        try
        {
            var merged = new JsonObject
            {
                ["keepAll"] = RetentionPolicy.Format(policy.KeepAll),
                ["hourly"] = RetentionPolicy.Format(policy.Hourly),
                ["daily"] = RetentionPolicy.Format(policy.Daily),
            };
            foreach (var (key, value) in overrides) merged[key] = value?.DeepClone();
            return RetentionPolicy.Parse(merged.ToJsonString());
        }
        catch (FormatException e)
        {
            throw new CliException(e.Message, ExitCodes.Usage);
        }
    }
}
