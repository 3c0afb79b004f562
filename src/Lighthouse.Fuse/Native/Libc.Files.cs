using System.Runtime.InteropServices;

namespace Lighthouse.Fuse.Native;

/// <summary>struct statx: the architecture-independent stat (unlike struct stat, same layout everywhere).</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct StatxBuf
{
    public uint Mask; public uint BlkSize; public ulong Attributes; public uint Nlink; public uint Uid; public uint Gid;
    public ushort Mode; public ushort Spare0; public ulong Ino; public ulong Size; public ulong Blocks;
    public ulong AttributesMask;
    public long AtimeSec; public uint AtimeNsec; public int AtimePad;
    public long BtimeSec; public uint BtimeNsec; public int BtimePad;
    public long CtimeSec; public uint CtimeNsec; public int CtimePad;
    public long MtimeSec; public uint MtimeNsec; public int MtimePad;
    public uint RdevMajor; public uint RdevMinor; public uint DevMajor; public uint DevMinor;
    public fixed ulong Spare2[14];

    public readonly bool IsDirectory => (Mode & 0xF000) == 0x4000;
    public readonly ulong Dev => ((ulong)DevMajor << 32) | DevMinor;
}

/// <summary>struct statvfs on 64-bit Linux.</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct StatvfsBuf
{
    public ulong Bsize; public ulong Frsize; public ulong Blocks; public ulong Bfree; public ulong Bavail;
    public ulong Files; public ulong Ffree; public ulong Favail; public ulong Fsid; public ulong Flag;
    public ulong NameMax; public fixed int Spare[6];
}

[StructLayout(LayoutKind.Sequential)]
public struct Timespec { public long Sec; public long Nsec; }

[StructLayout(LayoutKind.Sequential)]
public unsafe struct IoVec { public void* Base; public nuint Len; }

/// <summary>Files, descriptors and credentials. Paths are NUL-terminated byte strings: file names
/// are bytes, not necessarily UTF-8, and passing pointers keeps the request path allocation-free.</summary>
internal static unsafe partial class Libc
{
    public const int AT_FDCWD = -100;
    public const int AT_SYMLINK_NOFOLLOW = 0x100;
    public const int AT_REMOVEDIR = 0x200;
    public const int AT_SYMLINK_FOLLOW = 0x400;
    public const int AT_EMPTY_PATH = 0x1000;
    public const int O_RDONLY = 0, O_WRONLY = 1, O_RDWR = 2, O_ACCMODE = 3;
    public const int O_CREAT = 0x40, O_EXCL = 0x80, O_NOCTTY = 0x100, O_TRUNC = 0x200, O_APPEND = 0x400;
    public const int O_NONBLOCK = 0x800, O_DIRECT = 0x4000, O_DIRECTORY = 0x10000, O_NOFOLLOW = 0x20000;
    public const int O_NOATIME = 0x40000, O_CLOEXEC = 0x80000, O_PATH = 0x200000, O_TMPFILE = 0x410000;
    public const uint STATX_TYPE = 0x1, STATX_MODE = 0x2, STATX_NLINK = 0x4, STATX_INO = 0x100, STATX_BASIC_STATS = 0x7ff, STATX_BTIME = 0x800;
    public const int AT_STATX_SYNC_AS_STAT = 0;
    public const long UTIME_NOW = (1L << 30) - 1, UTIME_OMIT = (1L << 30) - 2;
    public const int SEEK_SET = 0;
    public const long SYS_setgroups = 116;

    [LibraryImport(Lib, EntryPoint = "open", SetLastError = true)]
    public static partial int Open(byte* path, int flags, uint mode);

    [LibraryImport(Lib, EntryPoint = "openat", SetLastError = true)]
    public static partial int OpenAt(int dirfd, byte* path, int flags, uint mode);

    [LibraryImport(Lib, EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport(Lib, EntryPoint = "read", SetLastError = true)]
    public static partial nint Read(int fd, void* buf, nuint count);

    [LibraryImport(Lib, EntryPoint = "write", SetLastError = true)]
    public static partial nint Write(int fd, void* buf, nuint count);

    [LibraryImport(Lib, EntryPoint = "writev", SetLastError = true)]
    public static partial nint Writev(int fd, IoVec* iov, int iovcnt);

    [LibraryImport(Lib, EntryPoint = "pread64", SetLastError = true)]
    public static partial nint Pread(int fd, void* buf, nuint count, long offset);

    [LibraryImport(Lib, EntryPoint = "pwrite64", SetLastError = true)]
    public static partial nint Pwrite(int fd, void* buf, nuint count, long offset);

    [LibraryImport(Lib, EntryPoint = "ioctl", SetLastError = true)]
    public static partial int Ioctl(int fd, nuint request, void* arg);

    [LibraryImport(Lib, EntryPoint = "statx", SetLastError = true)]
    public static partial int Statx(int dirfd, byte* path, int flags, uint mask, StatxBuf* buf);

    [LibraryImport(Lib, EntryPoint = "fstatvfs", SetLastError = true)]
    public static partial int Fstatvfs(int fd, StatvfsBuf* buf);

    [LibraryImport(Lib, EntryPoint = "mkdirat", SetLastError = true)]
    public static partial int MkdirAt(int dirfd, byte* path, uint mode);

    [LibraryImport(Lib, EntryPoint = "mknodat", SetLastError = true)]
    public static partial int MknodAt(int dirfd, byte* path, uint mode, ulong dev);

    [LibraryImport(Lib, EntryPoint = "symlinkat", SetLastError = true)]
    public static partial int SymlinkAt(byte* target, int dirfd, byte* linkpath);

    [LibraryImport(Lib, EntryPoint = "readlinkat", SetLastError = true)]
    public static partial nint ReadlinkAt(int dirfd, byte* path, byte* buf, nuint size);

    [LibraryImport(Lib, EntryPoint = "unlinkat", SetLastError = true)]
    public static partial int UnlinkAt(int dirfd, byte* path, int flags);

    [LibraryImport(Lib, EntryPoint = "renameat2", SetLastError = true)]
    public static partial int RenameAt2(int olddirfd, byte* oldpath, int newdirfd, byte* newpath, uint flags);

    [LibraryImport(Lib, EntryPoint = "linkat", SetLastError = true)]
    public static partial int LinkAt(int olddirfd, byte* oldpath, int newdirfd, byte* newpath, int flags);

    [LibraryImport(Lib, EntryPoint = "fchmod", SetLastError = true)]
    public static partial int Fchmod(int fd, uint mode);

    [LibraryImport(Lib, EntryPoint = "fchmodat", SetLastError = true)]
    public static partial int FchmodAt(int dirfd, byte* path, uint mode, int flags);

    [LibraryImport(Lib, EntryPoint = "fchownat", SetLastError = true)]
    public static partial int FchownAt(int dirfd, byte* path, uint uid, uint gid, int flags);

    [LibraryImport(Lib, EntryPoint = "utimensat", SetLastError = true)]
    public static partial int UtimensAt(int dirfd, byte* path, Timespec* times, int flags);

    [LibraryImport(Lib, EntryPoint = "ftruncate64", SetLastError = true)]
    public static partial int Ftruncate(int fd, long length);

    [LibraryImport(Lib, EntryPoint = "fsync", SetLastError = true)]
    public static partial int Fsync(int fd);

    [LibraryImport(Lib, EntryPoint = "fdatasync", SetLastError = true)]
    public static partial int Fdatasync(int fd);

    [LibraryImport(Lib, EntryPoint = "syncfs", SetLastError = true)]
    public static partial int Syncfs(int fd);

    [LibraryImport(Lib, EntryPoint = "fallocate64", SetLastError = true)]
    public static partial int Fallocate(int fd, int mode, long offset, long len);

    [LibraryImport(Lib, EntryPoint = "lseek64", SetLastError = true)]
    public static partial long Lseek(int fd, long offset, int whence);

    [LibraryImport(Lib, EntryPoint = "copy_file_range", SetLastError = true)]
    public static partial nint CopyFileRange(int fdIn, long* offIn, int fdOut, long* offOut, nuint len, uint flags);

    [LibraryImport(Lib, EntryPoint = "getdents64", SetLastError = true)]
    public static partial nint Getdents64(int fd, byte* buf, nuint count);

    [LibraryImport(Lib, EntryPoint = "lgetxattr", SetLastError = true)]
    public static partial nint Lgetxattr(byte* path, byte* name, void* value, nuint size);

    [LibraryImport(Lib, EntryPoint = "lsetxattr", SetLastError = true)]
    public static partial int Lsetxattr(byte* path, byte* name, void* value, nuint size, int flags);

    [LibraryImport(Lib, EntryPoint = "llistxattr", SetLastError = true)]
    public static partial nint Llistxattr(byte* path, byte* list, nuint size);

    [LibraryImport(Lib, EntryPoint = "lremovexattr", SetLastError = true)]
    public static partial int Lremovexattr(byte* path, byte* name);

    [LibraryImport(Lib, EntryPoint = "getxattr", SetLastError = true)]
    public static partial nint Getxattr(byte* path, byte* name, void* value, nuint size);

    [LibraryImport(Lib, EntryPoint = "fgetxattr", SetLastError = true)]
    public static partial nint Fgetxattr(int fd, byte* name, void* value, nuint size);

    [LibraryImport(Lib, EntryPoint = "setxattr", SetLastError = true)]
    public static partial int Setxattr(byte* path, byte* name, void* value, nuint size, int flags);

    [LibraryImport(Lib, EntryPoint = "listxattr", SetLastError = true)]
    public static partial nint Listxattr(byte* path, byte* list, nuint size);

    [LibraryImport(Lib, EntryPoint = "removexattr", SetLastError = true)]
    public static partial int Removexattr(byte* path, byte* name);

    /// <summary>Per-thread filesystem uid: unlike setuid, glibc does not broadcast it to other threads.</summary>
    [LibraryImport(Lib, EntryPoint = "setfsuid")]
    public static partial int SetFsUid(uint uid);

    [LibraryImport(Lib, EntryPoint = "setfsgid")]
    public static partial int SetFsGid(uint gid);

    /// <summary>The raw syscall: glibc's setgroups() would change every thread of the process.</summary>
    [LibraryImport(Lib, EntryPoint = "syscall", SetLastError = true)]
    public static partial long SyscallSetGroups(long number, nuint size, uint* list);

    public const int CLONE_FS = 0x200;

    /// <summary>unshare(CLONE_FS) gives the calling thread its own umask and working directory.</summary>
    [LibraryImport(Lib, EntryPoint = "unshare", SetLastError = true)]
    public static partial int Unshare(int flags);

    [LibraryImport(Lib, EntryPoint = "umask")]
    public static partial uint Umask(uint mask);

    [LibraryImport(Lib, EntryPoint = "geteuid")]
    public static partial uint GetEuid();

    [LibraryImport(Lib, EntryPoint = "kill", SetLastError = true)]
    public static partial int Kill(int pid, int sig);

    public static int Errno => Marshal.GetLastPInvokeError();

    /// <summary>Reads until <paramref name="buffer"/> is full or end of file, retrying EINTR.
    /// Returns 0 or an errno (an error after some bytes were read is not one: those bytes count).</summary>
    public static int PreadFully(int fd, Span<byte> buffer, long offset, out int bytesRead)
    {
        bytesRead = 0;
        fixed (byte* p = buffer)
        {
            while (bytesRead < buffer.Length)
            {
                nint n = Pread(fd, p + bytesRead, (nuint)(buffer.Length - bytesRead), offset + bytesRead);
                if (n < 0)
                {
                    int err = Errno;
                    if (err == 4) continue; // EINTR
                    return bytesRead == 0 ? err : 0;
                }
                if (n == 0) break;
                bytesRead += (int)n;
            }
        }
        return 0;
    }
}
