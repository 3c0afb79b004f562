using System.Runtime.InteropServices;

namespace Lighthouse.Interop;

/// <summary>openat2(2) (Linux 5.6+): open relative to a directory with limits on how the path resolves, so a path given
/// by a remote caller cannot leave the directory through "..", an absolute symlink or a /proc magic link.</summary>
internal static unsafe partial class Libc
{
    private const long SYS_openat2 = 437; // the same number on x86_64 and arm64 (the generic table)

    internal const ulong RESOLVE_NO_XDEV = 0x01, RESOLVE_NO_MAGICLINKS = 0x02, RESOLVE_NO_SYMLINKS = 0x04, RESOLVE_BENEATH = 0x08;

    [StructLayout(LayoutKind.Sequential)]
    internal struct OpenHow
    {
        public ulong Flags;
        public ulong Mode;
        public ulong Resolve;
    }

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall4(long number, long a1, long a2, long a3, long a4);

    /// <summary>openat2(dirfd, path, how): a descriptor, or -1 with errno (EXDEV: the path would leave dirfd; ELOOP: a
    /// symlink where RESOLVE_NO_SYMLINKS or O_NOFOLLOW forbade one).</summary>
    internal static int OpenAt2(int dirfd, string path, int flags, uint mode, ulong resolve)
    {
        var how = new OpenHow { Flags = (ulong)(uint)flags, Mode = flags is var f && (f & (O_CREAT | O_TMPFILE)) != 0 ? mode : 0, Resolve = resolve };
        int length = System.Text.Encoding.UTF8.GetByteCount(path);
        byte* bytes = stackalloc byte[length + 1];
        System.Text.Encoding.UTF8.GetBytes(path, new Span<byte>(bytes, length));
        bytes[length] = 0;
        return (int)Syscall4(SYS_openat2, dirfd, (long)bytes, (long)&how, sizeof(OpenHow));
    }
}
