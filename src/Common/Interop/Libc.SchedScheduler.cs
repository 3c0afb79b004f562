using System.Runtime.InteropServices;

namespace Lighthouse.Interop;

/// <summary>sched_setscheduler(2), sched_getscheduler(2).</summary>
internal static unsafe partial class Libc
{
    internal const int SCHED_OTHER = 0, SCHED_IDLE = 5;

    /// <summary>sched_setscheduler(0, ...) sets the calling thread's policy (priority must be 0 for these two).</summary>
    [LibraryImport("libc", EntryPoint = "sched_setscheduler", SetLastError = true)]
    internal static partial int SchedSetScheduler(int pid, int policy, int* priority);

    [LibraryImport("libc", EntryPoint = "sched_getscheduler", SetLastError = true)]
    internal static partial int SchedGetScheduler(int pid);
}
