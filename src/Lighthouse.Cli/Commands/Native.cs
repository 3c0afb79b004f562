using System.Runtime.InteropServices;
using Lighthouse.Store;

namespace Lighthouse.Cli.Commands;

/// <summary>The libc calls the verbs need and .NET does not expose: statx (inode, ns mtime) and utimensat (ns mtime).</summary>
public static unsafe partial class Native
{
    private const int AT_FDCWD = -100;
    private const int AT_SYMLINK_NOFOLLOW = 0x100;
    private const uint STATX_BASIC_STATS = 0x7ff;
    private const long UTIME_OMIT = (1L << 30) - 2;

    [StructLayout(LayoutKind.Sequential)]
    private struct StatxTimestamp
    {
        public long Seconds;
        public uint Nanoseconds;
        public int Reserved;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Statx
    {
        public uint Mask;
        public uint BlockSize;
        public ulong Attributes;
        public uint Nlink;
        public uint Uid;
        public uint Gid;
        public ushort Mode;
        public ushort Spare0;
        public ulong Inode;
        public ulong Size;
        public ulong Blocks;
        public ulong AttributesMask;
        public StatxTimestamp Atime;
        public StatxTimestamp Btime;
        public StatxTimestamp Ctime;
        public StatxTimestamp Mtime;
        public uint RdevMajor;
        public uint RdevMinor;
        public uint DevMajor;
        public uint DevMinor;
        public fixed ulong Spare2[14];
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int StatxPath(int dirfd, string path, int flags, uint mask, out Statx buf);

    [LibraryImport("libc", EntryPoint = "utimensat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Utimensat(int dirfd, string path, Timespec* times, int flags);

    [LibraryImport("libc", EntryPoint = "umount2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Umount2(string target, int flags);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    public static partial uint Geteuid();

    public const int MNT_DETACH = 2;
    public const int EBUSY = 16;

    /// <summary>umount2(2); returns 0 or the errno.</summary>
    public static int Unmount(string target, int flags) => Umount2(target, flags) == 0 ? 0 : Marshal.GetLastPInvokeError();

    [LibraryImport("libc", EntryPoint = "strerror")]
    private static partial nint Strerror(int errnum);

    public static string ErrorText(int errno) => Marshal.PtrToStringUTF8(Strerror(errno)) ?? $"errno {errno}";

    /// <summary>lstat as the store records it (kind, size, mode &amp; 07777, mtime in ns, inode); null if the path does not exist.</summary>
    public static NodeAttributes? Lstat(string path)
    {
        if (StatxPath(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, out var st) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            if (errno is 2 or 20) return null; // ENOENT, ENOTDIR
            throw new IOException($"cannot stat {path}: {ErrorText(errno)}");
        }
        var kind = (st.Mode & 0xF000) switch
        {
            0x4000 => FileKind.Directory,
            0x8000 => FileKind.File,
            0xA000 => FileKind.Symlink,
            _ => FileKind.Other,
        };
        return new NodeAttributes(kind, kind == FileKind.Directory ? 0 : (long)st.Size, st.Mode & 0xFFF,
            st.Mtime.Seconds * 1_000_000_000L + st.Mtime.Nanoseconds, (long)st.Inode);
    }

    /// <summary>Whether the path (not following a final symlink) is a Unix domain socket.</summary>
    public static bool IsSocket(string path) =>
        StatxPath(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, out var st) == 0 && (st.Mode & 0xF000) == 0xC000;

    /// <summary>Sets the mtime (to the nanosecond) of a path, not following a final symlink; atime is left alone.</summary>
    public static void SetMtime(string path, long mtimeNs)
    {
        var times = stackalloc Timespec[2];
        times[0] = new Timespec { Seconds = 0, Nanoseconds = UTIME_OMIT };
        times[1] = new Timespec { Seconds = Math.DivRem(mtimeNs, 1_000_000_000L, out var ns), Nanoseconds = ns };
        if (times[1].Nanoseconds < 0) { times[1].Seconds--; times[1].Nanoseconds += 1_000_000_000L; }
        if (Utimensat(AT_FDCWD, path, times, AT_SYMLINK_NOFOLLOW) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw new IOException($"cannot set the modification time of {path}: {ErrorText(errno)}");
        }
    }
}
