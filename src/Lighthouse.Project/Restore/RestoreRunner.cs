using Lighthouse.Project.History;
using System.Text;
using Lighthouse.Store;

namespace Lighthouse.Project.Restore;

/// <summary>A path a restore could not bring back, and why.</summary>
public sealed record RestoreFailure(string Path, string Message);

/// <summary>What applying a plan did, by kind of step.</summary>
public sealed record RestoreResult(
    int Overwritten, int Created, int DirectoriesCreated, int ModesReset, int Removed, int Unchanged,
    IReadOnlyList<RestoreFailure> Failures)
{
    public bool Ok => Failures.Count == 0;
    public bool ChangedNothing => Overwritten + Created + DirectoriesCreated + ModesReset + Removed == 0;
}

/// <summary>
/// Applies a <see cref="RestorePlan"/> to a root directory (the project directory, or a mount's
/// <c>current/</c>): files are written to a temporary name in their directory and renamed over, with their
/// old mode and modification time, so a reader never sees half a file. Each change is reported to the
/// recorder, if there is one. A step that fails is listed and the others go on (except a directory that
/// cannot be made: what follows lives in it).
/// </summary>
public sealed class RestoreRunner(IProjectStore history, IRestoreRecorder? recorder = null)
{
    public RestoreResult Apply(RestorePlan plan, string root, IProgress<RestoreProgress>? progress = null)
    {
        var at = StorePoint.AtEvent(plan.Seq);
        var failures = new List<RestoreFailure>();
        int overwritten = 0, created = 0, dirs = 0, chmods = 0, removed = 0, unchanged = 0, done = 0;
        foreach (var step in plan.Steps)
        {
            progress?.Report(new RestoreProgress(++done, plan.Steps.Count, step.Path));
            try
            {
                switch (step.Action)
                {
                    case RestoreAction.Unchanged:
                        unchanged++;
                        break;
                    case RestoreAction.Mkdir:
                        Mkdir(root, step);
                        dirs++;
                        break;
                    case RestoreAction.Create or RestoreAction.Overwrite:
                        WriteFile(root, step, at);
                        if (step.Action == RestoreAction.Overwrite) overwritten++; else created++;
                        break;
                    case RestoreAction.Chmod:
                        if (step.Kind != FileKind.Symlink) File.SetUnixFileMode(RestorePlanner.Abs(root, step.Path), OldMode(step));
                        recorder?.ModeChanged(step.Path);
                        chmods++;
                        break;
                    case RestoreAction.Remove:
                        Remove(root, step);
                        removed++;
                        break;
                }
            }
            catch (Exception e) when (e is StoreException or IOException or UnauthorizedAccessException)
            {
                failures.Add(new RestoreFailure(step.Path, e.Message));
                if (step.Action == RestoreAction.Mkdir) break; // what follows lives in it
            }
        }
        return new RestoreResult(overwritten, created, dirs, chmods, removed, unchanged, failures);
    }

    private static UnixFileMode OldMode(RestoreStep step) => (UnixFileMode)(step.Old!.Attributes.Mode & 0xFFF);

    private void Mkdir(string root, RestoreStep step)
    {
        var abs = RestorePlanner.Abs(root, step.Path);
        Directory.CreateDirectory(abs);
        File.SetUnixFileMode(abs, OldMode(step));
        recorder?.Created(step.Path);
    }

    private void WriteFile(string root, RestoreStep step, StorePoint at)
    {
        var old = step.Old!;
        var exists = step.Action == RestoreAction.Overwrite;
        var content = history.Content(step.Path, at);
        if (!content.IsAvailable) throw new ContentUnavailableException(step.Path, at.ToString(), content.Unavailable ?? "unknown reason");
        var abs = RestorePlanner.Abs(root, step.Path);
        var tmp = Path.Combine(Path.GetDirectoryName(abs)!, $".{Path.GetFileName(abs)}.lighthouse-restore-{Environment.ProcessId}");
        if (exists) recorder?.CaptureBefore(step.Path);
        try
        {
            if (old.Kind == FileKind.Symlink)
            {
                File.CreateSymbolicLink(tmp, Encoding.UTF8.GetString(ProjectHistory.ReadAll(history, content, at.ToString())));
            }
            else
            {
                using (var src = ProjectHistory.Open(history, content, at.ToString()))
                using (var dst = new FileStream(tmp, new FileStreamOptions
                       {
                           Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None, BufferSize = 1 << 16,
                           UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
                       }))
                {
                    src.CopyTo(dst);
                    dst.Flush(true);
                }
                File.SetUnixFileMode(tmp, OldMode(step));
            }
            ModificationTime.Set(tmp, old.Attributes.MtimeNs);
            File.Move(tmp, abs, overwrite: true);
        }
        catch
        {
            try { File.Delete(tmp); } catch (IOException) { }
            throw;
        }
        if (exists) recorder?.Written(step.Path);
        else recorder?.Created(step.Path);
    }

    private void Remove(string root, RestoreStep step)
    {
        var abs = RestorePlanner.Abs(root, step.Path);
        if (step.Kind == FileKind.Directory)
        {
            Directory.Delete(abs, recursive: false);
        }
        else
        {
            // Save bytes never captured before they go, so this removal can be undone too.
            recorder?.CaptureBefore(step.Path);
            File.Delete(abs);
        }
        recorder?.Removed(step.Path);
    }
}
