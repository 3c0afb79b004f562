using System.Runtime.InteropServices;

namespace Lighthouse.Interop;

/// <summary>access(2), faccessat(2).</summary>
internal static partial class Libc
{
    internal const int F_OK = 0, X_OK = 1, W_OK = 2, R_OK = 4;

    [LibraryImport("libc", EntryPoint = "access", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int Access(string path, int mode);

    [LibraryImport("libc", EntryPoint = "faccessat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int FaccessAt(int dirfd, string path, int mode, int flags);
}
