using System.Runtime.InteropServices;

namespace Lighthouse.Fuse.Protocol;

// The wire structures of the FUSE protocol, laid out exactly as in include/uapi/linux/fuse.h
// (protocol 7.44). All little-endian, naturally aligned; Sequential layout matches C.

[StructLayout(LayoutKind.Sequential)]
public struct InHeader
{
    public uint Len; public Opcode Opcode; public ulong Unique; public ulong NodeId;
    public uint Uid; public uint Gid; public uint Pid; public ushort TotalExtLen; public ushort Padding;
}

[StructLayout(LayoutKind.Sequential)]
public struct OutHeader { public uint Len; public int Error; public ulong Unique; }

/// <summary>fuse_attr: the attributes of an inode as the kernel caches them.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FuseAttr
{
    public ulong Ino; public ulong Size; public ulong Blocks;
    public ulong Atime; public ulong Mtime; public ulong Ctime;
    public uint AtimeNsec; public uint MtimeNsec; public uint CtimeNsec;
    public uint Mode; public uint Nlink; public uint Uid; public uint Gid; public uint Rdev;
    public uint BlkSize; public uint Flags;
}

[StructLayout(LayoutKind.Sequential)]
public struct EntryOut
{
    public ulong NodeId; public ulong Generation; public ulong EntryValid; public ulong AttrValid;
    public uint EntryValidNsec; public uint AttrValidNsec; public FuseAttr Attr;
}

[StructLayout(LayoutKind.Sequential)]
public struct AttrOut { public ulong AttrValid; public uint AttrValidNsec; public uint Dummy; public FuseAttr Attr; }

[StructLayout(LayoutKind.Sequential)]
public struct ForgetIn { public ulong Nlookup; }

[StructLayout(LayoutKind.Sequential)]
public struct ForgetOne { public ulong NodeId; public ulong Nlookup; }

[StructLayout(LayoutKind.Sequential)]
public struct BatchForgetIn { public uint Count; public uint Dummy; }

[StructLayout(LayoutKind.Sequential)]
public struct GetAttrIn { public uint GetAttrFlags; public uint Dummy; public ulong Fh; }

[StructLayout(LayoutKind.Sequential)]
public struct SetAttrIn
{
    public SetAttrValid Valid; public uint Padding; public ulong Fh; public ulong Size; public ulong LockOwner;
    public ulong Atime; public ulong Mtime; public ulong Ctime;
    public uint AtimeNsec; public uint MtimeNsec; public uint CtimeNsec; public uint Mode;
    public uint Unused4; public uint Uid; public uint Gid; public uint Unused5;
}

[StructLayout(LayoutKind.Sequential)]
public struct MkNodIn { public uint Mode; public uint Rdev; public uint Umask; public uint Padding; }

[StructLayout(LayoutKind.Sequential)]
public struct MkDirIn { public uint Mode; public uint Umask; }

[StructLayout(LayoutKind.Sequential)]
public struct RenameIn { public ulong NewDir; }

[StructLayout(LayoutKind.Sequential)]
public struct Rename2In { public ulong NewDir; public uint Flags; public uint Padding; }

[StructLayout(LayoutKind.Sequential)]
public struct LinkIn { public ulong OldNodeId; }

[StructLayout(LayoutKind.Sequential)]
public struct OpenIn { public uint Flags; public uint OpenFlags; }

[StructLayout(LayoutKind.Sequential)]
public struct CreateIn { public uint Flags; public uint Mode; public uint Umask; public uint OpenFlags; }

[StructLayout(LayoutKind.Sequential)]
public struct OpenOut { public ulong Fh; public OpenReplyFlags OpenFlags; public int BackingId; }

[StructLayout(LayoutKind.Sequential)]
public struct ReleaseIn { public ulong Fh; public uint Flags; public uint ReleaseFlags; public ulong LockOwner; }

[StructLayout(LayoutKind.Sequential)]
public struct FlushIn { public ulong Fh; public uint Unused; public uint Padding; public ulong LockOwner; }

[StructLayout(LayoutKind.Sequential)]
public struct ReadIn
{
    public ulong Fh; public ulong Offset; public uint Size; public uint ReadFlags;
    public ulong LockOwner; public uint Flags; public uint Padding;
}

[StructLayout(LayoutKind.Sequential)]
public struct WriteIn
{
    public ulong Fh; public ulong Offset; public uint Size; public uint WriteFlags;
    public ulong LockOwner; public uint Flags; public uint Padding;
}

[StructLayout(LayoutKind.Sequential)]
public struct WriteOut { public uint Size; public uint Padding; }

[StructLayout(LayoutKind.Sequential)]
public struct StatFsOut
{
    public ulong Blocks; public ulong Bfree; public ulong Bavail; public ulong Files; public ulong Ffree;
    public uint Bsize; public uint NameLen; public uint Frsize; public uint Padding;
    public uint Spare0, Spare1, Spare2, Spare3, Spare4, Spare5;
}

[StructLayout(LayoutKind.Sequential)]
public struct FsyncIn { public ulong Fh; public uint FsyncFlags; public uint Padding; }

/// <summary>fuse_setxattr_in in its extended form (FUSE_SETXATTR_EXT negotiated).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct SetXattrIn { public uint Size; public uint Flags; public uint SetXattrFlags; public uint Padding; }

[StructLayout(LayoutKind.Sequential)]
public struct GetXattrIn { public uint Size; public uint Padding; }

[StructLayout(LayoutKind.Sequential)]
public struct GetXattrOut { public uint Size; public uint Padding; }

[StructLayout(LayoutKind.Sequential)]
public struct AccessIn { public uint Mask; public uint Padding; }

[StructLayout(LayoutKind.Sequential)]
public unsafe struct InitIn
{
    public uint Major; public uint Minor; public uint MaxReadahead; public uint Flags;
    // Since 7.36; kernels before send only the 16 bytes above.
    public uint Flags2; public fixed uint Unused[11];
}

[StructLayout(LayoutKind.Sequential)]
public unsafe struct InitOut
{
    public uint Major; public uint Minor; public uint MaxReadahead; public uint Flags;
    public ushort MaxBackground; public ushort CongestionThreshold; public uint MaxWrite; public uint TimeGran;
    public ushort MaxPages; public ushort MapAlignment; public uint Flags2; public uint MaxStackDepth;
    public ushort RequestTimeout; public fixed ushort Unused[11];
}

[StructLayout(LayoutKind.Sequential)]
public struct InterruptIn { public ulong Unique; }

[StructLayout(LayoutKind.Sequential)]
public struct DirentHeader { public ulong Ino; public ulong Off; public uint NameLen; public uint Type; }

[StructLayout(LayoutKind.Sequential)]
public struct FallocateIn { public ulong Fh; public ulong Offset; public ulong Length; public uint Mode; public uint Padding; }

[StructLayout(LayoutKind.Sequential)]
public struct LseekIn { public ulong Fh; public ulong Offset; public uint Whence; public uint Padding; }

[StructLayout(LayoutKind.Sequential)]
public struct LseekOut { public ulong Offset; }

[StructLayout(LayoutKind.Sequential)]
public struct CopyFileRangeIn
{
    public ulong FhIn; public ulong OffIn; public ulong NodeIdOut; public ulong FhOut; public ulong OffOut;
    public ulong Len; public ulong Flags;
}

[StructLayout(LayoutKind.Sequential)]
public struct PollIn { public ulong Fh; public ulong Kh; public uint Flags; public uint Events; }

[StructLayout(LayoutKind.Sequential)]
public struct PollOut { public uint Revents; public uint Padding; }

[StructLayout(LayoutKind.Sequential)]
public struct StatxIn { public uint GetAttrFlags; public uint Reserved; public ulong Fh; public uint SxFlags; public uint SxMask; }

[StructLayout(LayoutKind.Sequential)]
public struct SxTime { public long Sec; public uint Nsec; public int Reserved; }

[StructLayout(LayoutKind.Sequential)]
public unsafe struct FuseStatx
{
    public uint Mask; public uint BlkSize; public ulong Attributes; public uint Nlink; public uint Uid; public uint Gid;
    public ushort Mode; public ushort Spare0; public ulong Ino; public ulong Size; public ulong Blocks;
    public ulong AttributesMask; public SxTime Atime; public SxTime Btime; public SxTime Ctime; public SxTime Mtime;
    public uint RdevMajor; public uint RdevMinor; public uint DevMajor; public uint DevMinor;
    public fixed ulong Spare2[14];
}

[StructLayout(LayoutKind.Sequential)]
public struct StatxOut
{
    public ulong AttrValid; public uint AttrValidNsec; public uint Flags; public ulong Spare0; public ulong Spare1;
    public FuseStatx Stat;
}

[StructLayout(LayoutKind.Sequential)]
public struct NotifyInvalInodeOut { public ulong Ino; public long Off; public long Len; }

[StructLayout(LayoutKind.Sequential)]
public struct NotifyInvalEntryOut { public ulong Parent; public uint NameLen; public uint Flags; }

[StructLayout(LayoutKind.Sequential)]
public struct NotifyDeleteOut { public ulong Parent; public ulong Child; public uint NameLen; public uint Padding; }

[StructLayout(LayoutKind.Sequential)]
public struct NotifyPollWakeupOut { public ulong Kh; }

/// <summary>struct fuse_backing_map for FUSE_DEV_IOC_BACKING_OPEN.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct BackingMap { public int Fd; public uint Flags; public ulong Padding; }

public static class ProtocolConstants
{
    public const uint KernelMajor = 7;
    /// <summary>The newest minor version we speak; we answer min(kernel, this).</summary>
    public const uint MaxMinor = 44;
    /// <summary>The oldest kernel protocol we accept (Linux 4.20).</summary>
    public const uint MinMinor = 26;
    public const ulong RootId = 1;
    public const uint GetAttrFh = 1;
    public const uint WriteKillSuidGid = 1 << 2;
    public const uint OpenKillSuidGid = 1;
    public const uint PollScheduleNotify = 1;
    public const uint FsyncFdatasync = 1;
    public const uint DevIocClone = 0x8004E500;        // _IOR(229, 0, uint32_t)
    public const uint DevIocBackingOpen = 0x4010E501;  // _IOW(229, 1, struct fuse_backing_map)
    public const uint DevIocBackingClose = 0x4004E502; // _IOW(229, 2, uint32_t)
    /// <summary>The largest request: 1 MiB of data (max_pages 256) plus headers.</summary>
    public const int MaxPages = 256;
    public const int MaxWrite = MaxPages * 4096;
    public const int RequestBufferSize = MaxWrite + 4096;
}
