using System.Runtime.InteropServices;

namespace Lighthouse.Interop;

/// <summary>fchdir(2): make a directory descriptor the working directory (how a path deeper than PATH_MAX is
/// reached with calls that take no directory descriptor, such as bind(2) of a Unix socket).</summary>
internal static partial class Libc
{
    [LibraryImport("libc", EntryPoint = "fchdir", SetLastError = true)]
    internal static partial int Fchdir(int fd);
}
