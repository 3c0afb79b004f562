using System.Runtime.InteropServices;

namespace Lighthouse.Interop;

/// <summary>struct statx: the architecture-independent stat (unlike struct stat, the same layout everywhere).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct StatxBuf
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

    public readonly bool IsDirectory => (Mode & Libc.S_IFMT) == Libc.S_IFDIR;
    public readonly ulong Dev => ((ulong)DevMajor << 32) | DevMinor;
}

internal static unsafe partial class Libc
{
    internal const uint STATX_TYPE = 0x1, STATX_MODE = 0x2, STATX_NLINK = 0x4, STATX_INO = 0x100, STATX_BASIC_STATS = 0x7ff, STATX_BTIME = 0x800;

    // The file type bits of st_mode.
    internal const int S_IFMT = 0xF000, S_IFSOCK = 0xC000, S_IFLNK = 0xA000, S_IFREG = 0x8000, S_IFBLK = 0x6000,
        S_IFDIR = 0x4000, S_IFCHR = 0x2000, S_IFIFO = 0x1000;

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true)]
    internal static partial int Statx(int dirfd, byte* path, int flags, uint mask, StatxBuf* buf);

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int Statx(int dirfd, string path, int flags, uint mask, StatxBuf* buf);
}
