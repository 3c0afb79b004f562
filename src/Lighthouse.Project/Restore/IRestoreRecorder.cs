using Lighthouse.Store;

namespace Lighthouse.Project.Restore;

/// <summary>
/// Where a restore that writes to the project directory itself reports each change it made, so it is
/// recorded. A restore written through a mount's <c>current/</c> uses none: the mount records what it sees.
/// Paths are store paths. Calls come after the change succeeded, except <see cref="CaptureBefore"/>.
/// </summary>
public interface IRestoreRecorder
{
    /// <summary>Before a file's bytes are replaced or removed: keeps bytes never captured, so the restore can be undone too.</summary>
    void CaptureBefore(string path);
    void Created(string path);
    void Written(string path);
    void ModeChanged(string path);
    void Removed(string path);
}

/// <summary>Records a restore's changes straight into the store, as <paramref name="agent"/>.</summary>
public sealed class StoreRestoreRecorder(IProjectStore store, string agent) : IRestoreRecorder
{
    public void CaptureBefore(string path) => store.CaptureBeforeModify(agent, path);
    public void Created(string path) => store.RecordCreate(agent, path);
    public void Written(string path) => store.RecordWrite(agent, path);
    public void ModeChanged(string path) => store.RecordSetAttributes(agent, path);
    public void Removed(string path) => store.RecordUnlink(agent, path);
}
