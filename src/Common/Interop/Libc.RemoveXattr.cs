using System.Runtime.InteropServices;

namespace Lighthouse.Interop;

/// <summary>removexattr(2), lremovexattr(2).</summary>
internal static unsafe partial class Libc
{
    [LibraryImport("libc", EntryPoint = "removexattr", SetLastError = true)]
    internal static partial int Removexattr(byte* path, byte* name);

    [LibraryImport("libc", EntryPoint = "removexattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int Removexattr(string path, string name);

    [LibraryImport("libc", EntryPoint = "lremovexattr", SetLastError = true)]
    internal static partial int Lremovexattr(byte* path, byte* name);

    [LibraryImport("libc", EntryPoint = "lremovexattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int Lremovexattr(string path, string name);
}
