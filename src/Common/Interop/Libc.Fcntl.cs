using System.Runtime.InteropServices;

namespace Lighthouse.Interop;

/// <summary>fcntl(2) with an int argument. F_DUPFD_CLOEXEC: a new descriptor of the same open file, close-on-exec.</summary>
internal static partial class Libc
{
    internal const int F_GETFD = 1, F_SETFD = 2, FD_CLOEXEC = 1, F_DUPFD_CLOEXEC = 1030;

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    internal static partial int Fcntl(int fd, int cmd, int arg);
}
