using System.Runtime.InteropServices;

namespace Lighthouse.Fuse.Native;

/// <summary>
/// The libc calls Lighthouse.Fuse makes. Split over several files (partial class) by topic:
/// Libc.cs (files and descriptors), Libc.Mount.cs (mounting), ...
/// Every call sets errno (SetLastError) so callers can read Marshal.GetLastPInvokeError().
/// </summary>
internal static partial class Libc
{
    internal const string Lib = "libc";
}
