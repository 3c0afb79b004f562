using System.Runtime.InteropServices;

namespace Lighthouse.Interop;

internal static partial class Libc
{
    internal const int FALLOC_FL_KEEP_SIZE = 1, FALLOC_FL_PUNCH_HOLE = 2;

    [LibraryImport("libc", EntryPoint = "fallocate64", SetLastError = true)]
    internal static partial int Fallocate(int fd, int mode, long offset, long len);
}
