using System.Runtime.InteropServices;

namespace Lighthouse.Interop;

/// <summary>fcntl(2) with an int argument.</summary>
internal static partial class Libc
{
    internal const int F_GETFD = 1, F_SETFD = 2, FD_CLOEXEC = 1;

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    internal static partial int Fcntl(int fd, int cmd, int arg);
}
