using System.Runtime.InteropServices;

namespace Lighthouse.Interop;

internal static partial class Libc
{
    [LibraryImport("libc", EntryPoint = "sched_getcpu", SetLastError = true)]
    internal static partial int SchedGetCpu();
}
