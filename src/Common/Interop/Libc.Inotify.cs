using System.Runtime.InteropServices;

namespace Lighthouse.Interop;

/// <summary>inotify(7). IN_NONBLOCK/IN_CLOEXEC are O_NONBLOCK/O_CLOEXEC (same values on x86-64 and arm64).</summary>
internal static partial class Libc
{
    internal const int IN_NONBLOCK = 0x800;
    internal const int IN_CLOEXEC = 0x80000;
    internal const uint IN_MODIFY = 0x2;
    internal const uint IN_ATTRIB = 0x4;
    internal const uint IN_CLOSE_WRITE = 0x8;
    internal const uint IN_MOVED_FROM = 0x40;
    internal const uint IN_MOVED_TO = 0x80;
    internal const uint IN_CREATE = 0x100;
    internal const uint IN_DELETE = 0x200;
    internal const uint IN_DELETE_SELF = 0x400;
    internal const uint IN_MOVE_SELF = 0x800;
    internal const uint IN_Q_OVERFLOW = 0x4000;
    internal const uint IN_IGNORED = 0x8000;
    internal const uint IN_ONLYDIR = 0x0100_0000;
    internal const uint IN_DONT_FOLLOW = 0x0200_0000;
    internal const uint IN_EXCL_UNLINK = 0x0400_0000;
    internal const uint IN_ISDIR = 0x4000_0000;
    /// <summary>sizeof(struct inotify_event) without its name: wd, mask, cookie, len.</summary>
    internal const int InotifyEventSize = 16;

    [LibraryImport("libc", EntryPoint = "inotify_init1", SetLastError = true)]
    internal static partial int InotifyInit1(int flags);

    [LibraryImport("libc", EntryPoint = "inotify_add_watch", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int InotifyAddWatch(int fd, string path, uint mask);

    [LibraryImport("libc", EntryPoint = "inotify_rm_watch", SetLastError = true)]
    internal static partial int InotifyRmWatch(int fd, int wd);
}
