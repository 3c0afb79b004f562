using System.Runtime.InteropServices;

namespace Lighthouse.Interop;

/// <summary>mmap(2), munmap(2), msync(2).</summary>
internal static unsafe partial class Libc
{
    internal const int PROT_READ = 1, PROT_WRITE = 2, MAP_SHARED = 1, MAP_POPULATE = 0x8000, MS_SYNC = 4;

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    internal static partial void* Mmap(void* addr, nuint length, int prot, int flags, int fd, long offset);

    [LibraryImport("libc", EntryPoint = "munmap", SetLastError = true)]
    internal static partial int Munmap(void* addr, nuint length);

    [LibraryImport("libc", EntryPoint = "msync", SetLastError = true)]
    internal static partial int Msync(void* addr, nuint length, int flags);
}
