using System.Runtime.InteropServices;

namespace Lighthouse.Interop;

internal static partial class Libc
{
    [LibraryImport("libc", EntryPoint = "truncate64", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int Truncate(string path, long length);
}
