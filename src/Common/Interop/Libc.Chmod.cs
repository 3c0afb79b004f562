using System.Runtime.InteropServices;

namespace Lighthouse.Interop;

/// <summary>fchmod(2), fchmodat(2), chmod(2).</summary>
internal static unsafe partial class Libc
{
    internal const uint S_ISUID = 0x800, S_ISGID = 0x400, S_ISVTX = 0x200;

    [LibraryImport("libc", EntryPoint = "fchmod", SetLastError = true)]
    internal static partial int Fchmod(int fd, uint mode);

    [LibraryImport("libc", EntryPoint = "fchmodat", SetLastError = true)]
    internal static partial int FchmodAt(int dirfd, byte* path, uint mode, int flags);

    [LibraryImport("libc", EntryPoint = "chmod", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int Chmod(string path, uint mode);
}
