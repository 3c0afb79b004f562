using System.Runtime.InteropServices;

namespace Lighthouse.Interop;

/// <summary>struct statfs of 64-bit Linux (x86_64 and the generic layout arm64 uses).</summary>
[StructLayout(LayoutKind.Explicit, Size = 120)]
internal struct StatfsBuf
{
    [FieldOffset(0)] public long Type;
    [FieldOffset(8)] public long Bsize;
    [FieldOffset(16)] public ulong Blocks;
    [FieldOffset(24)] public ulong Bfree;
    [FieldOffset(32)] public ulong Bavail;
    [FieldOffset(40)] public ulong Files;
    [FieldOffset(48)] public ulong Ffree;
    [FieldOffset(64)] public long Namelen;
    [FieldOffset(72)] public long Frsize;
    [FieldOffset(80)] public long Flags;
}

internal static unsafe partial class Libc
{
    [LibraryImport("libc", EntryPoint = "statfs64", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int Statfs(string path, StatfsBuf* buf);
}
