using System.CommandLine;
using Lighthouse.Cli.Control;
using Lighthouse.Project.Restore;
using Lighthouse.Store;

namespace Lighthouse.Cli.Commands;

/// <summary>
/// `lighthouse restore &lt;path&gt; --at &lt;point&gt;`: brings a file or a directory tree back to what it was at a point,
/// as new events (an undo that is itself undoable).
/// </summary>
public static class RestoreCommand
{
    public static Command Create()
    {
        var project = ProjectLocator.ProjectOption();
        var path = new Argument<string>("path") { Description = "The file or directory to restore, relative to the project root ('.' for the whole project)." };
        var at = new Option<string>("--at") { Description = "The point to restore from: @N (event number), a UTC time (2026-11-25T10:30:00Z) or a snapshot name.", Required = true };
        var dryRun = new Option<bool>("--dry-run", "-n") { Description = "Print what would be done, change nothing." };
        var command = new Command("restore",
            "Bring a file or a directory back to what it was at a point. The old content is written into current/ as new " +
            "changes (so the restore is recorded, attributed to you, and can itself be undone); history is never rewritten. " +
            "A file is written to a temporary name in its directory and renamed over the current one, with its old mode and " +
            "modification time. For a directory, every file of the old tree is restored: missing files and directories are " +
            "created, changed ones overwritten, and files and directories that did not exist at that point are REMOVED " +
            "(use --dry-run to see the list first). While the project is mounted the writes go through the mount " +
            "(<mountpoint>/current/<path>), which records them; otherwise they go to the project directory and are recorded " +
            "directly (agent <user>/lighthouse).\n\n" +
            "Only the store's owner (and root) may restore: the store (.lighthouse/) is private, and the mount does not restore " +
            "for other users. They can copy what they may read from <mountpoint>/history/<point>/ into <mountpoint>/current/.\n\n" +
            "Examples:\n  lighthouse restore src/main.c --at @120\n  lighthouse restore src --at before-refactor --dry-run\n" +
            "  lighthouse restore docs/notes.md --at 2026-11-25T10:30:00Z")
        {
            path, at, project, dryRun,
        };
        command.SetAction(parse => CliRunner.Run(parse, ctx => Run(ctx, parse.GetValue(project), parse.GetValue(path)!, parse.GetValue(at)!, parse.GetValue(dryRun))));
        return command;
    }

    public static int Run(CliContext ctx, string? projectOpt, string userPath, string atText, bool dryRun)
    {
        var projectDir = ProjectLocator.FindInitialised(projectOpt);
        var route = HistoryRoute.Of(projectDir);
        if (!route.Direct)
        {
            // Restoring reads old content from the store, which is its owner's; the mount does not restore for others (it
            // would have to check every file of the old tree against what the caller may read and write).
            var m = MountRegistry.Find(projectDir);
            throw new CliException($"restore reads the store of {projectDir}, which is readable only by its owner" +
                (route.OwnerUid is { } u ? $" (uid {u})" : "") + "; run it as the owner" +
                (m is null ? "" : $". As another user, copy what you may read from {m.MountPoint}/history/<point>/<path> into {m.MountPoint}/current/<path>"),
                ExitCodes.Failure);
        }
        var mount = MountState.ReadLive(projectDir);
        var path = ProjectLocator.ToStorePath(projectDir, userPath, mount);
        var point = CliRunner.ParsePoint(atText, "--at point");

        // With a mount, the writes go through its current/, which records them; we only read history.
        // Without one, we write to the project directory and record through the store ourselves.
        IProjectStore history;
        IRestoreRecorder? recorder = null;
        string root;
        if (mount is not null)
        {
            root = Path.Combine(mount.MountPoint, "current");
            if (!Directory.Exists(root))
                throw new CliException($"the project is mounted (pid {mount.Pid}) but {root} cannot be reached", ExitCodes.Failure);
            history = StoreAccess.OpenReadOnly(projectDir);
        }
        else
        {
            root = projectDir;
            history = StoreAccess.OpenForWriting(projectDir);
            recorder = new StoreRestoreRecorder(history, CliContext.Agent);
        }
        using var _ = history;

        var seq = history.Resolve(point);
        if (history.LookupPath(path, StorePoint.AtEvent(seq)) is null)
            throw new CliException($"'{ProjectLocator.Display(path)}' did not exist as of {Describe(point, seq)}; nothing to restore (to remove it, delete it){ProjectLocator.Hint(projectDir, userPath)}", ExitCodes.Usage);

        if (recorder is not null && !dryRun)
        {
            // Record what changed in the directory since the last record, so the index matches the disk we write to.
            var scope = RestorePlanner.ReconcileScope(projectDir, path);
            using var progress = new ProgressLine(ctx);
            history.Reconcile(new SyncProgress<ReconcileProgress>(p => progress.Report($"checking '{ProjectLocator.Display(scope)}': {p.Phase} {Fmt.N(p.Done)}")), scope);
        }

        var firstSeq = history.LastSeq;
        RestorePlan plan;
        using (var comparing = new ProgressLine(ctx))
        {
            plan = RestorePlanner.Plan(history, root, path, seq, new SyncProgress<RestoreProgress>(p => comparing.Report($"comparing with {Describe(point, seq)}: {Fmt.N(p.Done)} entries")))
                ?? throw new CliException($"'{ProjectLocator.Display(path)}' did not exist as of {Describe(point, seq)}", ExitCodes.Usage);
        }
        if (dryRun)
        {
            foreach (var s in plan.Changes)
                ctx.Out.WriteLine($"{Verb(s),-7} {ProjectLocator.Display(s.Path)}{(s.Reason.Length > 0 ? "  (" + s.Reason + ")" : "")}");
            ctx.Out.WriteLine($"dry run: {plan.ChangeCount} change(s) to restore '{ProjectLocator.Display(path)}' as of {Describe(point, seq)}; nothing was changed");
            return ExitCodes.Ok;
        }

        RestoreResult result;
        using (var progress = new ProgressLine(ctx))
        {
            var runner = new RestoreRunner(history, recorder);
            result = runner.Apply(plan, root, new SyncProgress<RestoreProgress>(p => progress.Report($"restoring: {Fmt.N(p.Done)}/{Fmt.N(p.Total)} {ProjectLocator.Display(p.Path)}")));
        }

        var summary = new List<string>();
        if (result.Overwritten > 0) summary.Add($"{Fmt.N(result.Overwritten)} file(s) overwritten");
        if (result.Created > 0) summary.Add($"{Fmt.N(result.Created)} created");
        var dirs = result.DirectoriesCreated;
        if (dirs > 0) summary.Add($"{Fmt.N(dirs)} director{(dirs == 1 ? "y" : "ies")} created");
        if (result.ModesReset > 0) summary.Add($"{Fmt.N(result.ModesReset)} mode(s) reset");
        if (result.Removed > 0) summary.Add($"{Fmt.N(result.Removed)} removed (did not exist then)");
        if (result.Unchanged > 0) summary.Add($"{Fmt.N(result.Unchanged)} unchanged");
        var failures = result.Failures;
        if (failures.Count > 0) summary.Add($"{Fmt.N(failures.Count)} failed");
        var recorded = mount is not null
            ? "recorded by the mount"
            : history.LastSeq > firstSeq ? $"recorded as events @{firstSeq + 1}..@{history.LastSeq}" : "nothing to record";
        ctx.Out.WriteLine($"restored '{ProjectLocator.Display(path)}' as of {Describe(point, seq)}: {(summary.Count == 0 || summary.Count == 1 && result.Unchanged > 0 ? $"already as it was ({string.Join(", ", summary.DefaultIfEmpty("empty"))}), nothing to do" : string.Join(", ", summary))}; {recorded}");
        if (failures.Count == 0) return ExitCodes.Ok;
        ctx.Err.WriteLine($"lighthouse: {failures.Count} path(s) could not be restored:");
        foreach (var f in failures.Take(20)) ctx.Err.WriteLine($"  {ProjectLocator.Display(f.Path)}: {f.Message}");
        if (failures.Count > 20) ctx.Err.WriteLine($"  ... and {failures.Count - 20} more");
        return ExitCodes.Failure;
    }

    private static string Describe(StorePoint p, long seq) => p.Kind == StorePoint.PointKind.Event ? $"@{seq}" : $"{p} (@{seq})";

    private static string Verb(RestoreStep s) => s.Action switch
    {
        RestoreAction.Mkdir => "mkdir",
        RestoreAction.Create => "create",
        RestoreAction.Overwrite => "write",
        RestoreAction.Chmod => "chmod",
        RestoreAction.Unchanged => "keep",
        _ => "remove",
    };
}
