using System.Runtime.InteropServices;

namespace Lighthouse.Interop;

/// <summary>The *at(2) calls' directory and flag arguments.</summary>
internal static partial class Libc
{
    internal const int AT_FDCWD = -100;
    internal const int AT_SYMLINK_NOFOLLOW = 0x100;
    internal const int AT_REMOVEDIR = 0x200;
    internal const int AT_EACCESS = 0x200;
    internal const int AT_SYMLINK_FOLLOW = 0x400;
    internal const int AT_EMPTY_PATH = 0x1000;
    internal const int AT_STATX_SYNC_AS_STAT = 0;
    internal const int AT_STATX_FORCE_SYNC = 0x2000;
}
