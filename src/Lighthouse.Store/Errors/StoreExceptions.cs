namespace Lighthouse.Store;

/// <summary>Base of every error the store reports; messages are meant to be shown to a user as they are.</summary>
public class StoreException : Exception
{
    public StoreException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>The database file cannot be read as a SQLite database or fails its integrity check.</summary>
public sealed class StoreCorruptException(string databasePath, long lastGoodEvent, string detail, Exception? inner = null)
    : StoreException($"database {databasePath} is corrupt: {detail.TrimEnd('.')}; the last good event is {(lastGoodEvent > 0 ? "@" + lastGoodEvent : "unknown (no event could be read)")}. The file was left untouched; restore it from a backup or move it aside to start a new history.", inner)
{
    public string DatabasePath { get; } = databasePath;
    /// <summary>0 when no event could be read.</summary>
    public long LastGoodEvent { get; } = lastGoodEvent;
}

/// <summary>The disk holding the database or the objects is full. Nothing already committed is affected.</summary>
public sealed class StoreFullException(string what, Exception? inner = null)
    : StoreException($"no space left on device while {what}; the change was not recorded and everything recorded before it is intact", inner);

public sealed class ObjectMissingException(string hash, string objectPath, string context)
    : StoreException($"content object {hash} ({context}) is missing: expected at {objectPath}. Its history entry is kept, but those bytes cannot be recovered from this store.")
{
    public string Hash { get; } = hash;
}

public sealed class InvalidStorePathException(string path, string reason)
    : StoreException($"invalid path '{path}': {reason}")
{
    public string PathText { get; } = path;
}

/// <summary>A path that does not exist in the index at the given point.</summary>
public sealed class StorePathNotFoundException(string path, string point)
    : StoreException($"'{(path.Length == 0 ? "/" : path)}' does not exist as of {point}")
{
    public string PathText { get; } = path;
}

/// <summary>A mutation that contradicts what the index knows (creating an existing name, removing a missing one…).</summary>
public sealed class IndexConflictException(string message) : StoreException(message);

public sealed class PointNotFoundException(string message) : StoreException(message);

public sealed class SnapshotExistsException(string name, long seq)
    : StoreException($"snapshot '{name}' already exists (it names @{seq}); delete it first or choose another name");

/// <summary>Another process holds the project's store.</summary>
public sealed class StoreLockedException(string projectDir, Exception? inner = null)
    : StoreException($"the Lighthouse store of {projectDir} is already open in another process", inner);

public sealed class StoreClosedException() : StoreException("the store has been closed");

/// <summary>The version exists in history but its bytes are not kept (too large, or never captured).</summary>
public sealed class ContentUnavailableException(string path, string point, string reason)
    : StoreException($"the content of '{path}' as of {point} is not available: {reason}");

public sealed class StoreReadOnlyException(string projectDir)
    : StoreException($"the store of {projectDir} was opened read-only: open it for writing to record changes");

/// <summary>
/// The store's directory belongs to another user and is private to it (0700): only its owner (or root) opens the
/// store. Other users reach history through the mount, which answers what each of them may read.
/// </summary>
public sealed class StorePrivateException(string stateDir, long? ownerUid, Exception? inner = null)
    : StoreException($"{stateDir} is readable only by its owner{(ownerUid is { } u ? $" (uid {u})" : "")}", inner)
{
    public string StateDir { get; } = stateDir;
    public long? OwnerUid { get; } = ownerUid;
}

/// <summary>A chunk of a kept version is missing or its bytes do not match its hash: the version cannot be read, and no
/// other bytes are given in its place.</summary>
public sealed class ContentCorruptException(string context, string chunkHash, string problem)
    : StoreException($"the bytes of {context} cannot be read: chunk {chunkHash} {problem}. No other bytes are given in their place; the rest of the history is unaffected.")
{
    public string ChunkHash { get; } = chunkHash;
}
