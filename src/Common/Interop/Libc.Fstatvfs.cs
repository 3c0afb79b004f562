using System.Runtime.InteropServices;

namespace Lighthouse.Interop;

/// <summary>struct statvfs on 64-bit Linux.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct StatvfsBuf
{
    public ulong Bsize; public ulong Frsize; public ulong Blocks; public ulong Bfree; public ulong Bavail;
    public ulong Files; public ulong Ffree; public ulong Favail; public ulong Fsid; public ulong Flag;
    public ulong NameMax; public fixed int Spare[6];
}

internal static unsafe partial class Libc
{
    [LibraryImport("libc", EntryPoint = "fstatvfs", SetLastError = true)]
    internal static partial int Fstatvfs(int fd, StatvfsBuf* buf);
}
