using System.Runtime.InteropServices;

namespace Lighthouse.Interop;

/// <summary>listxattr(2), llistxattr(2): NUL-separated names; a size of 0 asks for the size the list needs.</summary>
internal static unsafe partial class Libc
{
    [LibraryImport("libc", EntryPoint = "listxattr", SetLastError = true)]
    internal static partial nint Listxattr(byte* path, byte* list, nuint size);

    [LibraryImport("libc", EntryPoint = "listxattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial nint Listxattr(string path, byte* list, nuint size);

    [LibraryImport("libc", EntryPoint = "llistxattr", SetLastError = true)]
    internal static partial nint Llistxattr(byte* path, byte* list, nuint size);

    [LibraryImport("libc", EntryPoint = "llistxattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial nint Llistxattr(string path, byte* list, nuint size);
}
