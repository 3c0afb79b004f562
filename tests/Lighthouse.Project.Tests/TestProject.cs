using Lighthouse.Project.Agents;
using Lighthouse.Project.Recording;
using Lighthouse.Store;

namespace Lighthouse.Project.Tests;

/// <summary>A scratch project directory served in-process by a <see cref="ProjectHost"/> (no root, no FUSE); removed afterwards.</summary>
public sealed class TestProject : IDisposable
{
    public static readonly StoreOptions Fast = new() { Durability = Durability.Normal, FsyncObjects = false };
    public static readonly Agent Alice = new("alice/editor", AgentSource.Fallback);
    public static readonly Agent Bob = new("bob/make", AgentSource.Fallback);

    public TestProject()
    {
        Dir = Path.Combine(Path.GetTempPath(), "lh-project-tests", Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Dir);
    }

    public string Dir { get; }
    public ProjectHost? Host { get; private set; }

    public string Abs(string rel) => Path.Combine(Dir, rel);

    public ProjectHost Open(IAgentResolver? agents = null) =>
        Host = ProjectHost.Open(Dir, new ProjectOptions { Stores = SqliteProjectStoreFactory.Instance, Store = Fast, Agents = agents });

    /// <summary>What a server knows of an entry right after changing it (its lstat).</summary>
    public (FileKey Key, FileFacts Facts) Stat(string rel)
    {
        var a = NodeAttributes.Of(Abs(rel)) ?? throw new FileNotFoundException(rel);
        uint type = a.Kind switch
        {
            FileKind.Directory => 0x4000u, FileKind.Symlink => 0xA000u, FileKind.File => 0x8000u, FileKind.Socket => 0xC000u,
            FileKind.CharDevice => 0x2000u, FileKind.BlockDevice => 0x6000u, _ => 0x1000u,
        };
        return (new FileKey(0, (ulong)a.Inode), new FileFacts(type | (uint)a.Mode, a.Size, a.MtimeNs, (ulong)a.Inode, (uint)a.Uid, (uint)a.Gid, (ulong)a.Rdev));
    }

    /// <summary>Creates a file on disk and records it as the mount does: the creation (an empty file), then,
    /// if <paramref name="text"/> is not empty, the write, at close.</summary>
    public void Create(Agent agent, string rel, string text)
    {
        File.WriteAllText(Abs(rel), "");
        var (key, facts) = Stat(rel);
        Host!.Recorder.Created(agent, rel, key, facts);
        if (text.Length == 0) return;
        File.WriteAllText(Abs(rel), text);
        Written(agent, rel);
    }

    /// <summary>Records a write of <paramref name="rel"/> as the mount does at close: with a descriptor to read it through.</summary>
    public void Written(Agent agent, string rel) => Host!.Recorder.Written(agent, rel, Stat(rel).Key, File.OpenHandle(Abs(rel)));

    /// <summary>Renames an entry on disk and records it, as the mount does.</summary>
    public void Rename(Agent agent, string from, string to)
    {
        File.Move(Abs(from), Abs(to));
        Host!.Recorder.Renamed(agent, from, to);
    }

    /// <summary>Removes a file (its last link) on disk and records it, as the mount does.</summary>
    public void Remove(Agent agent, string rel)
    {
        var (key, _) = Stat(rel);
        File.Delete(Abs(rel));
        Host!.Recorder.Removed(agent, rel, key, lastLink: true);
    }

    /// <summary>The events after <paramref name="afterSeq"/>, oldest first, once everything queued is recorded.</summary>
    public IReadOnlyList<StoreEvent> EventsAfter(long afterSeq)
    {
        Host!.Recorder.Flush();
        return Host.Store.Log(new LogQuery { Limit = 10_000 }).Events.Where(e => e.Seq > afterSeq).OrderBy(e => e.Seq).ToList();
    }

    public void Dispose()
    {
        Host?.Dispose();
        try { Directory.Delete(Dir, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
