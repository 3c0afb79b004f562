using System.Runtime.InteropServices;
using Lighthouse.Interop;
using Microsoft.Win32.SafeHandles;

namespace Lighthouse.Store.Native;

internal static class FileStat
{
    public static FileKind KindOf(int mode) => (mode & Libc.S_IFMT) switch
    {
        Libc.S_IFDIR => FileKind.Directory,
        Libc.S_IFREG => FileKind.File,
        Libc.S_IFLNK => FileKind.Symlink,
        Libc.S_IFIFO => FileKind.Fifo,
        Libc.S_IFSOCK => FileKind.Socket,
        Libc.S_IFCHR => FileKind.CharDevice,
        Libc.S_IFBLK => FileKind.BlockDevice,
        _ => FileKind.Other,
    };

    public static NodeAttributes ToAttributes(in StatxBuf st) => new(
        KindOf(st.Mode),
        KindOf(st.Mode) == FileKind.Directory ? 0 : (long)st.Size,
        st.Mode & 0xFFF,
        st.MtimeSec * 1_000_000_000L + st.MtimeNsec,
        (long)st.Ino,
        st.Uid,
        st.Gid,
        unchecked((long)Libc.MakeDev(st.RdevMajor, st.RdevMinor)));

    /// <summary>fstat of an open file.</summary>
    public static unsafe NodeAttributes Of(SafeFileHandle file)
    {
        StatxBuf st;
        fixed (byte* empty = "\0"u8)
            if (Libc.Statx((int)file.DangerousGetHandle(), empty, Libc.AT_EMPTY_PATH, Libc.STATX_BASIC_STATS, &st) != 0)
                throw new StoreException($"cannot stat an open file: {Libc.ErrorText(Marshal.GetLastPInvokeError())}");
        return ToAttributes(st);
    }

    /// <summary>lstat of an absolute path; null if it does not exist.</summary>
    public static unsafe NodeAttributes? Lstat(string path)
    {
        StatxBuf st;
        if (Libc.Statx(Libc.AT_FDCWD, path, Libc.AT_SYMLINK_NOFOLLOW, Libc.STATX_BASIC_STATS, &st) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            if (errno is Libc.ENOENT or Libc.ENOTDIR) return null;
            throw new StoreException($"cannot stat {path}: {Libc.ErrorText(errno)}");
        }
        return ToAttributes(st);
    }
}
