using Lighthouse.Interop;

namespace Lighthouse.Cli;

/// <summary>
/// Names this process "lighthouse" (it runs as `dotnet lighthouse.dll`), so changes it makes through
/// a mount — a restore, say — are attributed to "&lt;user&gt;/lighthouse" rather than "&lt;user&gt;/dotnet".
/// </summary>
internal static class ProcessName
{
    /// <summary>Must run on the main thread: the process's command name is its main thread's.</summary>
    public static void Set() => Libc.Prctl(Libc.PR_SET_NAME, "lighthouse\0"u8.ToArray(), 0, 0, 0);
}
