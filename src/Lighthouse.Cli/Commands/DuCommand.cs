using System.CommandLine;
using System.Text.Json.Nodes;
using Lighthouse.Store;

namespace Lighthouse.Cli.Commands;

/// <summary>`lighthouse du`: what the store takes on disk, what it keeps, and which files' history weighs most.</summary>
public static class DuCommand
{
    public static Command Create()
    {
        var project = ProjectLocator.ProjectOption();
        var top = new Option<int>("--top") { Description = "How many files to list by the size of their kept history.", DefaultValueFactory = _ => 10 };
        var json = ProjectLocator.JsonOption("the figures");
        var c = new Command("du",
            "Show what the project's history takes on disk: the store's size (database and object files), the logical size of " +
            "every kept version added up, how much versions and files share (de-duplication) and how well chunks compress, " +
            "and the files whose kept history is largest. Works while the project is mounted.\n\n" +
            "Examples:\n  lighthouse du\n  lighthouse du --top 20\n  lighthouse du --json")
        {
            project, top, json,
        };
        c.SetAction(parse => CliRunner.Run(parse, ctx => Run(ctx, parse.GetValue(project), parse.GetValue(top), parse.GetValue(json))));
        return c;
    }

    public static int Run(CliContext ctx, string? projectOpt, int top, bool json)
    {
        if (top < 0) throw new CliException("--top must be 0 or more", ExitCodes.Usage);
        var projectDir = ProjectLocator.FindInitialised(projectOpt);
        using var view = StoreAccess.OpenReadOnly(projectDir);
        var u = view.Usage(top);
        if (json)
        {
            ctx.Out.WriteLine(ToJson(u).ToJsonString(Fmt.JsonIndented));
            return ExitCodes.Ok;
        }
        var rows = new List<string[]>
        {
            new[] { "store on disk:", $"{Fmt.Size(u.StoreBytes)} (database {Fmt.Size(u.DatabaseBytes)}, of it {Fmt.Size(u.DatabaseFreeBytes)} free for reuse; object files {Fmt.Size(u.ObjectFileBytes)} in {Fmt.N(u.ObjectFiles)})" },
            new[] { "kept versions:", $"{Fmt.N(u.KeptVersions)}, {Fmt.Size(u.KeptBytes)} if each were a copy" },
            new[] { "distinct content:", $"{Fmt.Size(u.ChunkRawBytes + u.ObjectFileBytes)} ({Fmt.N(u.Chunks)} chunks of {Fmt.Size(u.ChunkRawBytes)}, stored as {Fmt.Size(u.ChunkStoredBytes)}; object files {Fmt.Size(u.ObjectFileBytes)})" },
            new[] { "de-duplication:", $"{u.DedupRatio:0.00}x (kept bytes per distinct byte)" },
            new[] { "compression:", $"{u.CompressionRatio:0.00}x (chunk bytes per stored byte)" },
            new[] { "thinned versions:", $"{Fmt.N(u.PrunedVersions)} (events kept, content no longer kept); {Fmt.N(u.MetadataOnlyVersions)} recorded by metadata only" },
        };
        Fmt.Table(ctx.Out, rows);
        if (u.Largest.Count > 0)
        {
            ctx.Out.WriteLine();
            var t = new List<string[]> { new[] { "KEPT", "VERSIONS", "FILE" } };
            t.AddRange(u.Largest.Select(f => new[] { Fmt.Size(f.Bytes), Fmt.N(f.Versions), f.Path }));
            Fmt.Table(ctx.Out, t);
        }
        return ExitCodes.Ok;
    }

    public static JsonObject ToJson(StoreUsage u)
    {
        var largest = new JsonArray();
        foreach (var f in u.Largest) largest.Add(new JsonObject { ["path"] = f.Path, ["fileId"] = f.FileId, ["versions"] = f.Versions, ["bytes"] = f.Bytes });
        return new JsonObject
        {
            ["storeBytes"] = u.StoreBytes,
            ["databaseBytes"] = u.DatabaseBytes,
            ["databaseFreeBytes"] = u.DatabaseFreeBytes,
            ["objectFiles"] = u.ObjectFiles,
            ["objectFileBytes"] = u.ObjectFileBytes,
            ["chunks"] = u.Chunks,
            ["chunkRawBytes"] = u.ChunkRawBytes,
            ["chunkStoredBytes"] = u.ChunkStoredBytes,
            ["blobs"] = u.Blobs,
            ["blobBytes"] = u.BlobBytes,
            ["keptVersions"] = u.KeptVersions,
            ["keptBytes"] = u.KeptBytes,
            ["prunedVersions"] = u.PrunedVersions,
            ["metadataOnlyVersions"] = u.MetadataOnlyVersions,
            ["dedupRatio"] = Math.Round(u.DedupRatio, 3),
            ["compressionRatio"] = Math.Round(u.CompressionRatio, 3),
            ["largest"] = largest,
        };
    }
}
