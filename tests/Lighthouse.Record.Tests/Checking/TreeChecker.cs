using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Lighthouse.Record.Tests.Checking;

/// <summary>One way in which an entry of history/ differs from the same entry of current/.</summary>
public sealed record TreeDifference(string Path, string Field, string Current, string History)
{
    public override string ToString() => $"{Shorten(Path)}: {Field}: current {Current}, history {History}";

    /// <summary>A path (or a line with paths) with its long names cut short ("deep00ddd…(200)"), so a line about an
    /// entry deeper than PATH_MAX still reads as a line.</summary>
    public static string Shorten(string text) =>
        Regex.Replace(text, """[^/\s'"]{33,}""", m => $"{m.Value[..9]}…({m.Value.Length})");
}

/// <summary>What a comparison found: every difference, and how many entries each side had.</summary>
public sealed class TreeReport
{
    public required string CurrentRoot { get; init; }
    public required string HistoryRoot { get; init; }
    public int CurrentEntries { get; internal set; }
    public int HistoryEntries { get; internal set; }
    public int Compared { get; internal set; }
    public List<TreeDifference> Differences { get; } = [];
    public bool Clean => Differences.Count == 0;

    public IReadOnlyDictionary<string, int> CountsByField =>
        Differences.GroupBy(d => d.Field).OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Count());

    /// <summary>Totals, counts per field, then up to <paramref name="maxLines"/> differences (the first few of each field first).</summary>
    public string Describe(int maxLines = 60)
    {
        var text = new StringBuilder();
        text.AppendLine($"{CurrentRoot} vs {HistoryRoot}: {CurrentEntries} entries in current, {HistoryEntries} in history, " +
                        $"{Compared} on both sides; {Differences.Count} differences" +
                        (Clean ? "" : " (" + string.Join(", ", CountsByField.Select(c => $"{c.Key} {c.Value}")) + ")"));
        // A few of every field before the rest, so one noisy field does not hide the others.
        var shown = Differences.GroupBy(d => d.Field).SelectMany(g => g.Take(5)).ToList();
        shown.AddRange(Differences.Except(shown));
        foreach (var difference in shown.Take(maxLines)) text.AppendLine("  " + difference);
        if (Differences.Count > maxLines) text.AppendLine($"  ... and {Differences.Count - maxLines} more");
        return text.ToString();
    }

    public override string ToString() => Describe();
}

/// <summary>
/// Compares current/ with history/ at a point, entry by entry: type, size, SHA-256 of a file's bytes, a symlink's
/// target bytes, rdev, uid, gid, mode, link count, mtime, and which names are hard links of one file. Walks both
/// trees through directory descriptors (openat, statx, readlinkat, getdents64), so it reaches paths deeper than
/// PATH_MAX. The roots themselves are not compared: history/&lt;point&gt;/ is a directory the mount makes up.
/// </summary>
public sealed class TreeChecker
{
    /// <summary>history/ shows every mode without its write bits, on purpose (a read-only view: HistorySection),
    /// so by default those bits are left out of the mode compared.</summary>
    public bool IgnoreWriteBits { get; init; } = true;

    private const uint WriteBits = 0x92; // 0222

    public TreeReport Compare(string currentRoot, string historyRoot)
    {
        var report = new TreeReport { CurrentRoot = currentRoot, HistoryRoot = historyRoot };
        int current = At.OpenDirectory(Libc.AT_FDCWD, currentRoot);
        if (current < 0) throw new IOException($"cannot open {currentRoot}: {Errno.Name(Libc.Errno)}");
        int history = At.OpenDirectory(Libc.AT_FDCWD, historyRoot);
        if (history < 0) { Libc.Close(current); throw new IOException($"cannot open {historyRoot}: {Errno.Name(Libc.Errno)}"); }
        var links = new HardLinks();
        try { CompareDirectories(current, history, "", report, links); }
        finally { Libc.Close(current); Libc.Close(history); }
        links.Report(report);
        return report;
    }

    private void CompareDirectories(int current, int history, string dir, TreeReport report, HardLinks links)
    {
        var inCurrent = ListOrReport(current, dir, "current", report);
        var inHistory = ListOrReport(history, dir, "history", report);
        if (inCurrent is null || inHistory is null) return;
        report.CurrentEntries += inCurrent.Count;
        report.HistoryEntries += inHistory.Count;
        var historyNames = inHistory.Select(e => e.Name).ToHashSet(StringComparer.Ordinal);
        var currentNames = inCurrent.Select(e => e.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var entry in inHistory.Where(e => !currentNames.Contains(e.Name)))
            report.Differences.Add(new TreeDifference(Join(dir, entry.Name), "exists", "missing", Describe(history, entry.Name)));
        foreach (var entry in inCurrent)
        {
            string path = Join(dir, entry.Name);
            if (!historyNames.Contains(entry.Name))
            {
                report.Differences.Add(new TreeDifference(path, "exists", Describe(current, entry.Name), "missing"));
                continue;
            }
            report.Compared++;
            var a = Facts.Of(current, entry.Name);
            var b = Facts.Of(history, entry.Name);
            CompareEntries(path, a, b, report);
            links.Add(path, a, b);
            if (a.IsDirectory && b.IsDirectory) Descend(current, history, entry.Name, path, report, links);
        }
    }

    private void Descend(int current, int history, string name, string path, TreeReport report, HardLinks links)
    {
        int a = At.OpenDirectory(current, name);
        if (a < 0) { report.Differences.Add(new TreeDifference(path, "readable", Errno.Name(Libc.Errno), "-")); return; }
        int b = At.OpenDirectory(history, name);
        if (b < 0) { report.Differences.Add(new TreeDifference(path, "readable", "yes", Errno.Name(Libc.Errno))); Libc.Close(a); return; }
        try { CompareDirectories(a, b, path, report, links); }
        finally { Libc.Close(a); Libc.Close(b); }
    }

    private static List<DirectoryEntry>? ListOrReport(int fd, string dir, string side, TreeReport report)
    {
        var list = At.List(fd);
        if (list is null)
            report.Differences.Add(new TreeDifference(dir.Length == 0 ? "." : dir, "listing",
                side == "current" ? Errno.Name(Libc.Errno) : "-", side == "history" ? Errno.Name(Libc.Errno) : "-"));
        return list;
    }

    private void CompareEntries(string path, Facts a, Facts b, TreeReport report)
    {
        void Check(string field, string current, string history)
        {
            if (current != history) report.Differences.Add(new TreeDifference(path, field, current, history));
        }
        if (a.Problem is not null || b.Problem is not null)
        {
            Check("stat", a.Problem ?? "ok", b.Problem ?? "ok");
            return;
        }
        Check("type", a.TypeName, b.TypeName);
        if (a.Type != b.Type) return; // the other fields of two different kinds of thing say nothing more
        if (!a.IsDirectory) Check("size", a.Stat.Size.ToString(CultureInfo.InvariantCulture), b.Stat.Size.ToString(CultureInfo.InvariantCulture));
        if (a.IsFile) Check("content", a.Content!, b.Content!);
        if (a.IsSymlink) Check("target", a.Target!, b.Target!);
        Check("rdev", $"{a.Stat.RdevMajor}:{a.Stat.RdevMinor}", $"{b.Stat.RdevMajor}:{b.Stat.RdevMinor}");
        Check("uid", a.Stat.Uid.ToString(CultureInfo.InvariantCulture), b.Stat.Uid.ToString(CultureInfo.InvariantCulture));
        Check("gid", a.Stat.Gid.ToString(CultureInfo.InvariantCulture), b.Stat.Gid.ToString(CultureInfo.InvariantCulture));
        uint mask = IgnoreWriteBits ? 0xFFF & ~WriteBits : 0xFFFu;
        Check("mode", Octal(a.Stat.Mode & mask), Octal(b.Stat.Mode & mask));
        Check("nlink", a.Stat.Nlink.ToString(CultureInfo.InvariantCulture), b.Stat.Nlink.ToString(CultureInfo.InvariantCulture));
        Check("mtime", Time(a.Stat.MtimeSec, a.Stat.MtimeNsec), Time(b.Stat.MtimeSec, b.Stat.MtimeNsec));
    }

    private static string Describe(int dirFd, string name)
    {
        var facts = Facts.Of(dirFd, name, readContent: false);
        return facts.Problem ?? facts.TypeName;
    }

    private static string Join(string dir, string name) => dir.Length == 0 ? name : dir + "/" + name;
    private static string Octal(uint mode) => Convert.ToString(mode, 8).PadLeft(4, '0');

    private static string Time(long seconds, uint nanoseconds) =>
        DateTimeOffset.FromUnixTimeSeconds(seconds).UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss", CultureInfo.InvariantCulture) +
        "." + nanoseconds.ToString("D9", CultureInfo.InvariantCulture) + "Z";

    /// <summary>What one side says of one entry; <see cref="Problem"/> when it could not be read.</summary>
    private sealed class Facts
    {
        public StatxBuf Stat;
        public string? Problem, Content, Target;
        public uint Type => (uint)Stat.Mode & Libc.S_IFMT;
        public bool IsDirectory => Problem is null && Type == Libc.S_IFDIR;
        public bool IsFile => Type == Libc.S_IFREG;
        public bool IsSymlink => Type == Libc.S_IFLNK;
        public string TypeName => At.TypeName(Stat.Mode);

        public static Facts Of(int dirFd, string name, bool readContent = true)
        {
            var facts = new Facts();
            if (!At.Lstat(dirFd, name, out facts.Stat)) { facts.Problem = "stat failed: " + Errno.Name(Libc.Errno); return facts; }
            if (!readContent) return facts;
            if (facts.IsFile) facts.Content = HashContent(dirFd, name);
            if (facts.IsSymlink)
                facts.Target = At.ReadLink(dirFd, name) is { } target ? Printable(target) : "readlink failed: " + Errno.Name(Libc.Errno);
            return facts;
        }

        /// <summary>"sha256:&lt;first 16 hex digits&gt;", or why the bytes could not be read.</summary>
        private static string HashContent(int dirFd, string name) =>
            At.Sha256(dirFd, name, out long length, out string? problem) is { } hash ? $"sha256:{hash[..16]} ({length} bytes read)" : problem!;

        private static string Printable(byte[] target)
        {
            string text = Encoding.UTF8.GetString(target);
            if (text.Length > 80) text = text[..40] + $"…({target.Length} bytes)…" + text[^20..];
            return "\"" + text + "\"";
        }
    }

    /// <summary>Which names are one file: names that share an inode in current/ must share one in history/ and the
    /// other way round (history shows a file's id as its inode number).</summary>
    private sealed class HardLinks
    {
        private readonly List<(string Path, ulong Current, ulong History)> _linked = [];

        public void Add(string path, Facts current, Facts history)
        {
            if (current.Problem is null && history.Problem is null && !current.IsDirectory && !history.IsDirectory &&
                (current.Stat.Nlink > 1 || history.Stat.Nlink > 1))
                _linked.Add((path, current.Stat.Ino, history.Stat.Ino));
        }

        public void Report(TreeReport report)
        {
            Compare(report, _linked.GroupBy(l => l.Current), l => l.History, "one file in current, {0} files in history");
            Compare(report, _linked.GroupBy(l => l.History), l => l.Current, "{0} files in current, one file in history");
        }

        private static void Compare(TreeReport report, IEnumerable<IGrouping<ulong, (string Path, ulong Current, ulong History)>> groups,
            Func<(string Path, ulong Current, ulong History), ulong> other, string format)
        {
            foreach (var group in groups)
            {
                int files = group.Select(other).Distinct().Count();
                if (files <= 1) continue;
                var names = group.Select(l => l.Path).Order(StringComparer.Ordinal).ToList();
                string[] sides = string.Format(CultureInfo.InvariantCulture, format, files).Split(", ");
                report.Differences.Add(new TreeDifference(string.Join(" = ", names), "hard links", sides[0], sides[1]));
            }
        }
    }
}
