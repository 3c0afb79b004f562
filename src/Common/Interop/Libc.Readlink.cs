using System.Runtime.InteropServices;

namespace Lighthouse.Interop;

internal static unsafe partial class Libc
{
    [LibraryImport("libc", EntryPoint = "readlinkat", SetLastError = true)]
    internal static partial nint ReadlinkAt(int dirfd, byte* path, byte* buf, nuint size);

    [LibraryImport("libc", EntryPoint = "readlink", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial nint Readlink(string path, byte* buf, nuint size);
}
