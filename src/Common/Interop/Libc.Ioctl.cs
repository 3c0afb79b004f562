using System.Runtime.InteropServices;

namespace Lighthouse.Interop;

internal static unsafe partial class Libc
{
    /// <summary>FICLONE: share the source descriptor's extents (reflink); the argument is that descriptor.</summary>
    internal const uint FICLONE = 0x40049409;

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    internal static partial int Ioctl(int fd, nuint request, void* arg);
}
