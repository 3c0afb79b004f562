using Lighthouse.Store;

namespace Lighthouse.Project.Tests;

/// <summary>A scratch project directory with a real store, recorded as the mount would; removed afterwards.</summary>
public sealed class ScratchProject : IDisposable
{
    public ScratchProject()
    {
        Dir = Path.Combine(Path.GetTempPath(), "lh-project-tests", Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Dir);
        Store = ProjectStore.Open(Dir, new StoreOptions { ReconcileOnOpen = false, FsyncObjects = false, Durability = Durability.Normal });
    }

    public string Dir { get; }
    public ProjectStore Store { get; }

    public string Abs(string rel) => rel.Length == 0 ? Dir : Path.Combine(Dir, rel);

    /// <summary>Writes a file (and its missing parents) and records it: capture first if it exists, then write, then record.</summary>
    public void Write(string agent, string rel, byte[] bytes)
    {
        var exists = File.Exists(Abs(rel));
        if (exists) Store.CaptureBeforeModify(agent, rel);
        var parents = new Stack<string>();
        for (var d = StorePath.Parent(rel); d.Length > 0 && !Directory.Exists(Abs(d)); d = StorePath.Parent(d)) parents.Push(d);
        foreach (var d in parents)
        {
            Directory.CreateDirectory(Abs(d));
            Store.RecordCreate(agent, d);
        }
        File.WriteAllBytes(Abs(rel), bytes);
        if (exists) Store.RecordWrite(agent, rel);
        else Store.RecordCreate(agent, rel);
    }

    public void Write(string agent, string rel, string text) => Write(agent, rel, System.Text.Encoding.UTF8.GetBytes(text));

    public void Mkdir(string agent, string rel)
    {
        Directory.CreateDirectory(Abs(rel));
        Store.RecordCreate(agent, rel);
    }

    public void Symlink(string agent, string rel, string target)
    {
        File.CreateSymbolicLink(Abs(rel), target);
        Store.RecordCreate(agent, rel);
    }

    public void Delete(string agent, string rel)
    {
        if (Directory.Exists(Abs(rel)) && new FileInfo(Abs(rel)).LinkTarget is null) Directory.Delete(Abs(rel));
        else
        {
            Store.CaptureBeforeModify(agent, rel);
            File.Delete(Abs(rel));
        }
        Store.RecordUnlink(agent, rel);
    }

    public void Chmod(string agent, string rel, UnixFileMode mode)
    {
        File.SetUnixFileMode(Abs(rel), mode);
        Store.RecordSetAttributes(agent, rel);
    }

    public void Dispose()
    {
        Store.Dispose();
        try { Directory.Delete(Dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
