using System.Runtime.InteropServices;

namespace Lighthouse.Interop;

internal static partial class Libc
{
    internal const int EFD_NONBLOCK = 0x800, EFD_CLOEXEC = 0x80000;

    [LibraryImport("libc", EntryPoint = "eventfd", SetLastError = true)]
    internal static partial int EventFd(uint initval, int flags);
}
