using System.Runtime.InteropServices;

namespace Lighthouse.Interop;

internal static partial class Libc
{
    [LibraryImport("libc", EntryPoint = "syncfs", SetLastError = true)]
    internal static partial int Syncfs(int fd);
}
