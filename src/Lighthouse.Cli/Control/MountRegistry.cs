using System.Security.Cryptography;
using System.Text;
using Lighthouse.Cli.Commands;
using Lighthouse.Store;

namespace Lighthouse.Cli.Control;

/// <summary>
/// Where other users find a running mount, since the project's <c>.lighthouse/</c> (mount.json, control.sock) is its
/// owner's alone: <c>/run/lighthouse/</c> (0755; <c>LIGHTHOUSE_RUN_DIR</c> overrides it), holding per mount
/// <c>&lt;key&gt;.json</c> (0644: the same fields as mount.json — pid, project directory, mount point, protocol — with
/// <c>controlSocket</c> naming the public socket; no content, no path of the project's tree) and <c>&lt;key&gt;.sock</c>
/// (0666), a second control socket on which the mount answers every user for what that user may read (SO_PEERCRED).
/// The key is the first 16 hex digits of the SHA-256 of the project directory, so the CLI finds the entry from the
/// project directory directly, and from a mount point or a path inside current/ by reading the entries.
/// An entry is trusted only if its file and socket belong to the user the mount process runs as, who also owns the
/// project's state directory (a directory where others may write cannot plant a mount). The mount removes its entry
/// when it stops, and entries of dead processes when it starts.
/// </summary>
public static class MountRegistry
{
    public const string DefaultDirectory = "/run/lighthouse";

    private const UnixFileMode PublicDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
        | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;
    private const UnixFileMode PublicFile = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;

    /// <summary>Mode of the public socket: anyone may connect; the mount decides per request what the peer may see.</summary>
    public const UnixFileMode PublicSocketMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead
        | UnixFileMode.GroupWrite | UnixFileMode.OtherRead | UnixFileMode.OtherWrite;

    public static string DirectoryPath =>
        Environment.GetEnvironmentVariable("LIGHTHOUSE_RUN_DIR") is { Length: > 0 } d ? Path.GetFullPath(d) : DefaultDirectory;

    public static string KeyOf(string projectDir) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Path.TrimEndingDirectorySeparator(Path.GetFullPath(projectDir)))))[..16];

    public static string EntryPath(string projectDir) => Path.Combine(DirectoryPath, KeyOf(projectDir) + ".json");

    public static string SocketPath(string projectDir) => Path.Combine(DirectoryPath, KeyOf(projectDir) + ".sock");

    /// <summary>Creates the registry directory (0755) if missing; removes entries whose process is gone.</summary>
    public static void Prepare()
    {
        var dir = DirectoryPath;
        if (!Directory.Exists(dir))
        {
            Directory.CreateDirectory(dir, PublicDirectory);
            File.SetUnixFileMode(dir, PublicDirectory); // mkdir's mode is cut by the umask
        }
        foreach (var entry in Directory.EnumerateFiles(dir, "*.json"))
        {
            if (Read(entry) is { IsAlive: true }) continue;
            if (Read(entry) is null && File.GetLastWriteTimeUtc(entry) > DateTime.UtcNow.AddMinutes(-1)) continue; // being written
            TryDelete(entry);
            TryDelete(Path.ChangeExtension(entry, ".sock"));
        }
    }

    /// <summary>Publishes this mount's entry (0644, written atomically).</summary>
    public static void Publish(MountState state)
    {
        var path = EntryPath(state.ProjectDir);
        var tmp = path + "." + Environment.ProcessId + ".tmp";
        using (var s = new FileStream(tmp, new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, UnixCreateMode = PublicFile }))
        using (var w = new StreamWriter(s, new UTF8Encoding(false)))
            w.Write(state.ToJson() + "\n");
        File.SetUnixFileMode(tmp, PublicFile);
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>Removes this process's entry for the project (not one a later mount wrote).</summary>
    public static void Withdraw(string projectDir)
    {
        var path = EntryPath(projectDir);
        if (Read(path) is { } s && s.Pid == Environment.ProcessId) TryDelete(path);
    }

    /// <summary>The live, trusted entry of the project's mount, or null.</summary>
    public static MountState? Find(string projectDir)
    {
        var path = EntryPath(projectDir);
        return Read(path) is { IsAlive: true } s && Trusted(path, s) ? s : null;
    }

    /// <summary>The live, trusted entry whose project directory or mount point holds <paramref name="path"/>, or null.</summary>
    public static MountState? FindByPath(string path)
    {
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
        if (!Directory.Exists(DirectoryPath)) return null;
        foreach (var entry in Directory.EnumerateFiles(DirectoryPath, "*.json"))
        {
            if (Read(entry) is not { IsAlive: true } s || !Trusted(entry, s)) continue;
            if (Within(full, s.ProjectDir) || Within(full, s.MountPoint)) return s;
        }
        return null;
    }

    private static bool Within(string full, string root)
    {
        root = Path.TrimEndingDirectorySeparator(root);
        return full == root || full.StartsWith(root + "/", StringComparison.Ordinal);
    }

    /// <summary>The entry file, its socket and the mount process belong to one user, who owns the project's state directory.</summary>
    private static bool Trusted(string entryPath, MountState s)
    {
        var owner = Native.Lstat(entryPath)?.Uid;
        if (owner is null || s.ControlSocket is null) return false;
        if (Native.Lstat(s.ControlSocket)?.Uid != owner || !Native.IsSocket(s.ControlSocket)) return false;
        if (ProcessUid(s.Pid) != owner) return false;
        var stateOwner = StateDirectory.OwnerOf(s.ProjectDir);
        return stateOwner is null || stateOwner == owner || owner == 0;
    }

    private static long? ProcessUid(int pid)
    {
        try
        {
            var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("Uid:", StringComparison.Ordinal));
            var fields = line?[4..].Split(['\t', ' '], StringSplitOptions.RemoveEmptyEntries);
            return fields is { Length: > 1 } && long.TryParse(fields[1], out var euid) ? euid : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }

    private static MountState? Read(string path)
    {
        try { return MountState.Parse(File.ReadAllText(path)); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }

    private static void TryDelete(string path)
    {
        try { File.Delete(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }
}
