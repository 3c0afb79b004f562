using System.Runtime.InteropServices;

namespace Lighthouse.Interop;

/// <summary>getuid(2), geteuid(2), getgid(2): they cannot fail.</summary>
internal static partial class Libc
{
    [LibraryImport("libc", EntryPoint = "getuid")]
    internal static partial uint GetUid();

    [LibraryImport("libc", EntryPoint = "geteuid")]
    internal static partial uint GetEuid();

    [LibraryImport("libc", EntryPoint = "getgid")]
    internal static partial uint GetGid();
}
