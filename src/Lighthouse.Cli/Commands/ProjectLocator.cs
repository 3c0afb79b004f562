using System.CommandLine;
using Lighthouse.Store;

namespace Lighthouse.Cli.Commands;

/// <summary>
/// Finds the project a verb acts on, as git does: the nearest directory holding <c>.lighthouse/</c>,
/// from the current directory upwards, unless <c>--project</c> names it.
/// </summary>
public static class ProjectLocator
{
    public const string DefaultMountPoint = "/mnt/lighthouse/project";

    public static Option<string?> ProjectOption() => new("--project", "-C")
    {
        Description = "The project directory (the one holding .lighthouse/). Default: found from the current directory upwards.",
    };

    public static Option<bool> JsonOption(string what) => new("--json") { Description = $"Print {what} as JSON (for scripts)." };

    /// <summary>The project root for <paramref name="explicitDir"/>, or the one found upwards from <paramref name="from"/>.</summary>
    public static string Find(string? explicitDir, string? from = null)
    {
        if (!string.IsNullOrEmpty(explicitDir))
        {
            var dir = Path.TrimEndingDirectorySeparator(Path.GetFullPath(explicitDir));
            if (!Directory.Exists(dir)) throw new CliException($"project directory {dir} does not exist", ExitCodes.Usage);
            if (!Directory.Exists(Path.Combine(dir, StoreConstants.StateDirName)))
                return Control.MountRegistry.FindByPath(dir)?.ProjectDir ?? throw new CliException($"{dir} is not a Lighthouse project (no {StoreConstants.StateDirName}/ in it); run `lighthouse init {dir}`", ExitCodes.Usage);
            return dir;
        }
        var start = Path.TrimEndingDirectorySeparator(Path.GetFullPath(from ?? Directory.GetCurrentDirectory()));
        for (var d = start; d is not null; d = Path.GetDirectoryName(d))
        {
            if (Directory.Exists(Path.Combine(d, StoreConstants.StateDirName))) return d;
        }
        // Inside a mount (current/ hides .lighthouse/): the mount's public entry names its project, or (a normal user's
        // mount, which cannot write the registry) the mount table does.
        return Control.MountRegistry.FindByPath(start)?.ProjectDir ?? MountedProject(start) ?? throw new CliException($"no project here (no {StoreConstants.StateDirName}/ in {start} or above); run `lighthouse init` or pass --project", ExitCodes.Usage);
    }

    /// <summary>
    /// The project of the innermost Lighthouse mount holding <paramref name="path"/>, from /proc/self/mountinfo (its source
    /// is <c>lighthouse:&lt;project&gt;</c>). Trusted only if the mount's owner (its <c>user_id</c>) owns the project's state
    /// directory: anyone may mount a FUSE filesystem with any source name, but not make it point at someone else's project.
    /// </summary>
    private static string? MountedProject(string path)
    {
        string? found = null;
        int depth = -1;
        try
        {
            foreach (var line in File.ReadLines("/proc/self/mountinfo"))
            {
                var fields = line.Split(' ');
                var dash = Array.IndexOf(fields, "-");
                if (fields.Length < 10 || dash < 0 || dash + 3 >= fields.Length || fields[dash + 1] != "fuse.lighthouse") continue;
                var mountPoint = Unescape(fields[4]);
                var source = Unescape(fields[dash + 2]);
                if (!source.StartsWith("lighthouse:", StringComparison.Ordinal) || mountPoint.Length <= depth) continue;
                if (Under(path, mountPoint) is null) continue;
                var project = source["lighthouse:".Length..];
                var owner = fields[dash + 3].Split(',').FirstOrDefault(o => o.StartsWith("user_id=", StringComparison.Ordinal))?["user_id=".Length..];
                if (!Path.IsPathRooted(project) || owner is null || StateDirectory.OwnerOf(project)?.ToString(System.Globalization.CultureInfo.InvariantCulture) != owner)
                    continue;
                (found, depth) = (project, mountPoint.Length);
            }
        }
        catch (IOException) { return null; }
        return found;
    }

    /// <summary>Undoes mountinfo's octal escapes (\040 for a space).</summary>
    internal static string Unescape(string s) => s.Contains('\\')
        ? System.Text.RegularExpressions.Regex.Replace(s, @"\\([0-7]{3})", m => ((char)Convert.ToInt32(m.Groups[1].Value, 8)).ToString())
        : s;

    /// <summary>Like <see cref="Find"/>, and the project's store must have been initialised.</summary>
    public static string FindInitialised(string? explicitDir)
    {
        var dir = Find(explicitDir);
        // Another user cannot look into the state directory: the mount (or the message that it is needed) says more.
        if (!HistoryRoute.IsOthers(dir) && !StoreAccess.Stores.Exists(dir))
            throw new CliException($"{dir} has a {StoreConstants.StateDirName}/ directory but no event log in it; run `lighthouse init {dir}`", ExitCodes.Usage);
        return dir;
    }

    /// <summary>
    /// Turns a path given by the user into a project-relative store path. Paths are relative to the project
    /// root; an absolute path inside the project directory (or inside the mount's current/) is accepted too.
    /// </summary>
    public static string ToStorePath(string projectDir, string userPath, MountState? mount = null)
    {
        var p = userPath.Trim();
        if (p is "." or "./" or "/") return "";
        if (Path.IsPathRooted(p))
        {
            var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(p));
            string? rel = Under(full, projectDir);
            if (rel is null && mount is not null) rel = Under(full, Path.Combine(mount.MountPoint, "current"));
            p = rel ?? throw new CliException($"{userPath} is outside the project {projectDir}; give a path relative to the project root", ExitCodes.Usage);
        }
        else if (p.StartsWith("./", StringComparison.Ordinal))
        {
            p = p[2..];
        }
        try
        {
            return StorePath.Normalize(p);
        }
        catch (InvalidStorePathException e)
        {
            throw new CliException(e.Message, ExitCodes.Usage);
        }
    }

    /// <summary>
    /// A hint for a path that was not found: paths are relative to the project root, but the user may have meant
    /// one relative to the current directory.
    /// </summary>
    public static string Hint(string projectDir, string userPath)
    {
        if (Path.IsPathRooted(userPath)) return "";
        var cwd = Path.TrimEndingDirectorySeparator(Directory.GetCurrentDirectory());
        var rel = Under(cwd, projectDir);
        if (rel is null || rel.Length == 0) return "";
        var candidate = Path.GetRelativePath(projectDir, Path.GetFullPath(userPath, cwd));
        return candidate.StartsWith("..", StringComparison.Ordinal) ? "" : $" (paths are relative to the project root {projectDir}; from here that is '{candidate}')";
    }

    private static string? Under(string full, string root)
    {
        root = Path.TrimEndingDirectorySeparator(root);
        if (full == root) return "";
        return full.StartsWith(root + "/", StringComparison.Ordinal) ? full[(root.Length + 1)..] : null;
    }

    public static string Display(string storePath) => storePath.Length == 0 ? "/" : storePath;
}
