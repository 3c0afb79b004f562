using System.Runtime.InteropServices;

namespace Lighthouse.Interop;

internal static partial class Libc
{
    internal const int SEEK_SET = 0, SEEK_CUR = 1, SEEK_END = 2, SEEK_DATA = 3, SEEK_HOLE = 4;

    [LibraryImport("libc", EntryPoint = "lseek64", SetLastError = true)]
    internal static partial long Lseek(int fd, long offset, int whence);
}
