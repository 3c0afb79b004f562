using System.CommandLine;
using System.Diagnostics;
using Lighthouse.Fuse.Mounting;

namespace Lighthouse.Cli.Commands;

/// <summary>`lighthouse unmount [mountpoint]`: unmount a Lighthouse mount (or clean up a stale one) and wait for its process.</summary>
public static class UnmountCommand
{
    public static Command Create()
    {
        var mountPoint = new Argument<string?>("mountpoint")
        {
            Description = $"The mount point (default: the one in the project's mount.json, else {ProjectLocator.DefaultMountPoint}).",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var project = ProjectLocator.ProjectOption();
        var timeout = new Option<double>("--timeout") { Description = "Seconds to wait for the mount process to exit.", DefaultValueFactory = _ => 10.0 };
        var command = new Command("unmount",
            "Unmount a Lighthouse mount and wait for its mount process to finish. If the mount point is busy (a shell or " +
            "program still uses it), it is detached lazily: it disappears from the namespace at once and is released when " +
            "the last user leaves (you are told so). A stale mount whose process died is cleaned up, and so is a stale " +
            "mount.json.\n\n" +
            "Examples:\n  lighthouse unmount\n  lighthouse unmount /mnt/lighthouse/project\n  lighthouse unmount --project ~/src/myproject")
        {
            mountPoint, project, timeout,
        };
        command.SetAction(parse => CliRunner.Run(parse, ctx => Run(ctx, parse.GetValue(mountPoint), parse.GetValue(project), parse.GetValue(timeout))));
        return command;
    }

    public static int Run(CliContext ctx, string? mountPointArg, string? projectOpt, double timeoutSeconds)
    {
        // Which project (for mount.json and the pid): --project, the mount's source, or the current directory.
        string? projectDir = projectOpt is null ? null : ProjectLocator.Find(projectOpt);
        MountState? state = projectDir is null ? null : MountState.Read(projectDir);
        var mountPoint = mountPointArg ?? state?.MountPoint;
        if (mountPoint is null)
        {
            try
            {
                projectDir = ProjectLocator.Find(null);
                state = MountState.Read(projectDir);
                mountPoint = state?.MountPoint;
            }
            catch (CliException) { }
        }
        mountPoint = Path.TrimEndingDirectorySeparator(Path.GetFullPath(mountPoint ?? ProjectLocator.DefaultMountPoint));
        if (state is null || Path.TrimEndingDirectorySeparator(state.MountPoint) != mountPoint)
        {
            var source = MountSource(mountPoint);
            if (source is not null && MountState.Read(source) is { } s && Path.TrimEndingDirectorySeparator(s.MountPoint) == mountPoint)
            {
                projectDir = source;
                state = s;
            }
            else if (state is not null && Path.TrimEndingDirectorySeparator(state.MountPoint) != mountPoint)
            {
                state = null;
            }
        }

        var mounted = FuseMounter.IsMounted(mountPoint);
        if (!mounted)
        {
            if (state is not null && projectDir is not null)
            {
                if (!state.IsAlive)
                {
                    MountState.Delete(projectDir);
                    ctx.Out.WriteLine($"{mountPoint} is not mounted; removed the stale mount.json of {projectDir} (pid {state.Pid} is gone)");
                    return ExitCodes.Ok;
                }
                throw new CliException($"{mountPoint} is not mounted, but its mount process (pid {state.Pid}) is still running; stop it with: kill {state.Pid}", ExitCodes.Failure);
            }
            throw new CliException($"nothing is mounted on {mountPoint}", ExitCodes.Failure);
        }

        // A mount whose daemon is gone answers ENOTCONN: FuseMounter cleans that up (and leaves live mounts alone).
        var stale = FuseMounter.CleanUpStale(mountPoint);
        if (stale.WasStale)
        {
            if (!stale.CleanedUp) throw new CliException(stale.Message, ExitCodes.Failure);
            ctx.Out.WriteLine(stale.Message);
            if (state is not null && projectDir is not null && !state.IsAlive) MountState.Delete(projectDir);
            return ExitCodes.Ok;
        }

        var lazy = Unmount(mountPoint);
        ctx.Out.WriteLine(lazy
            ? $"{mountPoint} was busy (a process still has files or its working directory there): detached it lazily; the mount is gone from the namespace and is released when its last user leaves"
            : $"unmounted {mountPoint}");

        if (state is not null && projectDir is not null)
        {
            var sw = Stopwatch.StartNew();
            var limit = TimeSpan.FromSeconds(Math.Max(0, timeoutSeconds));
            using var progress = new ProgressLine(ctx);
            while (MountState.IsProcessAlive(state.Pid) && sw.Elapsed < limit)
            {
                progress.Report($"waiting for the mount process (pid {state.Pid}) to finish... {sw.Elapsed.TotalSeconds:0}s");
                Thread.Sleep(100);
            }
            if (MountState.IsProcessAlive(state.Pid))
            {
                ctx.Err.WriteLine($"lighthouse: the mount process (pid {state.Pid}) is still running after {limit.TotalSeconds:0} s" +
                                  (lazy ? " (a lazily detached mount ends when its last user leaves)" : "") + $"; `kill {state.Pid}` stops it");
                return ExitCodes.Failure;
            }
            if (MountState.Read(projectDir) is { } left && left.Pid == state.Pid) MountState.Delete(projectDir);
            ctx.Out.WriteLine($"the mount process (pid {state.Pid}) has exited");
        }
        return ExitCodes.Ok;
    }

    /// <summary>Unmounts; returns true if it had to detach lazily because the mount was busy.</summary>
    private static bool Unmount(string mountPoint)
    {
        if (Native.Geteuid() == 0)
        {
            var errno = Native.Unmount(mountPoint, 0);
            if (errno == 0) return false;
            if (errno != Native.EBUSY) throw new CliException($"cannot unmount {mountPoint}: {Native.ErrorText(errno)}", ExitCodes.Failure);
            errno = Native.Unmount(mountPoint, Native.MNT_DETACH);
            if (errno != 0) throw new CliException($"cannot unmount {mountPoint} even lazily: {Native.ErrorText(errno)}", ExitCodes.Failure);
            return true;
        }
        var helper = new[] { "fusermount3", "fusermount" }.FirstOrDefault(h => FindOnPath(h) is not null)
            ?? throw new CliException($"cannot unmount {mountPoint}: not root and no fusermount3/fusermount helper on PATH", ExitCodes.Failure);
        var (code, output) = RunHelper(helper, "-u", mountPoint);
        if (code == 0) return false;
        if (!output.Contains("busy", StringComparison.OrdinalIgnoreCase))
            throw new CliException($"cannot unmount {mountPoint}: {helper}: {output.Trim()}", ExitCodes.Failure);
        (code, output) = RunHelper(helper, "-u", "-z", mountPoint);
        if (code != 0) throw new CliException($"cannot unmount {mountPoint} even lazily: {helper}: {output.Trim()}", ExitCodes.Failure);
        return true;
    }

    private static (int Code, string Output) RunHelper(string helper, params string[] args)
    {
        var psi = new ProcessStartInfo(helper) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var output = p.StandardError.ReadToEnd() + p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, output);
    }

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(':')
        .Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);

    /// <summary>The source field of the mount on <paramref name="mountPoint"/> in /proc/self/mountinfo (Lighthouse mounts use the project directory).</summary>
    public static string? MountSource(string mountPoint)
    {
        try
        {
            string? found = null;
            foreach (var line in File.ReadLines("/proc/self/mountinfo"))
            {
                var fields = line.Split(' ');
                if (fields.Length < 10 || ProjectLocator.Unescape(fields[4]) != mountPoint) continue;
                var dash = Array.IndexOf(fields, "-");
                if (dash < 0 || dash + 2 >= fields.Length) continue;
                found = ProjectLocator.Unescape(fields[dash + 2]); // the last mount on a point is the visible one
                if (found.StartsWith("lighthouse:", StringComparison.Ordinal)) found = found["lighthouse:".Length..];
            }
            return found is not null && Path.IsPathRooted(found) && Directory.Exists(found) ? found : null;
        }
        catch (IOException) { return null; }
    }
}
