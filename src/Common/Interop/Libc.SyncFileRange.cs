using System.Runtime.InteropServices;

namespace Lighthouse.Interop;

internal static partial class Libc
{
    internal const uint SYNC_FILE_RANGE_WAIT_BEFORE = 1, SYNC_FILE_RANGE_WRITE = 2, SYNC_FILE_RANGE_WAIT_AFTER = 4;

    /// <summary>sync_file_range(2); nbytes 0 = to the end of the file.</summary>
    [LibraryImport("libc", EntryPoint = "sync_file_range", SetLastError = true)]
    internal static partial int SyncFileRange(int fd, long offset, long nbytes, uint flags);
}
