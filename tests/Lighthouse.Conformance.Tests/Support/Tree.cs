using System.Security.Cryptography;
using System.Text;
using Xunit.Sdk;

namespace Lighthouse.Conformance.Tests.Support;

[Flags]
public enum TreeOpts
{
    None = 0,
    /// <summary>Compare modification times (ns) of every entry.</summary>
    Mtime = 1,
    /// <summary>Compare link counts and which names are hard links of each other.</summary>
    Links = 2,
    /// <summary>Compare owner and group.</summary>
    Owner = 4,
    Default = Links | Owner,
}

/// <summary>One entry of a tree as compared: type, permission bits, size (not for directories),
/// content hash, symlink target, and optionally times, links, owners. Inode numbers never.</summary>
public sealed record TreeEntry(string Type, string Mode, long Size, string? Content, string? Target,
    long Mtime, uint Nlink, string? LinkGroup, uint Uid, uint Gid, string Rdev)
{
    public override string ToString()
    {
        var sb = new StringBuilder($"{Type} {Mode}");
        if (Type == "f") sb.Append($" size={Size} sha={Content?[..12]}");
        if (Type == "l") sb.Append($" -> {Target}");
        if (Mtime != 0) sb.Append($" mtime={Mtime}");
        if (Nlink != 0) sb.Append($" nlink={Nlink}");
        if (LinkGroup != null) sb.Append($" linkgroup={LinkGroup}");
        sb.Append($" owner={Uid}:{Gid}");
        if (Rdev != "0:0") sb.Append($" rdev={Rdev}");
        return sb.ToString();
    }
}

public static class Tree
{
    /// <summary>Walks <paramref name="root"/> (readdir + lstat, not following symlinks), hashing file contents.</summary>
    public static SortedDictionary<string, TreeEntry> Snap(string root, TreeOpts opts = TreeOpts.Default,
        Func<string, bool>? exclude = null)
    {
        var raw = new List<(string Rel, St St, string? Target, string? Hash)>();
        Walk(root, "", raw, exclude);
        var groups = new Dictionary<(uint, uint, ulong), string>();
        if (opts.HasFlag(TreeOpts.Links))
            foreach (var (rel, st, _, _) in raw.OrderBy(r => r.Rel, StringComparer.Ordinal))
                if (!st.IsDir && st.Nlink > 1)
                    groups.TryAdd((st.DevMajor, st.DevMinor, st.Ino), rel);
        var result = new SortedDictionary<string, TreeEntry>(StringComparer.Ordinal);
        foreach (var (rel, st, target, hash) in raw)
        {
            string type = st.Type switch
            {
                Sys.S_IFREG => "f", Sys.S_IFDIR => "d", Sys.S_IFLNK => "l", Sys.S_IFIFO => "p",
                Sys.S_IFSOCK => "s", Sys.S_IFCHR => "c", Sys.S_IFBLK => "b", _ => "?",
            };
            string? group = null;
            if (opts.HasFlag(TreeOpts.Links) && !st.IsDir && st.Nlink > 1)
                group = groups[(st.DevMajor, st.DevMinor, st.Ino)];
            result[rel] = new TreeEntry(type, Convert.ToString(st.Perm, 8), st.IsDir ? -1 : st.Size, hash, target,
                opts.HasFlag(TreeOpts.Mtime) ? st.MtimeNs : 0,
                opts.HasFlag(TreeOpts.Links) ? st.Nlink : 0, group,
                opts.HasFlag(TreeOpts.Owner) ? st.Uid : 0, opts.HasFlag(TreeOpts.Owner) ? st.Gid : 0,
                $"{st.RdevMajor}:{st.RdevMinor}");
        }
        return result;
    }

    private static void Walk(string root, string rel, List<(string, St, string?, string?)> acc, Func<string, bool>? exclude)
    {
        string dir = rel.Length == 0 ? root : Path.Join(root, rel);
        foreach (var (name, _) in Sys.ReadDir(dir))
        {
            if (name is "." or "..") continue;
            string r = rel.Length == 0 ? name : rel + "/" + name;
            if (exclude != null && exclude(r)) continue;
            string full = Path.Join(root, r);
            var st = Sys.Lstat(full);
            string? target = null, hash = null;
            if (st.IsLnk) target = Sys.ReadLink(full, out _);
            else if (st.IsReg) hash = Convert.ToHexString(SHA256.HashData(Sys.ReadFile(full))).ToLowerInvariant();
            acc.Add((r, st, target, hash));
            if (st.IsDir) Walk(root, r, acc, exclude);
        }
    }

    /// <summary>Requires two trees to be identical (under <paramref name="opts"/>), listing the differences.</summary>
    public static void AssertSame(string what, string a, string b, TreeOpts opts = TreeOpts.Default,
        Func<string, bool>? exclude = null)
    {
        var ta = Snap(a, opts, exclude);
        var tb = Snap(b, opts, exclude);
        AssertSame(what, ta, tb, a, b);
    }

    public static void AssertSame(string what, SortedDictionary<string, TreeEntry> ta,
        SortedDictionary<string, TreeEntry> tb, string a, string b)
    {
        var diffs = new List<string>();
        foreach (var (k, v) in ta)
        {
            if (!tb.TryGetValue(k, out var w)) diffs.Add($"only in {a}: {k} ({v})");
            else if (v != w) diffs.Add($"{k}:\n      {a}: {v}\n      {b}: {w}");
        }
        foreach (var (k, v) in tb)
            if (!ta.ContainsKey(k)) diffs.Add($"only in {b}: {k} ({v})");
        if (diffs.Count > 0)
            throw new XunitException(
                $"{what}: trees differ in {diffs.Count} entries (of {ta.Count} / {tb.Count}); first ones:\n  " +
                string.Join("\n  ", diffs.Take(25)));
    }
}
