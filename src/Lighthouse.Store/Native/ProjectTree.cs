using System.Runtime.InteropServices;
using System.Text;
using Lighthouse.Interop;
using Microsoft.Win32.SafeHandles;

namespace Lighthouse.Store.Native;

/// <summary>
/// Reaches paths under the project directory from a descriptor of it, never by absolute path: a path longer than
/// PATH_MAX is walked in steps that fit one system call (the kernel refuses longer path arguments with
/// ENAMETOOLONG), so files in trees deeper than PATH_MAX are stat'ed, read and scanned like any other.
/// </summary>
internal static unsafe class ProjectTree
{
    /// <summary>The longest relative path handed to one call: well under PATH_MAX (4096 with its NUL).</summary>
    private const int Step = 3000;

    /// <summary>Opens the project directory as the starting point of every walk (O_PATH: for *at calls only).</summary>
    public static SafeFileHandle OpenRoot(string projectDir)
    {
        int fd = Libc.Open(projectDir, Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0);
        if (fd < 0) throw new StoreException($"cannot open the project directory {projectDir}: {Libc.ErrorText(Libc.Errno)}");
        return new SafeFileHandle(fd, ownsHandle: true);
    }

    /// <summary>A directory descriptor and a NUL-terminated path relative to it that name one path of the project.
    /// Dispose it to close the descriptor when the walk opened one.</summary>
    public readonly struct Location(int dir, byte[] path, bool owned) : IDisposable
    {
        public int Dir { get; } = dir;
        public byte[] Path { get; } = path;
        public void Dispose()
        {
            if (owned) Libc.Close(Dir);
        }
    }

    /// <summary>
    /// Where <paramref name="rel"/> ("" is the project root) is: relative to <paramref name="root"/> when it fits one
    /// call, else relative to the deepest directory reached in steps of whole names (each step opened O_PATH, the last
    /// name of a step not followed if it is a symlink). Null with the errno when a directory on the way cannot be opened.
    /// </summary>
    public static Location? Locate(int root, string rel, out int errno)
    {
        errno = 0;
        var bytes = Encoding.UTF8.GetBytes(rel);
        if (bytes.Length < Step) return new Location(root, Terminated(bytes.Length == 0 ? "."u8 : bytes), false);
        int from = root, at = 0;
        while (bytes.Length - at >= Step)
        {
            int end = bytes.AsSpan(at, Step).LastIndexOf((byte)'/'); // names are at most 255 bytes: there is one
            int next;
            fixed (byte* p = Terminated(bytes.AsSpan(at, end)))
                next = Libc.OpenAt(from, p, Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0);
            if (next < 0) errno = Libc.Errno;
            if (from != root) Libc.Close(from);
            if (next < 0) return null;
            from = next;
            at += end + 1;
        }
        return new Location(from, Terminated(bytes.AsSpan(at)), from != root);
    }

    private static byte[] Terminated(ReadOnlySpan<byte> path)
    {
        var z = new byte[path.Length + 1];
        path.CopyTo(z);
        return z;
    }

    private static bool IsGone(int errno) => errno is Libc.ENOENT or Libc.ENOTDIR;

    /// <summary>lstat of a project path; null if it does not exist.</summary>
    public static NodeAttributes? Lstat(int root, string rel)
    {
        using var at = Locate(root, rel, out int errno) ?? (IsGone(errno) ? default(Location) : throw StatFailed(rel, errno));
        if (at.Path is null) return null;
        StatxBuf st;
        fixed (byte* p = at.Path)
            if (Libc.Statx(at.Dir, p, Libc.AT_SYMLINK_NOFOLLOW, Libc.STATX_BASIC_STATS, &st) != 0)
            {
                errno = Marshal.GetLastPInvokeError();
                if (IsGone(errno)) return null;
                throw StatFailed(rel, errno);
            }
        return FileStat.ToAttributes(st);
    }

    private static StoreException StatFailed(string rel, int errno) => new($"cannot stat '{rel}': {Libc.ErrorText(errno)}");

    /// <summary>
    /// Opens a regular file of the project for reading without changing its access time (O_NOATIME: a capture is the
    /// store reading, not the project's user, and under relatime the read would set atime to now over what the user
    /// just set; it needs the file's owner or CAP_FOWNER, else the file is read as anyone would). Null if it is gone
    /// or is a symlink now.
    /// </summary>
    public static SafeFileHandle? OpenToRead(int root, string rel)
    {
        using var at = Locate(root, rel, out int errno) ?? (IsGone(errno) ? default(Location) : throw OpenFailed(rel, errno));
        if (at.Path is null) return null;
        int fd;
        fixed (byte* p = at.Path)
        {
            const int Flags = Libc.O_RDONLY | Libc.O_CLOEXEC | Libc.O_NOFOLLOW;
            fd = Libc.OpenAt(at.Dir, p, Flags | Libc.O_NOATIME, 0);
            if (fd < 0 && Libc.Errno == Libc.EPERM) fd = Libc.OpenAt(at.Dir, p, Flags, 0);
        }
        if (fd >= 0) return new SafeFileHandle(fd, ownsHandle: true);
        errno = Libc.Errno;
        if (IsGone(errno) || errno == Libc.ELOOP) return null;
        throw OpenFailed(rel, errno);
    }

    private static StoreException OpenFailed(string rel, int errno) => new($"cannot open '{rel}': {Libc.ErrorText(errno)}");

    /// <summary>A symlink's target, byte for byte; null if it is gone or not a symlink any more.</summary>
    public static byte[]? ReadLink(int root, string rel)
    {
        using var at = Locate(root, rel, out int errno) ?? (IsGone(errno) ? default(Location) : throw OpenFailed(rel, errno));
        if (at.Path is null) return null;
        var buffer = new byte[4096]; // a target is at most PATH_MAX - 1 bytes
        nint n;
        fixed (byte* p = at.Path)
        fixed (byte* b = buffer)
            n = Libc.ReadlinkAt(at.Dir, p, b, (nuint)buffer.Length);
        return n < 0 ? null : buffer.AsSpan(0, (int)n).ToArray();
    }

    /// <summary>Opens a directory of the project for reading its entries; the descriptor, or -errno.</summary>
    public static int OpenDirectory(int root, string rel)
    {
        using var at = Locate(root, rel, out int errno) ?? default(Location);
        if (at.Path is null) return -errno;
        fixed (byte* p = at.Path)
        {
            int fd = Libc.OpenAt(at.Dir, p, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0);
            return fd >= 0 ? fd : -Libc.Errno;
        }
    }

    /// <summary>
    /// The entries of an open directory but "." and "..": NUL-terminated names (ready for *at calls on
    /// <paramref name="dirFd"/>) and their d_type. Reads through a duplicate, so <paramref name="dirFd"/> stays open (and
    /// its directory stream's buffer is freed at once: a walk holds one descriptor per level, nothing more). 0 or an errno.
    /// </summary>
    public static int ReadEntries(int dirFd, List<(byte[] Name, byte Type)> entries)
    {
        int dup = Libc.Fcntl(dirFd, Libc.F_DUPFD_CLOEXEC, 0);
        if (dup < 0) return Libc.Errno;
        var dir = Libc.FdOpenDir(dup);
        if (dir == 0)
        {
            int errno = Libc.Errno;
            Libc.Close(dup);
            return errno;
        }
        try
        {
            while (true)
            {
                Marshal.SetLastPInvokeError(0);
                var ent = Libc.ReadDir(dir);
                if (ent == 0) return Marshal.GetLastPInvokeError();
                var namePtr = (byte*)ent + Libc.DirentNameOffset;
                var name = MemoryMarshal.CreateReadOnlySpanFromNullTerminated(namePtr);
                if (name.SequenceEqual("."u8) || name.SequenceEqual(".."u8)) continue;
                entries.Add((Terminated(name), *((byte*)ent + 18)));
            }
        }
        finally
        {
            Libc.CloseDir(dir);
        }
    }
}
