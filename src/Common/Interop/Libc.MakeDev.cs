namespace Lighthouse.Interop;

/// <summary>makedev(3), major(3), minor(3): glibc's 64-bit dev_t encoding, computed here (they are macros in C).</summary>
internal static partial class Libc
{
    internal static ulong MakeDev(ulong major, ulong minor) =>
        ((major & 0xfffff000) << 32) | ((major & 0xfff) << 8) | ((minor & 0xffffff00) << 12) | (minor & 0xff);

    internal static ulong Major(ulong dev) => ((dev >> 8) & 0xfff) | ((dev >> 32) & 0xfffff000);

    internal static ulong Minor(ulong dev) => (dev & 0xff) | ((dev >> 12) & 0xffffff00);
}
