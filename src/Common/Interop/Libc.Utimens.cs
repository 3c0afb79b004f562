using System.Runtime.InteropServices;

namespace Lighthouse.Interop;

[StructLayout(LayoutKind.Sequential)]
internal struct Timespec
{
    public long Sec;
    public long Nsec;
    public Timespec(long sec, long nsec) { Sec = sec; Nsec = nsec; }
}

/// <summary>utimensat(2), futimens(3).</summary>
internal static unsafe partial class Libc
{
    internal const long UTIME_NOW = (1L << 30) - 1, UTIME_OMIT = (1L << 30) - 2;

    [LibraryImport("libc", EntryPoint = "utimensat", SetLastError = true)]
    internal static partial int UtimensAt(int dirfd, byte* path, Timespec* times, int flags);

    [LibraryImport("libc", EntryPoint = "utimensat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int UtimensAt(int dirfd, string? path, Timespec* times, int flags);

    [LibraryImport("libc", EntryPoint = "futimens", SetLastError = true)]
    internal static partial int Futimens(int fd, Timespec* times);
}
