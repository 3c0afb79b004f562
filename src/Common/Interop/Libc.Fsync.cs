using System.Runtime.InteropServices;

namespace Lighthouse.Interop;

/// <summary>fsync(2) and fdatasync(2).</summary>
internal static partial class Libc
{
    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    internal static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "fdatasync", SetLastError = true)]
    internal static partial int Fdatasync(int fd);
}
