using Lighthouse.Store;

namespace Lighthouse.Cli.Commands;

/// <summary>How the verbs reach a project's store: the one place the CLI (the composition root) names its implementation.</summary>
public static class StoreAccess
{
    /// <summary>The store implementation every verb and the mount use (embedded SQLite).</summary>
    public static IProjectStoreFactory Stores => SqliteProjectStoreFactory.Instance;

    public static readonly StoreOptions ReadOptions = new() { ReconcileOnOpen = false, CheckIntegrityOnOpen = false, FsyncObjects = false };

    /// <summary>
    /// Opens a project's history for reading through the store's read-only mode: never locks, reconciles or writes,
    /// so it works while a mount owns the store.
    /// </summary>
    public static IProjectStore OpenReadOnly(string projectDir) => Stores.OpenReadOnly(projectDir, ReadOptions);

    /// <summary>Opens the store for writing (this process becomes its owner), with a clear message if a mount or another process has it.</summary>
    public static IProjectStore OpenForWriting(string projectDir, StoreOptions? options = null)
    {
        if (MountState.ReadLive(projectDir) is { } m)
            throw new CliException($"the project is mounted on {m.MountPoint} (pid {m.Pid}); this change must go through the mount", ExitCodes.Failure);
        try
        {
            return Stores.Open(projectDir, options ?? new StoreOptions { ReconcileOnOpen = false });
        }
        catch (StoreLockedException)
        {
            throw new CliException($"the store of {projectDir} is in use by another process (a mount starting, or another lighthouse command); try again when it is done", ExitCodes.Failure);
        }
    }

    /// <summary>How a store is read, for diagnostics.</summary>
    public static string Describe(IProjectStore store) => store.IsReadOnly ? "store (read-only)" : "store";
}
