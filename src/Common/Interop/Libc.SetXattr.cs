using System.Runtime.InteropServices;

namespace Lighthouse.Interop;

/// <summary>setxattr(2), lsetxattr(2), fsetxattr(2).</summary>
internal static unsafe partial class Libc
{
    internal const int XATTR_CREATE = 1, XATTR_REPLACE = 2;

    [LibraryImport("libc", EntryPoint = "setxattr", SetLastError = true)]
    internal static partial int Setxattr(byte* path, byte* name, void* value, nuint size, int flags);

    [LibraryImport("libc", EntryPoint = "setxattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int Setxattr(string path, string name, void* value, nuint size, int flags);

    [LibraryImport("libc", EntryPoint = "lsetxattr", SetLastError = true)]
    internal static partial int Lsetxattr(byte* path, byte* name, void* value, nuint size, int flags);

    [LibraryImport("libc", EntryPoint = "lsetxattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int Lsetxattr(string path, string name, void* value, nuint size, int flags);

    [LibraryImport("libc", EntryPoint = "fsetxattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int Fsetxattr(int fd, string name, void* value, nuint size, int flags);
}
