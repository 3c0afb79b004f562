using System.Runtime.InteropServices;

namespace Lighthouse.Interop;

internal static partial class Libc
{
    /// <summary>realpath(3) with a NULL buffer: returns a malloc'ed string to free with <see cref="Free"/>, or 0.</summary>
    [LibraryImport("libc", EntryPoint = "realpath", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial nint RealPath(string path, nint resolved);

    [LibraryImport("libc", EntryPoint = "free")]
    internal static partial void Free(nint ptr);
}
