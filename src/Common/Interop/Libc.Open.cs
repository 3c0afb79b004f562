using System.Runtime.InteropServices;

namespace Lighthouse.Interop;

/// <summary>open(2), openat(2). Paths are NUL-terminated bytes: file names are bytes, not necessarily UTF-8,
/// and a pointer keeps a request path allocation-free; the string forms are for fixed, known paths.</summary>
internal static unsafe partial class Libc
{
    // x86_64 values. arm64 differs for O_DIRECTORY (0x4000), O_NOFOLLOW (0x8000), O_DIRECT (0x10000) and O_TMPFILE.
    internal const int O_RDONLY = 0, O_WRONLY = 1, O_RDWR = 2, O_ACCMODE = 3;
    internal const int O_CREAT = 0x40, O_EXCL = 0x80, O_NOCTTY = 0x100, O_TRUNC = 0x200, O_APPEND = 0x400;
    internal const int O_NONBLOCK = 0x800, O_DIRECT = 0x4000, O_DIRECTORY = 0x10000, O_NOFOLLOW = 0x20000;
    internal const int O_NOATIME = 0x40000, O_CLOEXEC = 0x80000, O_PATH = 0x200000, O_TMPFILE = 0x410000;

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true)]
    internal static partial int Open(byte* path, int flags, uint mode);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int Open(string path, int flags, uint mode);

    [LibraryImport("libc", EntryPoint = "openat", SetLastError = true)]
    internal static partial int OpenAt(int dirfd, byte* path, int flags, uint mode);

    [LibraryImport("libc", EntryPoint = "openat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int OpenAt(int dirfd, string path, int flags, uint mode);
}
