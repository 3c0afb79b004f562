using System.Runtime.InteropServices;

namespace Lighthouse.Interop;

/// <summary>fchownat(2), chown(2), lchown(2), fchown(2). An id of -1 (uint.MaxValue) leaves it unchanged.</summary>
internal static unsafe partial class Libc
{
    [LibraryImport("libc", EntryPoint = "fchownat", SetLastError = true)]
    internal static partial int FchownAt(int dirfd, byte* path, uint uid, uint gid, int flags);

    [LibraryImport("libc", EntryPoint = "chown", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int Chown(string path, int uid, int gid);

    [LibraryImport("libc", EntryPoint = "lchown", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int Lchown(string path, int uid, int gid);

    [LibraryImport("libc", EntryPoint = "fchown", SetLastError = true)]
    internal static partial int Fchown(int fd, int uid, int gid);
}
