using System.Runtime.InteropServices;

namespace Lighthouse.Interop;

internal static unsafe partial class Libc
{
    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    internal static partial nint Write(int fd, void* buf, nuint count);
}
