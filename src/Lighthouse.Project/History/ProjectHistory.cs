using Lighthouse.Store;

namespace Lighthouse.Project.History;

/// <summary>
/// The project as it was at any point, for every server of it (the mount's history/, the CLI's
/// history, diff and restore, the coming HTTP routes): names of points (`@n`, a UTC time, a
/// snapshot) resolved to event numbers, and the tree as of an event — lookup, listing, attributes
/// and content. Works on a read-only store as well as on the mount's own.
/// </summary>
public sealed class ProjectHistory(IProjectStore store)
{
    /// <summary>How many recent points a listing of all points shows (any valid point resolves even if not listed).</summary>
    public const int RecentPoints = 10;

    public IProjectStore Store { get; } = store;
    public long LastSeq => Store.LastSeq;

    /// <summary>The event number a point's name stands for, or null if it names no point of this history
    /// (malformed, an unknown snapshot, an event not recorded yet, "latest" — which moves and so is no point).</summary>
    public long? ResolvePoint(string name)
    {
        try
        {
            var point = StorePoint.Parse(name);
            if (point.Kind == StorePoint.PointKind.Latest) return null;
            long last = Store.LastSeq;
            long seq = Store.Resolve(point);
            return seq >= 0 && seq <= last ? seq : null;
        }
        catch (Exception e) when (e is FormatException or StoreException or ArgumentException) { return null; }
    }

    /// <summary>The names a listing of all points shows: snapshots, then the most recent events, newest first.</summary>
    public IReadOnlyList<string> PointNames()
    {
        var names = new List<string>();
        foreach (var snap in Store.Snapshots()) names.Add(snap.Name);
        long last = Store.LastSeq;
        for (long s = last; s > 0 && s > last - RecentPoints; s--) names.Add($"@{s}");
        return names;
    }

    /// <summary>The entry <paramref name="name"/> of directory <paramref name="dir"/> as of event <paramref name="seq"/>, or null.</summary>
    public DirEntry? Lookup(long seq, string dir, string name)
    {
        try { return Store.Lookup(dir, name, seq); }
        catch (Exception e) when (e is StoreException or ArgumentException) { return null; }
    }

    /// <summary>The entries of <paramref name="dir"/> as of <paramref name="seq"/>; null if it was no directory then.</summary>
    public IReadOnlyList<DirEntry>? List(long seq, string dir)
    {
        try { return Store.List(dir, seq); }
        catch (StoreException) { return null; }
    }

    /// <summary>The version of <paramref name="path"/> valid at <paramref name="seq"/>, or null if it did not exist.</summary>
    public NodeVersion? Attributes(long seq, string path)
    {
        try { return Store.Attributes(path, seq); }
        catch (StoreException) { return null; }
    }

    /// <summary>The link count stat shows for a node as of <paramref name="seq"/>: its names then, for a directory 2 plus
    /// its subdirectories (see <see cref="IProjectStore.LinkCount"/>); 0 if it did not exist.</summary>
    public long LinkCount(long seq, long fileId)
    {
        try { return Store.LinkCount(fileId, seq); }
        catch (StoreException) { return 0; }
    }

    /// <summary>The modification time directory <paramref name="fileId"/> had as of <paramref name="seq"/>, its entries' changes
    /// included (see <see cref="IProjectStore.DirectoryMtime"/>); null if it was no directory then.</summary>
    public long? DirectoryMtime(long seq, long fileId)
    {
        try { return Store.DirectoryMtime(fileId, seq); }
        catch (StoreException) { return null; }
    }

    /// <summary>Where the bytes of <paramref name="path"/> as of <paramref name="seq"/> are (a stored object or the
    /// live file, when it has not changed since), or why they are not kept; null if it did not exist.</summary>
    public FileContent? Content(long seq, string path)
    {
        try { return Store.Content(path, seq); }
        catch (StoreException) { return null; }
    }

    /// <summary>The target of a symlink as of <paramref name="seq"/>, as the bytes readlink gives (not always UTF-8).</summary>
    /// <exception cref="StoreException">it was not a symlink then, or its target was not kept.</exception>
    public byte[] SymlinkTarget(long seq, string path)
    {
        using var stream = Store.OpenContent(path, seq);
        using var bytes = new MemoryStream();
        stream.CopyTo(bytes);
        return bytes.ToArray();
    }

    /// <summary>Opens the bytes of a <see cref="FileContent"/> of <paramref name="store"/> (chunks, a whole object or the
    /// live file, reached descriptor-relatively), or throws saying why they are not available.</summary>
    /// <param name="point">How the caller named the point, for the message.</param>
    public static Stream Open(IProjectStore store, FileContent content, string point) => store.OpenStored(content, point);

    public static byte[] ReadAll(IProjectStore store, FileContent content, string point)
    {
        using var s = Open(store, content, point);
        using var ms = new MemoryStream();
        s.CopyTo(ms);
        return ms.ToArray();
    }
}
