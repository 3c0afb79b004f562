using System.Runtime.InteropServices;

namespace Lighthouse.Cli;

/// <summary>
/// Names this process "lighthouse" (it runs as `dotnet lighthouse.dll`), so changes it makes through
/// a mount — a restore, say — are attributed to "&lt;user&gt;/lighthouse" rather than "&lt;user&gt;/dotnet".
/// </summary>
internal static partial class ProcessName
{
    private const int PR_SET_NAME = 15;

    [LibraryImport("libc", EntryPoint = "prctl", SetLastError = true)]
    private static partial int Prctl(int option, byte[] name, nint arg3, nint arg4, nint arg5);

    /// <summary>Must run on the main thread: the process's command name is its main thread's.</summary>
    public static void Set() => Prctl(PR_SET_NAME, "lighthouse\0"u8.ToArray(), 0, 0, 0);
}
