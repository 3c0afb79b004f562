using System.Runtime.InteropServices;
using System.Text;
using Lighthouse.Interop;
using Lighthouse.Store.Native;

namespace Lighthouse.Store.Reconciliation;

/// <summary>What is on disk under a directory: path → lstat attributes, plus names that had to be skipped.</summary>
internal sealed class ScanResult
{
    public Dictionary<string, NodeAttributes> Nodes { get; } = new(StringComparer.Ordinal);
    public List<string> Skipped { get; } = [];
}

/// <summary>
/// Walks a project directory with openat/readdir/statx relative to directory descriptors (no
/// absolute path per file, inode numbers included, names kept as bytes until checked as UTF-8).
/// Skips the store's own <c>.lighthouse/</c> at the project root.
/// </summary>
internal static unsafe class DirectoryScanner
{
    private static readonly UTF8Encoding StrictUtf8 = new(false, true);

    public static ScanResult Scan(string projectDir, string scope, Action<int>? progress = null)
    {
        var result = new ScanResult();
        var start = scope.Length == 0 ? projectDir : Path.Combine(projectDir, scope);
        var fd = Libc.Open(start, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0);
        if (fd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            if (errno is Libc.ENOENT or Libc.ENOTDIR) return result;
            throw new StoreException($"cannot open directory {start}: {Libc.ErrorText(errno)}");
        }
        ScanDirectory(fd, scope, scope.Length == 0, result, progress);
        return result;
    }

    private static void ScanDirectory(int fd, string relDir, bool isProjectRoot, ScanResult result, Action<int>? progress)
    {
        var dir = Libc.FdOpenDir(fd);
        if (dir == 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            Libc.Close(fd);
            throw new StoreException($"cannot read directory '{relDir}': {Libc.ErrorText(errno)}");
        }
        try
        {
            var subdirs = new List<(byte[] Name, string Path)>();
            while (true)
            {
                Marshal.SetLastPInvokeError(0);
                var ent = Libc.ReadDir(dir);
                if (ent == 0)
                {
                    var errno = Marshal.GetLastPInvokeError();
                    if (errno != 0) throw new StoreException($"cannot read directory '{relDir}': {Libc.ErrorText(errno)}");
                    break;
                }
                var namePtr = (byte*)ent + Libc.DirentNameOffset;
                var name = MemoryMarshal.CreateReadOnlySpanFromNullTerminated(namePtr);
                if (name.SequenceEqual("."u8) || name.SequenceEqual(".."u8)) continue;
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
                if (Libc.Statx(fd, namePtr, Libc.AT_SYMLINK_NOFOLLOW, Libc.STATX_BASIC_STATS, &st) != 0)
                {
                    var errno = Marshal.GetLastPInvokeError();
                    if (errno == Libc.ENOENT) continue; // removed while we were looking
                    throw new StoreException($"cannot stat '{rel}': {Libc.ErrorText(errno)}");
                }
                var attrs = FileStat.ToAttributes(st);
                result.Nodes[rel] = attrs;
                if (attrs.Kind == FileKind.Directory)
                {
                    var terminated = new byte[name.Length + 1];
                    name.CopyTo(terminated);
                    subdirs.Add((terminated, rel));
                }
            }
            progress?.Invoke(result.Nodes.Count);
            foreach (var (name, rel) in subdirs)
            {
                int child;
                fixed (byte* p = name)
                    child = Libc.OpenAt(fd, p, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0);
                if (child < 0)
                {
                    var errno = Marshal.GetLastPInvokeError();
                    if (errno is Libc.ENOENT or Libc.ENOTDIR) { result.Nodes.Remove(rel); continue; }
                    throw new StoreException($"cannot open directory '{rel}': {Libc.ErrorText(errno)}");
                }
                ScanDirectory(child, rel, false, result, progress);
            }
        }
        finally
        {
            Libc.CloseDir(dir);
        }
    }
}
