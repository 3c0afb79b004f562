namespace Lighthouse.Store;

/// <summary>
/// The store's own directory, <c>&lt;project&gt;/.lighthouse/</c>, and the files in it: the mount's owner's alone. The
/// database holds every recorded path, agent and time and the objects every captured byte, of files other users may
/// not be allowed to read, so the directory is 0700 and its files 0600, whatever the umask (the modes are set after
/// creating, since mkdir and open cut them by the umask), and a store made before is tightened when it is opened for
/// writing. Other users reach history through the mount (history/, or the CLI asking the mount over its control socket),
/// which checks what each of them may read.
/// </summary>
public static class StateDirectory
{
    public const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    public const UnixFileMode FileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>The store's files SQLite makes beside the database, tightened with it.</summary>
    private static readonly string[] DatabaseCompanions = ["-wal", "-shm", "-journal"];

    /// <summary><c>&lt;project&gt;/.lighthouse</c>.</summary>
    public static string PathOf(string projectDir) => Path.Combine(projectDir, StoreConstants.StateDirName);

    /// <summary>Creates the state directory (or tightens an existing one) as 0700; returns its path.</summary>
    public static string Ensure(string projectDir)
    {
        var dir = PathOf(projectDir);
        MakePrivateDirectory(dir);
        return dir;
    }

    /// <summary>Creates (or tightens) a directory as 0700.</summary>
    public static void MakePrivateDirectory(string path)
    {
        Directory.CreateDirectory(path, DirectoryMode);
        if (File.GetUnixFileMode(path) != DirectoryMode) File.SetUnixFileMode(path, DirectoryMode);
    }

    /// <summary>Sets a file that exists to 0600 (nothing if it does not exist).</summary>
    public static void MakePrivateFile(string path)
    {
        try
        {
            if ((File.GetUnixFileMode(path) & ~FileMode) != 0) File.SetUnixFileMode(path, FileMode);
        }
        catch (FileNotFoundException) { }
        catch (DirectoryNotFoundException) { }
    }

    /// <summary>Opens (creating if asked) a file of the state directory as 0600.</summary>
    public static FileStream OpenPrivate(string path, System.IO.FileMode mode, FileAccess access, FileShare share = FileShare.Read)
    {
        var stream = new FileStream(path, new FileStreamOptions { Mode = mode, Access = access, Share = share, UnixCreateMode = FileMode });
        try
        {
            // An existing file keeps its mode, and the umask may have cut the new one's: set it.
            if ((File.GetUnixFileMode(stream.SafeFileHandle) & ~FileMode) != 0) File.SetUnixFileMode(stream.SafeFileHandle, FileMode);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
        return stream;
    }

    /// <summary>Writes a whole file of the state directory atomically (a 0600 temporary file renamed over it).</summary>
    public static void WritePrivate(string path, string text)
    {
        var tmp = path + "." + Environment.ProcessId + ".tmp";
        using (var s = OpenPrivate(tmp, System.IO.FileMode.Create, FileAccess.Write, FileShare.None))
        using (var w = new StreamWriter(s, new System.Text.UTF8Encoding(false)))
            w.Write(text);
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>
    /// Before SQLite opens the database: creates it empty as 0600 if it does not exist, else tightens it and the
    /// files SQLite keeps beside it. SQLite creates its -wal and -shm with the database file's mode, so they follow.
    /// </summary>
    public static void PrepareDatabaseFile(string databasePath)
    {
        if (!File.Exists(databasePath))
        {
            using (OpenPrivate(databasePath, System.IO.FileMode.OpenOrCreate, FileAccess.ReadWrite)) { }
        }
        else
        {
            MakePrivateFile(databasePath);
        }
        foreach (var suffix in DatabaseCompanions) MakePrivateFile(databasePath + suffix);
    }

    /// <summary>The uid owning the state directory, or null if it does not exist.</summary>
    public static long? OwnerOf(string projectDir) => NodeAttributes.Of(PathOf(projectDir))?.Uid;
}
