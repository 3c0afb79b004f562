using System.CommandLine;
using System.Security.Cryptography;
using System.Text;
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
            "Examples:\n  lighthouse restore src/main.c --at @120\n  lighthouse restore src --at before-refactor --dry-run\n" +
            "  lighthouse restore docs/notes.md --at 2026-11-25T10:30:00Z")
        {
            path, at, project, dryRun,
        };
        command.SetAction(parse => CliRunner.Run(parse, ctx => Run(ctx, parse.GetValue(project), parse.GetValue(path)!, parse.GetValue(at)!, parse.GetValue(dryRun))));
        return command;
    }

    private enum StepKind { Mkdir, Write, Chmod, Remove }

    private sealed record Step(StepKind Kind, string Path, NodeVersion? Old, FileKind CurrentKind, bool Exists, string Why);

    public static int Run(CliContext ctx, string? projectOpt, string userPath, string atText, bool dryRun)
    {
        var projectDir = ProjectLocator.FindInitialised(projectOpt);
        var mount = MountState.ReadLive(projectDir);
        var path = ProjectLocator.ToStorePath(projectDir, userPath, mount);
        var point = CliRunner.ParsePoint(atText, "--at point");

        IProjectStore? store = null;
        IProjectStore view;
        string root;
        if (mount is not null)
        {
            root = Path.Combine(mount.MountPoint, "current");
            if (!Directory.Exists(root))
                throw new CliException($"the project is mounted (pid {mount.Pid}) but {root} cannot be reached", ExitCodes.Failure);
            view = StoreAccess.OpenReadOnly(projectDir); // the mount owns the store; we only read history
        }
        else
        {
            root = projectDir;
            store = StoreAccess.OpenForWriting(projectDir);
            view = store;
        }
        using var _ = view;

        var seq = view.Resolve(point);
        var at = StorePoint.AtEvent(seq);
        var oldRoot = view.LookupPath(path, at)
            ?? throw new CliException($"'{ProjectLocator.Display(path)}' did not exist as of {Describe(point, seq)}; nothing to restore (to remove it, delete it){ProjectLocator.Hint(projectDir, userPath)}", ExitCodes.Usage);

        if (store is not null && !dryRun)
        {
            // Record what changed in the directory since the last record, so the index matches the disk we write to.
            var scope = NearestExistingDir(projectDir, StorePath.Parent(path));
            using var progress = new ProgressLine(ctx);
            store.Reconcile(new SyncProgress<ReconcileProgress>(p => progress.Report($"checking '{ProjectLocator.Display(scope)}': {p.Phase} {Fmt.N(p.Done)}")), scope);
        }

        var firstSeq = view.LastSeq;
        List<Step> plan;
        using (var comparing = new ProgressLine(ctx))
        {
            var compared = 0;
            plan = Plan(view, root, path, oldRoot, at, () => comparing.Report($"comparing with {Describe(point, seq)}: {Fmt.N(++compared)} entries"));
        }
        var changes = plan.Count(s => s.Kind != StepKind.Write || s.Why != "unchanged");
        if (dryRun)
        {
            foreach (var s in plan.Where(s => s.Why != "unchanged"))
                ctx.Out.WriteLine($"{Verb(s),-7} {ProjectLocator.Display(s.Path)}{(s.Why.Length > 0 ? "  (" + s.Why + ")" : "")}");
            ctx.Out.WriteLine($"dry run: {changes} change(s) to restore '{ProjectLocator.Display(path)}' as of {Describe(point, seq)}; nothing was changed");
            return ExitCodes.Ok;
        }

        var agent = CliContext.Agent;
        var failures = new List<string>();
        int written = 0, created = 0, removed = 0, chmods = 0, dirs = 0, unchanged = 0, done = 0;
        var total = plan.Count;
        using (var progress = new ProgressLine(ctx))
        {
            foreach (var step in plan)
            {
                done++;
                progress.Report($"restoring: {Fmt.N(done)}/{Fmt.N(total)} {ProjectLocator.Display(step.Path)}");
                if (step.Why == "unchanged") { unchanged++; continue; }
                try
                {
                    switch (step.Kind)
                    {
                        case StepKind.Mkdir:
                            Mkdir(store, agent, root, step);
                            dirs++;
                            break;
                        case StepKind.Write:
                            WriteFile(store, view, agent, root, step, at);
                            if (step.Exists) written++; else created++;
                            break;
                        case StepKind.Chmod:
                            var abs = Abs(root, step.Path);
                            if (step.CurrentKind != FileKind.Symlink) File.SetUnixFileMode(abs, (UnixFileMode)(step.Old!.Attributes.Mode & 0xFFF));
                            store?.RecordSetAttributes(agent, step.Path);
                            chmods++;
                            break;
                        case StepKind.Remove:
                            Remove(store, agent, root, step);
                            removed++;
                            break;
                    }
                }
                catch (Exception e) when (e is StoreException or IOException or UnauthorizedAccessException)
                {
                    failures.Add($"{ProjectLocator.Display(step.Path)}: {e.Message}");
                    if (step.Kind == StepKind.Mkdir) break; // what follows lives in it
                }
            }
        }

        var summary = new List<string>();
        if (written > 0) summary.Add($"{Fmt.N(written)} file(s) overwritten");
        if (created > 0) summary.Add($"{Fmt.N(created)} created");
        if (dirs > 0) summary.Add($"{Fmt.N(dirs)} director{(dirs == 1 ? "y" : "ies")} created");
        if (chmods > 0) summary.Add($"{Fmt.N(chmods)} mode(s) reset");
        if (removed > 0) summary.Add($"{Fmt.N(removed)} removed (did not exist then)");
        if (unchanged > 0) summary.Add($"{Fmt.N(unchanged)} unchanged");
        if (failures.Count > 0) summary.Add($"{Fmt.N(failures.Count)} failed");
        var recorded = mount is not null
            ? "recorded by the mount"
            : view.LastSeq > firstSeq ? $"recorded as events @{firstSeq + 1}..@{view.LastSeq}" : "nothing to record";
        ctx.Out.WriteLine($"restored '{ProjectLocator.Display(path)}' as of {Describe(point, seq)}: {(summary.Count == 0 || summary.Count == 1 && unchanged > 0 ? $"already as it was ({string.Join(", ", summary.DefaultIfEmpty("empty"))}), nothing to do" : string.Join(", ", summary))}; {recorded}");
        if (failures.Count == 0) return ExitCodes.Ok;
        ctx.Err.WriteLine($"lighthouse: {failures.Count} path(s) could not be restored:");
        foreach (var f in failures.Take(20)) ctx.Err.WriteLine("  " + f);
        if (failures.Count > 20) ctx.Err.WriteLine($"  ... and {failures.Count - 20} more");
        return ExitCodes.Failure;
    }

    private static string Describe(StorePoint p, long seq) => p.Kind == StorePoint.PointKind.Event ? $"@{seq}" : $"{p} (@{seq})";

    private static string Verb(Step s) => s.Kind switch
    {
        StepKind.Mkdir => "mkdir",
        StepKind.Write => s.Exists ? "write" : "create",
        StepKind.Chmod => "chmod",
        _ => "remove",
    };

    private static string Abs(string root, string path) => path.Length == 0 ? root : Path.Combine(root, path);

    private static string NearestExistingDir(string projectDir, string dir)
    {
        while (dir.Length > 0 && !Directory.Exists(Path.Combine(projectDir, dir))) dir = StorePath.Parent(dir);
        return dir;
    }

    // ------------------------------------------------------------------ planning

    private static List<Step> Plan(IProjectStore view, string root, string path, DirEntry oldRoot, StorePoint at, Action tick)
    {
        var plan = new List<Step>();
        // Parents that are missing now are created with their old modes.
        var missing = new Stack<string>();
        for (var p = StorePath.Parent(path); p.Length > 0 && path.Length > 0; p = StorePath.Parent(p))
        {
            var cur = Native.Lstat(Abs(root, p));
            if (cur is { Kind: FileKind.Directory }) break;
            missing.Push(p);
        }
        while (missing.Count > 0)
        {
            var p = missing.Pop();
            var cur = Native.Lstat(Abs(root, p));
            if (cur is not null) RemoveTree(root, p, cur.Kind, plan, "in the way of a directory");
            plan.Add(new Step(StepKind.Mkdir, p, view.Attributes(p, at), FileKind.Directory, false, "missing parent"));
        }
        var removals = new List<Step>();
        PlanNode(view, root, path, oldRoot.Kind, at, plan, removals, tick);
        plan.AddRange(removals);
        return plan;
    }

    private static void PlanNode(IProjectStore view, string root, string path, FileKind oldKind, StorePoint at, List<Step> plan, List<Step> removals, Action tick)
    {
        tick();
        var old = view.Attributes(path, at);
        var abs = Abs(root, path);
        var cur = Native.Lstat(abs);
        if (cur is not null && cur.Kind != oldKind)
        {
            RemoveTree(root, path, cur.Kind, plan, $"was a {oldKind.ToString().ToLowerInvariant()}");
            cur = null;
        }
        if (oldKind == FileKind.Directory)
        {
            if (cur is null) plan.Add(new Step(StepKind.Mkdir, path, old, FileKind.Directory, false, ""));
            else if ((cur.Mode & 0xFFF) != (old.Attributes.Mode & 0xFFF)) plan.Add(new Step(StepKind.Chmod, path, old, FileKind.Directory, true, $"mode {Fmt.Mode(cur.Mode)} -> {Fmt.Mode(old.Attributes.Mode)}"));
            var children = view.List(path, at);
            var names = new HashSet<string>(children.Select(c => c.Name), StringComparer.Ordinal);
            foreach (var child in children)
                PlanNode(view, root, StorePath.Combine(path, child.Name), child.Kind, at, plan, removals, tick);
            if (cur is null) return;
            // What is in the directory now and was not then goes (children first).
            foreach (var entry in new DirectoryInfo(abs).EnumerateFileSystemInfos("*", new EnumerationOptions { AttributesToSkip = 0, ReturnSpecialDirectories = false, IgnoreInaccessible = false }))
            {
                if (path.Length == 0 && entry.Name == StoreConstants.StateDirName) continue;
                if (names.Contains(entry.Name)) continue;
                var childPath = StorePath.Combine(path, entry.Name);
                var st = Native.Lstat(entry.FullName);
                if (st is null) continue;
                RemoveTree(root, childPath, st.Kind, removals, "did not exist then");
            }
            return;
        }
        if (oldKind is FileKind.File or FileKind.Symlink)
        {
            if (cur is null) { plan.Add(new Step(StepKind.Write, path, old, oldKind, false, "")); return; }
            var same = SameContent(view, abs, cur, path, old, at);
            if (!same) plan.Add(new Step(StepKind.Write, path, old, cur.Kind, true, "content differs"));
            else if (oldKind == FileKind.File && (cur.Mode & 0xFFF) != (old.Attributes.Mode & 0xFFF))
                plan.Add(new Step(StepKind.Chmod, path, old, cur.Kind, true, $"mode {Fmt.Mode(cur.Mode)} -> {Fmt.Mode(old.Attributes.Mode)}"));
            else plan.Add(new Step(StepKind.Write, path, old, cur.Kind, true, "unchanged"));
        }
        // FileKind.Other (fifo, device...): nothing to restore.
    }

    private static void RemoveTree(string root, string path, FileKind kind, List<Step> into, string why)
    {
        if (kind == FileKind.Directory)
        {
            foreach (var entry in new DirectoryInfo(Abs(root, path)).EnumerateFileSystemInfos("*", new EnumerationOptions { AttributesToSkip = 0, ReturnSpecialDirectories = false }))
            {
                var st = Native.Lstat(entry.FullName);
                if (st is not null) RemoveTree(root, StorePath.Combine(path, entry.Name), st.Kind, into, why);
            }
        }
        into.Add(new Step(StepKind.Remove, path, null, kind, true, why));
    }

    private static bool SameContent(IProjectStore view, string abs, NodeAttributes cur, string path, NodeVersion old, StorePoint at)
    {
        if (old.Kind == FileKind.Symlink)
        {
            var target = new FileInfo(abs).LinkTarget;
            var content = view.Content(path, at);
            if (!content.IsAvailable) return target is not null && cur.Size == old.Size && cur.MtimeNs == old.Attributes.MtimeNs;
            return target == Encoding.UTF8.GetString(Lighthouse.Project.History.ProjectHistory.ReadAll(content, at.ToString()));
        }
        if (cur.Size != old.Size) return false;
        if (old.ContentState == ContentState.Captured && old.ContentHash is not null)
            return HashFile(abs) == old.ContentHash;
        var c = view.Content(path, at);
        if (c.LivePath is not null && Path.GetFullPath(c.LivePath) == Path.GetFullPath(abs)) return true;
        if (c.IsAvailable)
        {
            using var a = Lighthouse.Project.History.ProjectHistory.Open(c, at.ToString());
            using var b = new FileStream(abs, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 16);
            return SameStream(a, b);
        }
        // Bytes not kept: judge by metadata (same inode, size and mtime means never rewritten).
        return cur.Inode == old.Attributes.Inode && cur.MtimeNs == old.Attributes.MtimeNs;
    }

    private static string HashFile(string path)
    {
        using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 16);
        return Convert.ToHexStringLower(SHA256.HashData(f));
    }

    private static bool SameStream(Stream a, Stream b)
    {
        var ba = new byte[1 << 16];
        var bb = new byte[1 << 16];
        while (true)
        {
            var na = a.ReadAtLeast(ba, ba.Length, throwOnEndOfStream: false);
            var nb = b.ReadAtLeast(bb, bb.Length, throwOnEndOfStream: false);
            if (na != nb || !ba.AsSpan(0, na).SequenceEqual(bb.AsSpan(0, nb))) return false;
            if (na == 0) return true;
        }
    }

    // ------------------------------------------------------------------ doing

    private static void Mkdir(IProjectStore? store, string agent, string root, Step step)
    {
        var abs = Abs(root, step.Path);
        Directory.CreateDirectory(abs);
        File.SetUnixFileMode(abs, (UnixFileMode)(step.Old!.Attributes.Mode & 0xFFF));
        store?.RecordCreate(agent, step.Path);
    }

    private static void WriteFile(IProjectStore? store, IProjectStore view, string agent, string root, Step step, StorePoint at)
    {
        var old = step.Old!;
        var content = view.Content(step.Path, at);
        if (!content.IsAvailable) throw new ContentUnavailableException(step.Path, at.ToString(), content.Unavailable ?? "unknown reason");
        var abs = Abs(root, step.Path);
        var dir = Path.GetDirectoryName(abs)!;
        var tmp = Path.Combine(dir, $".{Path.GetFileName(abs)}.lighthouse-restore-{Environment.ProcessId}");
        if (step.Exists) store?.CaptureBeforeModify(agent, step.Path);
        try
        {
            if (old.Kind == FileKind.Symlink)
            {
                var target = Encoding.UTF8.GetString(Lighthouse.Project.History.ProjectHistory.ReadAll(content, at.ToString()));
                File.CreateSymbolicLink(tmp, target);
            }
            else
            {
                using (var src = Lighthouse.Project.History.ProjectHistory.Open(content, at.ToString()))
                using (var dst = new FileStream(tmp, new FileStreamOptions
                       {
                           Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None, BufferSize = 1 << 16,
                           UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
                       }))
                {
                    src.CopyTo(dst);
                    dst.Flush(true);
                }
                File.SetUnixFileMode(tmp, (UnixFileMode)(old.Attributes.Mode & 0xFFF));
            }
            Native.SetMtime(tmp, old.Attributes.MtimeNs);
            File.Move(tmp, abs, overwrite: true);
        }
        catch
        {
            try { File.Delete(tmp); } catch (IOException) { }
            throw;
        }
        if (store is null) return;
        if (step.Exists) store.RecordWrite(agent, step.Path);
        else store.RecordCreate(agent, step.Path);
    }

    private static void Remove(IProjectStore? store, string agent, string root, Step step)
    {
        var abs = Abs(root, step.Path);
        if (step.CurrentKind == FileKind.Directory)
        {
            Directory.Delete(abs, recursive: false);
        }
        else
        {
            // Save bytes never captured before they go, so this removal can be undone too.
            store?.CaptureBeforeModify(agent, step.Path);
            File.Delete(abs);
        }
        store?.RecordUnlink(agent, step.Path);
    }
}
