using System.CommandLine;
using System.Text;
using System.Text.Json.Nodes;
using Lighthouse.Project.History;
using Lighthouse.Store;

namespace Lighthouse.Cli.Commands;

/// <summary>`lighthouse diff &lt;point&gt; [&lt;point&gt;]`: the paths that changed between two points, optionally with patches.</summary>
public static class DiffCommand
{
    public static Command Create()
    {
        var project = ProjectLocator.ProjectOption();
        var json = ProjectLocator.JsonOption("the changes");
        var from = new Argument<string>("from") { Description = "The older point: @N (event number), a UTC time (2026-11-25T10:30:00Z) or a snapshot name." };
        var to = new Argument<string?>("to") { Description = "The newer point (default: latest, the last recorded event).", Arity = ArgumentArity.ZeroOrOne };
        var patch = new Option<bool>("--patch", "-p") { Description = "Also print a unified diff of each changed text file (binary files and files without kept content are named)." };
        var path = new Option<string?>("--path") { Description = "Only changes on this path or under it (relative to the project root)." };
        var command = new Command("diff",
            "List the paths that differ between two points of the project's history (A added, D deleted, M modified, " +
            "R replaced by another file), and with --patch show a unified diff for text files.\n\n" +
            "Other users than the store's owner (whose .lighthouse/ is private) ask the running mount: they see the paths they " +
            "could list at either point (the others are counted as withheld), and a patch side only for a file they could read " +
            "at that point ('content as of @N withheld: no read permission as of @N' otherwise); when the project is not " +
            "mounted they are told to ask the owner.\n\n" +
            "Examples:\n  lighthouse diff v1                     # snapshot v1 against now\n  lighthouse diff @120 @180 --patch\n" +
            "  lighthouse diff 2026-11-25T10:30:00Z --path src --json")
        {
            from, to, project, patch, path, json,
        };
        command.SetAction(parse => CliRunner.Run(parse, ctx => Run(ctx, parse.GetValue(project), parse.GetValue(from)!, parse.GetValue(to),
            parse.GetValue(patch), parse.GetValue(path), parse.GetValue(json))));
        return command;
    }

    public static int Run(CliContext ctx, string? projectOpt, string fromText, string? toText, bool patch, string? pathFilter, bool json)
    {
        var projectDir = ProjectLocator.FindInitialised(projectOpt);
        var route = HistoryRoute.Of(projectDir);
        if (!route.Direct)
        {
            var prefix = pathFilter is null ? null : ProjectLocator.ToStorePath(projectDir, pathFilter, route.RequireMount("diff"));
            return route.Ask(ctx, "diff", new JsonObject { ["op"] = "diff", ["from"] = fromText, ["to"] = toText, ["patch"] = patch, ["path"] = prefix, ["json"] = json });
        }
        using var view = StoreAccess.OpenReadOnly(projectDir);
        var storePrefix = pathFilter is null ? null : ProjectLocator.ToStorePath(projectDir, pathFilter, MountState.ReadLive(projectDir));
        return Print(ctx, view, null, fromText, toText, patch, storePrefix, json);
    }

    /// <summary>
    /// Prints the changes between two points. With <paramref name="access"/> (another user, asking the mount), a path
    /// is listed only if that user could list its directory at either end, and a side of a patch only if it could read
    /// the file at that point ("content withheld" otherwise).
    /// </summary>
    public static int Print(CliContext ctx, IProjectStore view, HistoryAccess? access, string fromText, string? toText, bool patch, string? prefix, bool json)
    {
        var fromPoint = CliRunner.ParsePoint(fromText, "point");
        var toPoint = toText is null ? StorePoint.Latest : CliRunner.ParsePoint(toText, "point");
        var fromSeq = view.Resolve(fromPoint);
        var toSeq = view.Resolve(toPoint);
        // Always compare older → newer, whatever the order given.
        if (fromSeq > toSeq) (fromSeq, toSeq, fromPoint, toPoint) = (toSeq, fromSeq, toPoint, fromPoint);
        var a = StorePoint.AtEvent(fromSeq);
        var b = StorePoint.AtEvent(toSeq);

        var all = view.Changed(a, b)
            .Where(c => prefix is null || prefix.Length == 0 || c.Path == prefix || c.Path.StartsWith(prefix + "/", StringComparison.Ordinal))
            .ToList();
        var changes = access is null ? all : all.Where(c => c.FileIdBefore is not null && access.CanSeeName(c.Path, fromSeq)
                                                            || c.FileIdAfter is not null && access.CanSeeName(c.Path, toSeq)).ToList();
        var withheld = all.Count - changes.Count;

        var items = new List<(ChangedPath Change, FileKind? KindBefore, FileKind? KindAfter)>();
        foreach (var c in changes)
            items.Add((c, c.FileIdBefore is null ? null : view.LookupPath(c.Path, a)?.Kind, c.FileIdAfter is null ? null : view.LookupPath(c.Path, b)?.Kind));

        string Label(StorePoint p, long seq) => p.Kind is StorePoint.PointKind.Snapshot or StorePoint.PointKind.Latest ? $"@{seq} ({p})" : $"@{seq}";

        if (json)
        {
            var arr = new JsonArray();
            foreach (var (c, kb, ka) in items)
            {
                var o = new JsonObject
                {
                    ["path"] = c.Path, ["change"] = c.Change.ToString().ToLowerInvariant(),
                    ["kindBefore"] = kb?.ToString().ToLowerInvariant(), ["kindAfter"] = ka?.ToString().ToLowerInvariant(),
                    ["fileIdBefore"] = c.FileIdBefore, ["fileIdAfter"] = c.FileIdAfter,
                };
                if (patch && (kb ?? ka) is FileKind.File or FileKind.Symlink)
                {
                    var (text, note) = Patch(view, access, c, kb, ka, a, b, fromSeq, toSeq);
                    o["patch"] = text;
                    o["patchNote"] = note;
                }
                arr.Add(o);
            }
            var result = new JsonObject { ["from"] = fromSeq, ["to"] = toSeq, ["changes"] = arr };
            if (withheld > 0) result["withheld"] = withheld;
            ctx.Out.WriteLine(result.ToJsonString(Fmt.JsonIndented));
            return ExitCodes.Ok;
        }

        ctx.Out.WriteLine($"changes from {Label(fromPoint, fromSeq)} to {Label(toPoint, toSeq)}: {items.Count} path(s)" +
            (withheld > 0 ? $" ({withheld} more withheld: in directories you could not list)" : ""));
        foreach (var (c, kb, ka) in items)
        {
            var letter = c.Change switch { ChangeKind.Added => "A", ChangeKind.Deleted => "D", ChangeKind.Modified => "M", _ => "R" };
            var dir = (ka ?? kb) == FileKind.Directory ? "/" : "";
            var kindChange = kb is not null && ka is not null && kb != ka ? $"  ({kb.ToString()!.ToLowerInvariant()} -> {ka.ToString()!.ToLowerInvariant()})" : "";
            ctx.Out.WriteLine($"{letter}  {c.Path}{dir}{kindChange}");
        }
        if (!patch) return ExitCodes.Ok;
        foreach (var (c, kb, ka) in items)
        {
            if ((kb ?? ka) is not (FileKind.File or FileKind.Symlink) && (ka ?? kb) is not (FileKind.File or FileKind.Symlink)) continue;
            var (text, note) = Patch(view, access, c, kb, ka, a, b, fromSeq, toSeq);
            ctx.Out.WriteLine();
            ctx.Out.WriteLine($"diff --lighthouse a/{c.Path} b/{c.Path}");
            if (note is not null) ctx.Out.WriteLine(note);
            if (text is not null) ctx.Out.Write(text);
        }
        return ExitCodes.Ok;
    }

    /// <summary>The unified diff of one changed file, or a note saying why there is none.</summary>
    private static (string? Patch, string? Note) Patch(IProjectStore view, HistoryAccess? access, ChangedPath c, FileKind? kb, FileKind? ka,
        StorePoint a, StorePoint b, long fromSeq, long toSeq)
    {
        byte[]? before = null, after = null;
        var notes = new List<string>();
        if (kb is FileKind.File or FileKind.Symlink) before = Read(view, access, c.Path, fromSeq, notes);
        if (ka is FileKind.File or FileKind.Symlink) after = Read(view, access, c.Path, toSeq, notes);
        if (notes.Count > 0) return (null, string.Join("\n", notes));
        before ??= [];
        after ??= [];
        if (!UnifiedDiff.IsText(before) || !UnifiedDiff.IsText(after))
            return (null, before.AsSpan().SequenceEqual(after) ? "contents identical (metadata changed)" : $"Binary files a/{c.Path} and b/{c.Path} differ");
        var oldLabel = kb is null ? "/dev/null" : $"a/{c.Path}\t@{fromSeq}";
        var newLabel = ka is null ? "/dev/null" : $"b/{c.Path}\t@{toSeq}";
        var text = UnifiedDiff.Format(Encoding.UTF8.GetString(before), Encoding.UTF8.GetString(after), oldLabel, newLabel);
        return text.Length == 0 ? (null, "contents identical (metadata changed)") : (text, null);
    }

    private static byte[]? Read(IProjectStore view, HistoryAccess? access, string path, long seq, List<string> notes)
    {
        var p = StorePoint.AtEvent(seq);
        if (access is not null && !access.CanReadContent(path, seq))
        {
            notes.Add($"content as of @{seq} {HistoryAccess.Withheld(seq)}");
            return null;
        }
        try
        {
            var content = view.Content(path, p);
            if (!content.IsAvailable)
            {
                notes.Add($"content as of {p} not available: {content.Unavailable}");
                return null;
            }
            if (content.Version.Size > UnifiedDiff.MaxTextBytes)
            {
                notes.Add($"not diffed: {Fmt.Size(content.Version.Size)} is larger than {Fmt.Size(UnifiedDiff.MaxTextBytes)}");
                return null;
            }
            return Lighthouse.Project.History.ProjectHistory.ReadAll(view, content, p.ToString());
        }
        catch (StoreException e)
        {
            notes.Add($"content as of {p} not available: {e.Message}");
            return null;
        }
    }
}
