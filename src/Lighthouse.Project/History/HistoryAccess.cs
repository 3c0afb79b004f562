using Lighthouse.Store;

namespace Lighthouse.Project.History;

/// <summary>Who reads history: a user id, a primary group and the supplementary groups (as the kernel checks them).</summary>
public sealed record HistoryReader(long Uid, long Gid, IReadOnlyCollection<long> Groups)
{
    /// <summary>uid 0 reads everything, as it does in current/.</summary>
    public bool IsRoot => Uid == 0;

    public bool InGroup(long gid) => gid == Gid || Groups.Contains(gid);

    /// <summary>
    /// A process's reader: its uid and gid (from SO_PEERCRED, say) and its supplementary groups from the
    /// <c>Groups:</c> line of /proc/&lt;pid&gt;/status (none if the process is gone or the line cannot be read).
    /// </summary>
    public static HistoryReader OfProcess(int pid, long uid, long gid)
    {
        var groups = new List<long>();
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (!line.StartsWith("Groups:", StringComparison.Ordinal)) continue;
                foreach (var token in line[7..].Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries))
                    if (long.TryParse(token, out var g)) groups.Add(g);
                break;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        return new HistoryReader(uid, gid, groups);
    }
}

/// <summary>The permission bits asked for: r, w, x (their values are those of the mode's bits).</summary>
[Flags]
public enum Permission { None = 0, Execute = 1, Write = 2, Read = 4 }

/// <summary>
/// "What may this user read of the project as of event N": the same rule the kernel applies to current/, on the
/// owner, group and mode each entry had at N. A name is visible if its directory granted read and every directory
/// above that one search (x); a file's content is readable if every directory above it granted search and the file
/// itself read. The owner's bits apply to the owner (even if the group's or others' grant more), the group's to a
/// member of the file's group (primary or supplementary), the others' to everyone else; root reads everything.
/// One instance per request: it caches the directories it looked at.
/// </summary>
public sealed class HistoryAccess(IProjectStore store, HistoryReader reader)
{
    private readonly Dictionary<(string Path, long Seq), NodeAttributes?> _nodes = [];

    public HistoryReader Reader { get; } = reader;

    /// <summary>What a reply says where it withholds something.</summary>
    public static string Withheld(long seq) => $"withheld: no read permission as of @{seq}";

    /// <summary>The bits <paramref name="reader"/> is granted on an entry with these attributes.</summary>
    public static bool Allows(HistoryReader reader, NodeAttributes entry, Permission wanted)
    {
        if (reader.IsRoot) return true;
        int bits = reader.Uid == entry.Uid ? (entry.Mode >> 6) & 7
            : reader.InGroup(entry.Gid) ? (entry.Mode >> 3) & 7
            : entry.Mode & 7;
        return (bits & (int)wanted) == (int)wanted;
    }

    /// <summary>Whether the reader could learn the name <paramref name="path"/> as of event <paramref name="seq"/> (by listing its directory).</summary>
    public bool CanSeeName(string path, long seq)
    {
        if (Reader.IsRoot || path.Length == 0) return true;
        var parent = Parent(path);
        return CanReach(parent, seq) && Grants(parent, seq, Permission.Read);
    }

    /// <summary>Whether the reader could read the bytes of the file at <paramref name="path"/> as of event <paramref name="seq"/>.</summary>
    public bool CanReadContent(string path, long seq)
    {
        if (Reader.IsRoot) return true;
        return (path.Length == 0 || CanReach(Parent(path), seq) && Grants(Parent(path), seq, Permission.Execute))
               && Grants(path, seq, Permission.Read);
    }

    /// <summary>
    /// Whether the path an event names may be shown: visible as of the event, or, for a name the event removed (an
    /// unlink, the old name of a rename) or whose directory it removed, just before it.
    /// </summary>
    public bool CanSeeEventPath(string path, long seq)
    {
        if (Reader.IsRoot || path.Length == 0) return true;
        var parent = Parent(path);
        return Node(parent, seq) is not null ? CanSeeName(path, seq) : seq > 1 && CanSeeName(path, seq - 1);
    }

    /// <summary>Like <see cref="CanReadContent"/> for the file an event recorded: as of the event, or just before it for one the event removed.</summary>
    public bool CanReadEventContent(string path, long seq) =>
        Node(path, seq) is not null ? CanReadContent(path, seq) : seq > 1 && CanReadContent(path, seq - 1);

    /// <summary>Every directory above <paramref name="dir"/>, from the root down, grants search (x) as of seq.</summary>
    private bool CanReach(string dir, long seq)
    {
        if (dir.Length == 0) return true;
        for (var d = Parent(dir); ; d = Parent(d))
        {
            if (!Grants(d, seq, Permission.Execute)) return false;
            if (d.Length == 0) return true;
        }
    }

    private bool Grants(string path, long seq, Permission wanted) =>
        Node(path, seq) is { } a && Allows(Reader, a, wanted);

    private NodeAttributes? Node(string path, long seq)
    {
        if (_nodes.TryGetValue((path, seq), out var cached)) return cached;
        NodeAttributes? a;
        try
        {
            a = store.Attributes(path, StorePoint.AtEvent(seq)).Attributes;
        }
        catch (StorePathNotFoundException)
        {
            a = null;
        }
        catch (PointNotFoundException)
        {
            a = null;
        }
        _nodes[(path, seq)] = a;
        return a;
    }

    private static string Parent(string path) => StorePath.Parent(path);
}
