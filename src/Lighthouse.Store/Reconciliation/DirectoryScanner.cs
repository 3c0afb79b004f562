using System.Runtime.InteropServices;
using System.Text;
using Lighthouse.Interop;
using Lighthouse.Store.Native;

namespace Lighthouse.Store.Reconciliation;

/// <summary>What is on disk under a directory: path → lstat attributes, plus names that had to be skipped.</summary>
internal sealed class ScanResult
{
    public Dictionary<string, NodeAttributes> Nodes { get; } = new(StringComparer.Ordinal);
    /// <summary>The directory walked itself (not in <see cref="Nodes"/>); null if it is not there.</summary>
    public NodeAttributes? Scope { get; set; }
    public List<string> Skipped { get; } = [];
}

/// <summary>
/// Walks a project directory with openat/readdir/statx relative to directory descriptors (no
/// absolute path per file, inode numbers included, names kept as bytes until checked as UTF-8).
/// Depth first, holding one descriptor per level and never a path longer than one name, so a tree
/// deeper than PATH_MAX is walked like any other. Skips the store's own <c>.lighthouse/</c> at the project root.
/// </summary>
internal static unsafe class DirectoryScanner
{
    private static readonly UTF8Encoding StrictUtf8 = new(false, true);

    /// <summary>A directory being walked: its descriptor and the subdirectories still to visit.</summary>
    private sealed class Level(int fd)
    {
        public int Fd { get; } = fd;
        public List<(byte[] Name, string Path)> Subdirs { get; set; } = [];
        public int Next { get; set; }
    }

    /// <param name="root">A descriptor of the project directory.</param>
    public static ScanResult Scan(int root, string scope, Action<int>? progress = null)
    {
        var result = new ScanResult();
        int fd = ProjectTree.OpenDirectory(root, scope);
        if (fd < 0)
        {
            if (-fd is Libc.ENOENT or Libc.ENOTDIR) return result;
            throw new StoreException($"cannot open directory '{scope}': {Libc.ErrorText(-fd)}");
        }
        var levels = new Stack<Level>();
        try
        {
            result.Scope = FileStat.Of(new Microsoft.Win32.SafeHandles.SafeFileHandle(fd, ownsHandle: false));
            levels.Push(new Level(fd));
            levels.Peek().Subdirs = ReadDirectory(fd, scope, scope.Length == 0, result, progress);
            while (levels.TryPeek(out var level))
            {
                if (level.Next == level.Subdirs.Count)
                {
                    Libc.Close(levels.Pop().Fd);
                    continue;
                }
                var (name, rel) = level.Subdirs[level.Next++];
                int child;
                fixed (byte* p = name)
                    child = Libc.OpenAt(level.Fd, p, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0);
                if (child < 0)
                {
                    var errno = Marshal.GetLastPInvokeError();
                    if (errno is Libc.ENOENT or Libc.ENOTDIR) { result.Nodes.Remove(rel); continue; }
                    throw new StoreException($"cannot open directory '{rel}': {Libc.ErrorText(errno)}");
                }
                levels.Push(new Level(child));
                levels.Peek().Subdirs = ReadDirectory(child, rel, false, result, progress);
            }
        }
        finally
        {
            while (levels.TryPop(out var level)) Libc.Close(level.Fd);
        }
        return result;
    }

    /// <summary>Records the entries of one directory; returns its subdirectories (NUL-terminated names, paths).</summary>
    private static List<(byte[] Name, string Path)> ReadDirectory(int fd, string relDir, bool isProjectRoot, ScanResult result, Action<int>? progress)
    {
        var entries = new List<(byte[] Name, byte Type)>();
        int failed = ProjectTree.ReadEntries(fd, entries);
        if (failed != 0) throw new StoreException($"cannot read directory '{relDir}': {Libc.ErrorText(failed)}");
        var subdirs = new List<(byte[] Name, string Path)>();
        foreach (var (terminated, _) in entries)
        {
            var name = terminated.AsSpan(0, terminated.Length - 1);
            if (isProjectRoot && name.SequenceEqual(".lighthouse"u8)) continue;

            string text;
            try
            {
                text = StrictUtf8.GetString(name);
            }
            catch (DecoderFallbackException)
            {
                result.Skipped.Add($"'{StorePath.Combine(relDir, Encoding.UTF8.GetString(name))}': the name is not valid UTF-8, so it is not recorded (rename it to record it)");
                continue;
            }
            var rel = StorePath.Combine(relDir, text);
            StatxBuf st;
            fixed (byte* namePtr = terminated)
                if (Libc.Statx(fd, namePtr, Libc.AT_SYMLINK_NOFOLLOW, Libc.STATX_BASIC_STATS, &st) != 0)
                {
                    var errno = Marshal.GetLastPInvokeError();
                    if (errno == Libc.ENOENT) continue; // removed while we were looking
                    throw new StoreException($"cannot stat '{rel}': {Libc.ErrorText(errno)}");
                }
            var attrs = FileStat.ToAttributes(st);
            result.Nodes[rel] = attrs;
            if (attrs.Kind == FileKind.Directory) subdirs.Add((terminated, rel));
        }
        progress?.Invoke(result.Nodes.Count);
        return subdirs;
    }
}
