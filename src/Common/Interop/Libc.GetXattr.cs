using System.Runtime.InteropServices;

namespace Lighthouse.Interop;

/// <summary>getxattr(2), lgetxattr(2), fgetxattr(2). A size of 0 asks for the size the value needs.</summary>
internal static unsafe partial class Libc
{
    [LibraryImport("libc", EntryPoint = "getxattr", SetLastError = true)]
    internal static partial nint Getxattr(byte* path, byte* name, void* value, nuint size);

    [LibraryImport("libc", EntryPoint = "getxattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial nint Getxattr(string path, string name, void* value, nuint size);

    [LibraryImport("libc", EntryPoint = "lgetxattr", SetLastError = true)]
    internal static partial nint Lgetxattr(byte* path, byte* name, void* value, nuint size);

    [LibraryImport("libc", EntryPoint = "lgetxattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial nint Lgetxattr(string path, string name, void* value, nuint size);

    [LibraryImport("libc", EntryPoint = "fgetxattr", SetLastError = true)]
    internal static partial nint Fgetxattr(int fd, byte* name, void* value, nuint size);

    [LibraryImport("libc", EntryPoint = "fgetxattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial nint Fgetxattr(int fd, string name, void* value, nuint size);
}
