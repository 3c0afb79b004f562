using System.Runtime.InteropServices;

namespace Lighthouse.Interop;

/// <summary>The calling thread's filesystem identity: setfsuid(2), setfsgid(2) and the raw setgroups system call.</summary>
internal static unsafe partial class Libc
{
    /// <summary>setgroups on x86_64 (arm64: 159).</summary>
    internal const long SYS_setgroups = 116;

    /// <summary>Per-thread filesystem uid: unlike setuid, glibc does not broadcast it to other threads.</summary>
    [LibraryImport("libc", EntryPoint = "setfsuid")]
    internal static partial int SetFsUid(uint uid);

    [LibraryImport("libc", EntryPoint = "setfsgid")]
    internal static partial int SetFsGid(uint gid);

    /// <summary>The raw syscall: glibc's setgroups() would change every thread of the process.</summary>
    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    internal static partial long SyscallSetGroups(long number, nuint size, uint* list);
}
