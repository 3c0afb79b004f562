using System.Text;

namespace Lighthouse.Fuse.Mounting;

/// <summary>One line of <c>/proc/self/mountinfo</c>, with the octal escapes (<c>\040</c> …) decoded.</summary>
internal sealed record MountInfoEntry(
    int MountId,
    int ParentId,
    uint Major,
    uint Minor,
    string Root,
    string MountPoint,
    string MountOptions,
    string FsType,
    string Source,
    string SuperOptions)
{
    public bool IsFuse => FsType == "fuse" || FsType.StartsWith("fuse.", StringComparison.Ordinal)
                          || FsType == "fuseblk" || FsType.StartsWith("fuseblk.", StringComparison.Ordinal);

    /// <summary>The per-mount options (field 6) and superblock options, as one set.</summary>
    public bool HasOption(string option)
    {
        foreach (string list in new[] { MountOptions, SuperOptions })
            foreach (string o in list.Split(','))
                if (o == option) return true;
        return false;
    }

    /// <summary>Value of <c>name=value</c> in the superblock options, or null.</summary>
    public string? SuperOption(string name)
    {
        foreach (string o in SuperOptions.Split(','))
            if (o.StartsWith(name + "=", StringComparison.Ordinal)) return o[(name.Length + 1)..];
        return null;
    }
}

internal static class MountInfo
{
    public const string SelfPath = "/proc/self/mountinfo";

    public static IReadOnlyList<MountInfoEntry> Read(string path = SelfPath)
    {
        var result = new List<MountInfoEntry>();
        foreach (string line in File.ReadAllLines(path))
        {
            MountInfoEntry? e = ParseLine(line);
            if (e is not null) result.Add(e);
        }
        return result;
    }

    /// <summary>The top-most mount at exactly <paramref name="canonicalPath"/> (the last one listed), or null.</summary>
    public static MountInfoEntry? Find(string canonicalPath)
    {
        MountInfoEntry? found = null;
        foreach (MountInfoEntry e in Read())
            if (e.MountPoint == canonicalPath) found = e;
        return found;
    }

    /// <summary>
    /// Parses "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue".
    /// Returns null for a malformed line.
    /// </summary>
    public static MountInfoEntry? ParseLine(string line)
    {
        string[] f = line.Split(' ');
        if (f.Length < 9) return null;
        int dash = Array.IndexOf(f, "-", 6);
        if (dash < 6 || dash + 2 >= f.Length) return null;
        string[] dev = f[2].Split(':');
        if (dev.Length != 2 || !int.TryParse(f[0], out int id) || !int.TryParse(f[1], out int parent)
            || !uint.TryParse(dev[0], out uint major) || !uint.TryParse(dev[1], out uint minor))
            return null;
        return new MountInfoEntry(
            id, parent, major, minor,
            Unescape(f[3]), Unescape(f[4]), f[5],
            Unescape(f[dash + 1]), Unescape(f[dash + 2]),
            dash + 3 < f.Length ? Unescape(f[dash + 3]) : "");
    }

    /// <summary>Decodes the kernel's <c>\ooo</c> escapes (space, tab, newline, backslash, …).</summary>
    public static string Unescape(string s)
    {
        if (!s.Contains('\\')) return s;
        var bytes = new List<byte>(s.Length);
        byte[] raw = Encoding.UTF8.GetBytes(s);
        for (int i = 0; i < raw.Length; i++)
        {
            if (raw[i] == (byte)'\\' && IsOctal(raw, i + 1) && IsOctal(raw, i + 2) && IsOctal(raw, i + 3))
            {
                bytes.Add((byte)(((raw[i + 1] - '0') << 6) | ((raw[i + 2] - '0') << 3) | (raw[i + 3] - '0')));
                i += 3;
            }
            else
            {
                bytes.Add(raw[i]);
            }
        }
        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    private static bool IsOctal(byte[] raw, int i) => i < raw.Length && raw[i] >= (byte)'0' && raw[i] <= (byte)'7';
}
