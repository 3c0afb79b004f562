using System.Runtime.InteropServices;

namespace Lighthouse.Store.Native;

internal static class FileStat
{
    public static FileKind KindOf(int mode) => (mode & Libc.S_IFMT) switch
    {
        Libc.S_IFDIR => FileKind.Directory,
        Libc.S_IFREG => FileKind.File,
        Libc.S_IFLNK => FileKind.Symlink,
        _ => FileKind.Other,
    };

    public static NodeAttributes ToAttributes(in Libc.Statx st) => new(
        KindOf(st.Mode),
        KindOf(st.Mode) == FileKind.Directory ? 0 : (long)st.Size,
        st.Mode & 0xFFF,
        st.Mtime.Seconds * 1_000_000_000L + st.Mtime.Nanoseconds,
        (long)st.Inode);

    /// <summary>lstat of an absolute path; null if it does not exist.</summary>
    public static NodeAttributes? Lstat(string path)
    {
        if (Libc.StatxPath(Libc.AT_FDCWD, path, Libc.AT_SYMLINK_NOFOLLOW, Libc.STATX_BASIC_STATS, out var st) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            if (errno is Libc.ENOENT or Libc.ENOTDIR) return null;
            throw new StoreException($"cannot stat {path}: {Libc.ErrorText(errno)}");
        }
        return ToAttributes(st);
    }
}
