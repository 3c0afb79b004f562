using System.Runtime.InteropServices;

namespace Lighthouse.Interop;

internal static partial class Libc
{
    internal const int CLONE_FS = 0x200;

    /// <summary>unshare(CLONE_FS) gives the calling thread its own umask and working directory.</summary>
    [LibraryImport("libc", EntryPoint = "unshare", SetLastError = true)]
    internal static partial int Unshare(int flags);
}
