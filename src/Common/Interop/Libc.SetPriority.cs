using System.Runtime.InteropServices;

namespace Lighthouse.Interop;

internal static partial class Libc
{
    internal const int PRIO_PROCESS = 0;

    /// <summary>setpriority(PRIO_PROCESS, tid, nice): on Linux the nice value of one thread.</summary>
    [LibraryImport("libc", EntryPoint = "setpriority", SetLastError = true)]
    internal static partial int SetPriority(int which, int who, int prio);
}
