using System.Runtime.InteropServices;

namespace Lighthouse.Interop;

internal static unsafe partial class Libc
{
    [LibraryImport("libc", EntryPoint = "pwrite64", SetLastError = true)]
    internal static partial nint Pwrite(int fd, void* buf, nuint count, long offset);
}
