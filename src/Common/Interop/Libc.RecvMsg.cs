using System.Runtime.InteropServices;

namespace Lighthouse.Interop;

/// <summary>struct msghdr (LP64 layout; the padding after int fields is implicit).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct MsgHdr
{
    public void* Name;
    public uint NameLen;
    public IoVec* Iov;
    public nuint IovLen;
    public void* Control;
    public nuint ControlLen;
    public int Flags;
}

/// <summary>struct cmsghdr header; the payload follows at offset sizeof(CmsgHdr).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct CmsgHdr
{
    public nuint Len;
    public int Level;
    public int Type;
}

/// <summary>recvmsg(2), with what receiving a descriptor (SCM_RIGHTS) needs.</summary>
internal static unsafe partial class Libc
{
    internal const int SOL_SOCKET = 1, SCM_RIGHTS = 1;
    internal const int MSG_DONTWAIT = 0x40, MSG_CMSG_CLOEXEC = 0x40000000;

    [LibraryImport("libc", EntryPoint = "recvmsg", SetLastError = true)]
    internal static partial nint RecvMsg(int fd, MsgHdr* msg, int flags);
}
