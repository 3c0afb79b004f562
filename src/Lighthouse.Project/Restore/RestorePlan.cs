using Lighthouse.Store;

namespace Lighthouse.Project.Restore;

/// <summary>What one step of a restore does to one path.</summary>
public enum RestoreAction
{
    /// <summary>Create a directory with its old mode.</summary>
    Mkdir,
    /// <summary>Create a file or symlink that is missing now.</summary>
    Create,
    /// <summary>Replace a file or symlink whose content differs (temporary name, then rename over).</summary>
    Overwrite,
    /// <summary>Only the permission bits differ.</summary>
    Chmod,
    /// <summary>Remove something that did not exist then, or that is in the way of what did.</summary>
    Remove,
    /// <summary>Already as it was: listed so callers can count it, nothing is done.</summary>
    Unchanged,
}

/// <summary>
/// One step of a <see cref="RestorePlan"/>. <paramref name="Kind"/> is the kind of the node the step touches:
/// what is on disk now (overwrite, chmod, remove, unchanged) or what it creates (mkdir, create).
/// <paramref name="Old"/> is the version as of the point (null for removals); <paramref name="Reason"/> says
/// why, for people ("content differs", "did not exist then", "mode rw-r--r-- -> rwxr-xr-x", or "").
/// </summary>
public sealed record RestoreStep(RestoreAction Action, string Path, FileKind Kind, NodeVersion? Old, string Reason);

/// <summary>
/// What restoring <paramref name="Path"/> (a store path, "" for the whole project) to event
/// <paramref name="Seq"/> takes, in the order it must be done: parents before children, and what is
/// removed after everything that is written, children before their directory.
/// </summary>
public sealed record RestorePlan(string Path, long Seq, IReadOnlyList<RestoreStep> Steps)
{
    /// <summary>The steps that change something (all but <see cref="RestoreAction.Unchanged"/>).</summary>
    public IEnumerable<RestoreStep> Changes => Steps.Where(s => s.Action != RestoreAction.Unchanged);

    public int ChangeCount => Steps.Count(s => s.Action != RestoreAction.Unchanged);
}

/// <summary>Progress of planning (<paramref name="Total"/> is 0: not known yet) or of applying a plan.</summary>
public readonly record struct RestoreProgress(int Done, int Total, string Path);
