using System.Runtime.InteropServices;
using Lighthouse.Interop;
using Lighthouse.Store;

namespace Lighthouse.Cli.Commands;

/// <summary>The few system calls the verbs make, through the bindings the lower layers already have.</summary>
public static unsafe class Native
{
    public const int MNT_DETACH = 2;
    public const int EBUSY = 16;

    public static uint Geteuid() => Libc.GetEuid();

    /// <summary>umount2(2); returns 0 or the errno.</summary>
    public static int Unmount(string target, int flags) => Libc.Umount2(target, flags) == 0 ? 0 : Libc.Errno;

    public static string ErrorText(int errno) => Marshal.GetPInvokeErrorMessage(errno);

    /// <summary>lstat as the store records it; null if the path does not exist.</summary>
    public static NodeAttributes? Lstat(string path) => NodeAttributes.Of(path);

    private static bool Stat(string path, out StatxBuf st)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(path + "\0");
        StatxBuf buf;
        int rc;
        fixed (byte* p = bytes) rc = Libc.Statx(Libc.AT_FDCWD, p, Libc.AT_SYMLINK_NOFOLLOW, Libc.STATX_BASIC_STATS, &buf);
        st = buf;
        return rc == 0;
    }

    /// <summary>Whether the path (not following a final symlink) is a Unix domain socket.</summary>
    public static bool IsSocket(string path) => Stat(path, out var st) && (st.Mode & 0xF000) == 0xC000;
}
