using System.CommandLine;
using System.Diagnostics;
using Lighthouse.Store;

namespace Lighthouse.Cli.Commands;

/// <summary>`lighthouse init [project-dir]`: create .lighthouse/ and record the baseline of the tree (metadata only).</summary>
public static class InitCommand
{
    public static Command Create()
    {
        var dir = new Argument<string?>("project-dir")
        {
            Description = "The project directory (default: the current directory).",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var command = new Command("init",
            "Make a directory a Lighthouse project: create <project-dir>/.lighthouse/ (event log, objects) and record a baseline " +
            "of every file and directory in it (metadata only: file contents are captured later, before their first change " +
            "through Lighthouse). Running it again on a project that is already initialised changes nothing.\n\n" +
            "Examples:\n  lighthouse init                 # the current directory\n  lighthouse init ~/src/myproject")
        {
            dir,
        };
        command.SetAction(parse => CliRunner.Run(parse, ctx => Run(ctx, parse.GetValue(dir))));
        return command;
    }

    public static int Run(CliContext ctx, string? dirArg)
    {
        var projectDir = Path.TrimEndingDirectorySeparator(Path.GetFullPath(string.IsNullOrEmpty(dirArg) ? "." : dirArg));
        if (!Directory.Exists(projectDir))
            throw new CliException(File.Exists(projectDir) ? $"{projectDir} is a file, not a directory" : $"directory {projectDir} does not exist", ExitCodes.Usage);

        if (StoreAccess.Stores.Exists(projectDir))
        {
            using var view = StoreAccess.OpenReadOnly(projectDir);
            var last = view.LastSeq;
            var lastEvent = last > 0 ? view.Log(new LogQuery { Limit = 1 }).Events.FirstOrDefault() : null;
            var mounted = MountState.ReadLive(projectDir) is { } m ? $"; mounted on {m.MountPoint} (pid {m.Pid})" : "";
            ctx.Out.WriteLine($"{projectDir} is already a Lighthouse project: {Fmt.N(last)} events" +
                              (lastEvent is null ? "" : $", the last @{lastEvent.Seq} at {Fmt.Time(lastEvent.TimeUtc)}") + mounted + ". Nothing to do.");
            return ExitCodes.Ok;
        }
        for (var up = Path.GetDirectoryName(projectDir); up is not null; up = Path.GetDirectoryName(up))
        {
            if (StoreAccess.Stores.Exists(up))
                throw new CliException($"{projectDir} is inside the Lighthouse project {up}; its files are already recorded there", ExitCodes.Usage);
        }

        var sw = Stopwatch.StartNew();
        var (files, dirs, bytes) = Scan(ctx, projectDir);

        ReconcileReport report;
        using (var progress = new ProgressLine(ctx))
        using (var timer = new Timer(_ => progress.Report($"recording the baseline of {Fmt.N(files + dirs)} entries... {sw.Elapsed.TotalSeconds:0}s"), null, 500, 500))
        {
            IProjectStore store;
            try
            {
                store = StoreAccess.Stores.Open(projectDir, new StoreOptions());
            }
            catch (StoreLockedException)
            {
                throw new CliException($"the store of {projectDir} is being created by another process", ExitCodes.Failure);
            }
            using (store)
                report = store.OpenReport ?? throw new CliException($"{projectDir}: the store was already initialised by another process", ExitCodes.Failure);
        }

        var events = report.Events;
        var range = events.Count > 0 ? $"@1..@{events[^1].Seq}" : "@1";
        ctx.Out.WriteLine($"Initialised Lighthouse project {projectDir}");
        ctx.Out.WriteLine($"  baseline: {Fmt.N(files)} files, {Fmt.N(dirs)} directories, {Fmt.Size(bytes)} (metadata only), events {range}");
        ctx.Out.WriteLine($"  store:    {Path.Combine(projectDir, StoreConstants.StateDirName)}/");
        ctx.Out.WriteLine($"  took:     {sw.Elapsed.TotalSeconds:0.0} s");
        if (report.Skipped.Count > 0)
        {
            ctx.Err.WriteLine($"lighthouse: skipped {Fmt.N(report.Skipped.Count)} name(s) the store cannot record:");
            foreach (var s in report.Skipped.Take(10)) ctx.Err.WriteLine("  " + s);
            if (report.Skipped.Count > 10) ctx.Err.WriteLine($"  ... and {Fmt.N(report.Skipped.Count - 10)} more");
        }
        ctx.Out.WriteLine($"Next: lighthouse mount {projectDir}");
        return ExitCodes.Ok;
    }

    /// <summary>Counts the tree (skipping .lighthouse/ and not following symlinks), with progress.</summary>
    private static (long Files, long Dirs, long Bytes) Scan(CliContext ctx, string root)
    {
        long files = 0, dirs = 0, bytes = 0;
        using var progress = new ProgressLine(ctx);
        var stack = new Stack<DirectoryInfo>();
        stack.Push(new DirectoryInfo(root));
        var options = new EnumerationOptions { IgnoreInaccessible = true, AttributesToSkip = 0, RecurseSubdirectories = false, ReturnSpecialDirectories = false };
        while (stack.Count > 0)
        {
            var d = stack.Pop();
            IEnumerable<FileSystemInfo> entries;
            try { entries = d.EnumerateFileSystemInfos("*", options); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { continue; }
            foreach (var e in entries)
            {
                if (e is DirectoryInfo sub && e.LinkTarget is null)
                {
                    if (d.FullName == root && e.Name == StoreConstants.StateDirName) continue;
                    dirs++;
                    stack.Push(sub);
                }
                else
                {
                    files++;
                    if (e is FileInfo f && e.LinkTarget is null) bytes += f.Length;
                    if ((files & 1023) == 0) progress.Report($"scanned {Fmt.N(files)} files");
                }
            }
        }
        return (files, dirs, bytes);
    }
}
