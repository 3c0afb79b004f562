using System.Runtime.InteropServices;

namespace Lighthouse.Interop;

internal static partial class Libc
{
    [LibraryImport("libc", EntryPoint = "gettid")]
    internal static partial int GetTid();
}
