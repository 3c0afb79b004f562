using System.Runtime.InteropServices;

namespace Lighthouse.Fuse.Native;

/// <summary>
/// libc calls used by mounting (Lighthouse.Fuse.Mounting). Every member has a mount-specific
/// name so that it cannot collide with the general-purpose members other files of this partial
/// class declare (e.g. an <c>open</c> or <c>close</c> there).
/// </summary>
internal static unsafe partial class Libc
{
    // open(2) flags
    internal const int MountO_RDWR = 0x2;
    internal const int MountO_CLOEXEC = 0x80000;

    // mount(2) flags
    internal const ulong MountMS_RDONLY = 1;
    internal const ulong MountMS_NOSUID = 2;
    internal const ulong MountMS_NODEV = 4;

    // umount2(2) flags
    internal const int MountMNT_FORCE = 1;
    internal const int MountMNT_DETACH = 2;
    internal const int MountUMOUNT_NOFOLLOW = 8;

    // sockets
    internal const int MountAF_UNIX = 1;
    internal const int MountSOCK_STREAM = 1;
    internal const int MountSOCK_CLOEXEC = 0x80000;
    internal const int MountSOL_SOCKET = 1;
    internal const int MountSCM_RIGHTS = 1;
    internal const int MountMSG_CMSG_CLOEXEC = 0x40000000;
    internal const int MountMSG_DONTWAIT = 0x40;

    // fcntl
    internal const int MountF_GETFD = 1;
    internal const int MountF_SETFD = 2;
    internal const int MountFD_CLOEXEC = 1;

    // poll
    internal const short MountPOLLIN = 0x1;
    internal const short MountPOLLERR = 0x8;
    internal const short MountPOLLHUP = 0x10;

    // statx
    internal const int MountAT_FDCWD = -100;
    internal const int MountAT_STATX_FORCE_SYNC = 0x2000;
    internal const uint MountSTATX_BASIC_STATS = 0x7ff;

    // errno values (Linux, all architectures .NET runs on)
    internal const int MountEPERM = 1;
    internal const int MountENOENT = 2;
    internal const int MountEINTR = 4;
    internal const int MountEACCES = 13;
    internal const int MountEBUSY = 16;
    internal const int MountENODEV = 19;
    internal const int MountENOTDIR = 20;
    internal const int MountEINVAL = 22;
    internal const int MountEAGAIN = 11;
    internal const int MountENOTCONN = 107;
    internal const int MountECONNABORTED = 103;

    [StructLayout(LayoutKind.Sequential)]
    internal struct MountIoVec
    {
        public void* Base;
        public nuint Len;
    }

    /// <summary>struct msghdr (LP64 layout; the padding after int fields is implicit).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct MountMsgHdr
    {
        public void* Name;
        public uint NameLen;
        public MountIoVec* Iov;
        public nuint IovLen;
        public void* Control;
        public nuint ControlLen;
        public int Flags;
    }

    /// <summary>struct cmsghdr header; the payload follows at offset sizeof(MountCmsgHdr).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct MountCmsgHdr
    {
        public nuint Len;
        public int Level;
        public int Type;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct MountPollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [LibraryImport(Lib, EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int MountOpen(string path, int flags);

    [LibraryImport(Lib, EntryPoint = "close", SetLastError = true)]
    internal static partial int MountClose(int fd);

    [LibraryImport(Lib, EntryPoint = "mount", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int MountFs(string source, string target, string fsType, ulong flags, string data);

    [LibraryImport(Lib, EntryPoint = "umount2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int MountUmount2(string target, int flags);

    [LibraryImport(Lib, EntryPoint = "socketpair", SetLastError = true)]
    internal static partial int MountSocketPair(int domain, int type, int protocol, int* sv);

    [LibraryImport(Lib, EntryPoint = "recvmsg", SetLastError = true)]
    internal static partial nint MountRecvMsg(int fd, MountMsgHdr* msg, int flags);

    [LibraryImport(Lib, EntryPoint = "poll", SetLastError = true)]
    internal static partial int MountPoll(MountPollFd* fds, nuint nfds, int timeoutMs);

    [LibraryImport(Lib, EntryPoint = "fcntl", SetLastError = true)]
    internal static partial int MountFcntl(int fd, int cmd, int arg);

    [LibraryImport(Lib, EntryPoint = "getuid")]
    internal static partial uint MountGetUid();

    [LibraryImport(Lib, EntryPoint = "getgid")]
    internal static partial uint MountGetGid();

    [LibraryImport(Lib, EntryPoint = "geteuid")]
    internal static partial uint MountGetEUid();

    /// <summary>statx(2); <paramref name="buf"/> must hold 256 bytes (struct statx).</summary>
    [LibraryImport(Lib, EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int MountStatx(int dirFd, string path, int flags, uint mask, byte* buf);

    /// <summary>realpath(3) with a NULL buffer: returns a malloc'ed string to free with <see cref="MountFree"/>.</summary>
    [LibraryImport(Lib, EntryPoint = "realpath", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial nint MountRealPath(string path, nint resolved);

    /// <summary>syscall(2) with three arguments: used for the per-thread setresuid/setresgid of the stale-mount probe.</summary>
    [LibraryImport(Lib, EntryPoint = "syscall", SetLastError = true)]
    internal static partial long MountSyscall3(long number, long a1, long a2, long a3);

    [LibraryImport(Lib, EntryPoint = "free")]
    internal static partial void MountFree(nint ptr);
}
