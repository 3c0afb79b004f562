using System.Runtime.InteropServices;

namespace Lighthouse.Interop;

internal static partial class Libc
{
    /// <summary>syscall(2) with three integer arguments (e.g. a per-thread setresuid/setresgid).</summary>
    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    internal static partial long Syscall3(long number, long a1, long a2, long a3);
}
