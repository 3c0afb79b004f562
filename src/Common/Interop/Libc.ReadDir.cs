using System.Runtime.InteropServices;

namespace Lighthouse.Interop;

/// <summary>opendir(3)/fdopendir(3), readdir64(3), closedir(3). Entries are struct dirent64 (Libc.Dirent.cs).
/// fdopendir takes over the descriptor: closedir closes it.</summary>
internal static partial class Libc
{
    [LibraryImport("libc", EntryPoint = "opendir", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial nint OpenDir(string path);

    [LibraryImport("libc", EntryPoint = "fdopendir", SetLastError = true)]
    internal static partial nint FdOpenDir(int fd);

    [LibraryImport("libc", EntryPoint = "readdir64", SetLastError = true)]
    internal static partial nint ReadDir(nint dir);

    [LibraryImport("libc", EntryPoint = "closedir", SetLastError = true)]
    internal static partial int CloseDir(nint dir);
}
