using System.Runtime.InteropServices;

namespace Lighthouse.Interop;

internal static unsafe partial class Libc
{
    [LibraryImport("libc", EntryPoint = "mknodat", SetLastError = true)]
    internal static partial int MknodAt(int dirfd, byte* path, uint mode, ulong dev);

    [LibraryImport("libc", EntryPoint = "mknod", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int Mknod(string path, uint mode, ulong dev);
}
