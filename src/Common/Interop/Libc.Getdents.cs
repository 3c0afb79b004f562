using System.Runtime.InteropServices;

namespace Lighthouse.Interop;

internal static unsafe partial class Libc
{
    /// <summary>Fills <paramref name="buf"/> with struct dirent64 records (see Libc.Dirent.cs).</summary>
    [LibraryImport("libc", EntryPoint = "getdents64", SetLastError = true)]
    internal static partial nint Getdents64(int fd, byte* buf, nuint count);
}
