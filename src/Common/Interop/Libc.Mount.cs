using System.Runtime.InteropServices;

namespace Lighthouse.Interop;

internal static partial class Libc
{
    internal const ulong MS_RDONLY = 1, MS_NOSUID = 2, MS_NODEV = 4;

    [LibraryImport("libc", EntryPoint = "mount", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int Mount(string source, string target, string fsType, ulong flags, string data);
}
