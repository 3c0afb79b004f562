using System.Runtime.InteropServices;

namespace Lighthouse.Interop;

internal static partial class Libc
{
    internal const int PR_SET_NAME = 15;

    [LibraryImport("libc", EntryPoint = "prctl", SetLastError = true)]
    internal static partial int Prctl(int option, byte[] arg2, nint arg3, nint arg4, nint arg5);
}
