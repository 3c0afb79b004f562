using System.Runtime.InteropServices;

namespace Lighthouse.Interop;

internal static partial class Libc
{
    [LibraryImport("libc", EntryPoint = "ftruncate64", SetLastError = true)]
    internal static partial int Ftruncate(int fd, long length);
}
