using System.Runtime.InteropServices;
using System.Text;
using Lighthouse.Interop;

namespace Lighthouse.Conformance.Tests.Support;

/// <summary>
/// The system calls the conformance tests make, under their libc names, through the
/// shared bindings (Lighthouse.Interop.Libc, the same entry points any program uses), with the
/// checking and comparing helpers the tests share. Linux x86_64 / arm64 only. Every call sets errno (SetLastError): read it
/// with <see cref="Errno"/> immediately after the call, or wrap the call in <see cref="R"/>.
/// </summary>
public static unsafe class Sys
{
    private static readonly bool Arm = RuntimeInformation.ProcessArchitecture == Architecture.Arm64;

    // open(2) flags (asm-generic values, with the x86_64/arm64 differences).
    public const int O_RDONLY = 0, O_WRONLY = 1, O_RDWR = 2, O_CREAT = 0x40, O_EXCL = 0x80,
        O_TRUNC = 0x200, O_APPEND = 0x400, O_NONBLOCK = 0x800, O_CLOEXEC = 0x80000, O_PATH = 0x200000;
    public static readonly int O_DIRECTORY = Arm ? 0x4000 : 0x10000;
    public static readonly int O_NOFOLLOW = Arm ? 0x8000 : 0x20000;
    public static readonly int O_TMPFILE = 0x400000 | (Arm ? 0x4000 : 0x10000);

    public const int AT_FDCWD = -100, AT_SYMLINK_NOFOLLOW = 0x100, AT_REMOVEDIR = 0x200,
        AT_EACCESS = 0x200, AT_SYMLINK_FOLLOW = 0x400, AT_EMPTY_PATH = 0x1000;
    public const uint RENAME_NOREPLACE = 1, RENAME_EXCHANGE = 2;
    public const int XATTR_CREATE = 1, XATTR_REPLACE = 2;
    public const int FALLOC_FL_KEEP_SIZE = 1, FALLOC_FL_PUNCH_HOLE = 2;
    public const int SEEK_SET = 0, SEEK_CUR = 1, SEEK_END = 2, SEEK_DATA = 3, SEEK_HOLE = 4;
    public const uint S_IFMT = 0xF000, S_IFSOCK = 0xC000, S_IFLNK = 0xA000, S_IFREG = 0x8000,
        S_IFBLK = 0x6000, S_IFDIR = 0x4000, S_IFCHR = 0x2000, S_IFIFO = 0x1000,
        S_ISUID = 0x800, S_ISGID = 0x400, S_ISVTX = 0x200;
    public const long UTIME_NOW = (1L << 30) - 1, UTIME_OMIT = (1L << 30) - 2;
    public const int PROT_READ = 1, PROT_WRITE = 2, MAP_SHARED = 1, MS_SYNC = 4;
    public const short POLLIN = 1, POLLOUT = 4, POLLERR = 8, POLLHUP = 0x10, POLLNVAL = 0x20;
    public const int SIGINT = 2, SIGKILL = 9, SIGTERM = 15;
    public const int F_OK = 0, X_OK = 1, W_OK = 2, R_OK = 4;
    public const byte DT_UNKNOWN = 0, DT_FIFO = 1, DT_CHR = 2, DT_DIR = 4, DT_BLK = 6, DT_REG = 8,
        DT_LNK = 10, DT_SOCK = 12;
    public const uint STATX_BASIC_STATS = 0x7ff;

    public const int EPERM = 1, ENOENT = 2, ESRCH = 3, EINTR = 4, EIO = 5, ENXIO = 6, EBADF = 9,
        EAGAIN = 11, ENOMEM = 12, EACCES = 13, EBUSY = 16, EEXIST = 17, EXDEV = 18, ENODEV = 19,
        ENOTDIR = 20, EISDIR = 21, EINVAL = 22, EMFILE = 24, ETXTBSY = 26, EFBIG = 27, ENOSPC = 28,
        ESPIPE = 29, EROFS = 30, EMLINK = 31, ERANGE = 34, ENAMETOOLONG = 36, ENOSYS = 38,
        ENOTEMPTY = 39, ELOOP = 40, ENODATA = 61, EOVERFLOW = 75, EOPNOTSUPP = 95, ECONNABORTED = 103, ENOTCONN = 107,
        ESTALE = 116, E2BIG = 7;

    private static readonly Dictionary<int, string> ErrNames = new()
    {
        [EPERM] = "EPERM", [ENOENT] = "ENOENT", [ESRCH] = "ESRCH", [EINTR] = "EINTR", [EIO] = "EIO",
        [ENXIO] = "ENXIO", [EBADF] = "EBADF", [EAGAIN] = "EAGAIN", [ENOMEM] = "ENOMEM",
        [EACCES] = "EACCES", [EBUSY] = "EBUSY", [EEXIST] = "EEXIST", [EXDEV] = "EXDEV",
        [ENODEV] = "ENODEV", [ENOTDIR] = "ENOTDIR", [EISDIR] = "EISDIR", [EINVAL] = "EINVAL",
        [EMFILE] = "EMFILE", [ETXTBSY] = "ETXTBSY", [EFBIG] = "EFBIG", [ENOSPC] = "ENOSPC",
        [ESPIPE] = "ESPIPE", [EROFS] = "EROFS", [EMLINK] = "EMLINK", [ERANGE] = "ERANGE",
        [ENAMETOOLONG] = "ENAMETOOLONG", [ENOSYS] = "ENOSYS", [ENOTEMPTY] = "ENOTEMPTY",
        [ELOOP] = "ELOOP", [ENODATA] = "ENODATA", [EOVERFLOW] = "EOVERFLOW",
        [EOPNOTSUPP] = "EOPNOTSUPP", [ECONNABORTED] = "ECONNABORTED", [ENOTCONN] = "ENOTCONN", [ESTALE] = "ESTALE", [E2BIG] = "E2BIG",
    };

    public static string ErrName(int errno) => ErrNames.TryGetValue(errno, out var n) ? n : $"errno {errno}";

    public static int Errno => Marshal.GetLastPInvokeError();

    /// <summary>Turns a raw return value into a comparable result (errno captured on failure).</summary>
    public static Res R(long rc) => rc < 0 ? new Res(-1, Marshal.GetLastPInvokeError()) : new Res(rc, 0);

    /// <summary>Like <see cref="R"/> but keeps only success/errno (for descriptors and other values that differ by nature).</summary>
    public static Res R0(long rc) => rc < 0 ? new Res(-1, Marshal.GetLastPInvokeError()) : new Res(0, 0);

    /// <summary>Throws (with errno name) when a call failed; returns the value otherwise.</summary>
    public static long Check(long rc, string what)
    {
        if (rc < 0)
        {
            int e = Marshal.GetLastPInvokeError();
            throw new IOException($"{what} failed: {ErrName(e)} ({e})");
        }
        return rc;
    }

    // ---------------------------------------------------------------- the calls, by their libc names
    // The bindings themselves are the shared ones (src/Common/Interop, linked into this assembly);
    // these keep the C spelling the tests read like.

    public static int open(string path, int flags, uint mode) => Libc.Open(path, flags, mode);
    public static int openat(int dirfd, string path, int flags, uint mode) => Libc.OpenAt(dirfd, path, flags, mode);
    public static int close(int fd) => Libc.Close(fd);
    public static nint read(int fd, byte* buf, nuint count) => Libc.Read(fd, buf, count);
    public static nint write(int fd, byte* buf, nuint count) => Libc.Write(fd, buf, count);
    public static nint pread(int fd, byte* buf, nuint count, long offset) => Libc.Pread(fd, buf, count, offset);
    public static nint pwrite(int fd, byte* buf, nuint count, long offset) => Libc.Pwrite(fd, buf, count, offset);
    public static long lseek(int fd, long offset, int whence) => Libc.Lseek(fd, offset, whence);
    public static int ftruncate(int fd, long length) => Libc.Ftruncate(fd, length);
    public static int truncate(string path, long length) => Libc.Truncate(path, length);
    public static int fsync(int fd) => Libc.Fsync(fd);
    public static int fdatasync(int fd) => Libc.Fdatasync(fd);
    public static int fallocate(int fd, int mode, long offset, long len) => Libc.Fallocate(fd, mode, offset, len);
    public static nint copy_file_range(int fdIn, long* offIn, int fdOut, long* offOut, nuint len, uint flags) =>
        Libc.CopyFileRange(fdIn, offIn, fdOut, offOut, len, flags);
    internal static int poll(PollFd* fds, nuint nfds, int timeout) => Libc.Poll(fds, nfds, timeout);
    public static void* mmap(void* addr, nuint length, int prot, int flags, int fd, long offset) =>
        Libc.Mmap(addr, length, prot, flags, fd, offset);
    public static int munmap(void* addr, nuint length) => Libc.Munmap(addr, length);
    public static int msync(void* addr, nuint length, int flags) => Libc.Msync(addr, length, flags);

    public static int mkdir(string path, uint mode) => Libc.Mkdir(path, mode);
    public static int mkdirat(int dirfd, string path, uint mode) => Libc.MkdirAt(dirfd, path, mode);
    public static int rmdir(string path) => Libc.Rmdir(path);
    public static int unlink(string path) => Libc.Unlink(path);
    public static int unlinkat(int dirfd, string path, int flags) => Libc.UnlinkAt(dirfd, path, flags);
    public static int rename(string oldPath, string newPath) => Libc.Rename(oldPath, newPath);
    public static int renameat2(int oldDirFd, string oldPath, int newDirFd, string newPath, uint flags) =>
        Libc.RenameAt2(oldDirFd, oldPath, newDirFd, newPath, flags);
    public static int link(string oldPath, string newPath) => Libc.Link(oldPath, newPath);
    public static int linkat(int oldDirFd, string oldPath, int newDirFd, string newPath, int flags) =>
        Libc.LinkAt(oldDirFd, oldPath, newDirFd, newPath, flags);
    public static int symlink(string target, string linkPath) => Libc.Symlink(target, linkPath);
    public static nint readlink(string path, byte* buf, nuint size) => Libc.Readlink(path, buf, size);
    public static int mknod(string path, uint mode, ulong dev) => Libc.Mknod(path, mode, dev);

    public static int chmod(string path, uint mode) => Libc.Chmod(path, mode);
    public static int fchmod(int fd, uint mode) => Libc.Fchmod(fd, mode);
    public static int chown(string path, int uid, int gid) => Libc.Chown(path, uid, gid);
    public static int lchown(string path, int uid, int gid) => Libc.Lchown(path, uid, gid);
    public static int fchown(int fd, int uid, int gid) => Libc.Fchown(fd, uid, gid);
    internal static int utimensat(int dirfd, string? path, Timespec* times, int flags) => Libc.UtimensAt(dirfd, path, times, flags);
    internal static int futimens(int fd, Timespec* times) => Libc.Futimens(fd, times);
    internal static int statx(int dirfd, string path, int flags, uint mask, StatxBuf* buf) => Libc.Statx(dirfd, path, flags, mask, buf);
    internal static int statfs(string path, StatfsBuf* buf) => Libc.Statfs(path, buf);
    public static int faccessat(int dirfd, string path, int mode, int flags) => Libc.FaccessAt(dirfd, path, mode, flags);
    public static int access(string path, int mode) => Libc.Access(path, mode);

    public static int setxattr(string path, string name, byte* value, nuint size, int flags) => Libc.Setxattr(path, name, value, size, flags);
    public static int lsetxattr(string path, string name, byte* value, nuint size, int flags) => Libc.Lsetxattr(path, name, value, size, flags);
    public static int fsetxattr(int fd, string name, byte* value, nuint size, int flags) => Libc.Fsetxattr(fd, name, value, size, flags);
    public static nint getxattr(string path, string name, byte* value, nuint size) => Libc.Getxattr(path, name, value, size);
    public static nint lgetxattr(string path, string name, byte* value, nuint size) => Libc.Lgetxattr(path, name, value, size);
    public static nint fgetxattr(int fd, string name, byte* value, nuint size) => Libc.Fgetxattr(fd, name, value, size);
    public static nint listxattr(string path, byte* list, nuint size) => Libc.Listxattr(path, list, size);
    public static nint llistxattr(string path, byte* list, nuint size) => Libc.Llistxattr(path, list, size);
    public static int removexattr(string path, string name) => Libc.Removexattr(path, name);
    public static int lremovexattr(string path, string name) => Libc.Lremovexattr(path, name);

    public static nint opendir(string path) => Libc.OpenDir(path);
    public static nint readdir(nint dir) => Libc.ReadDir(dir);
    public static int closedir(nint dir) => Libc.CloseDir(dir);
    public static nint getdents64(int fd, byte* buf, nuint count) => Libc.Getdents64(fd, buf, count);

    public static int kill(int pid, int sig) => Libc.Kill(pid, sig);
    public static uint geteuid() => Libc.GetEuid();

    public static ulong Makedev(uint major, uint minor) =>
        ((ulong)(major & 0xfffff000) << 32) | ((ulong)(major & 0xfff) << 8) |
        ((ulong)(minor & 0xffffff00) << 12) | (minor & 0xff);

    // ================================================================ convenience wrappers

    /// <summary>stat/lstat through statx. Returns null and sets <paramref name="errno"/> on failure.</summary>
    public static St? Stat(string path, out int errno, bool follow = true)
    {
        StatxBuf b;
        int rc = statx(AT_FDCWD, path, follow ? 0 : AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &b);
        if (rc < 0) { errno = Marshal.GetLastPInvokeError(); return null; }
        errno = 0;
        return St.From(b);
    }

    public static St Stat(string path, bool follow = true) =>
        Stat(path, out int e, follow) ?? throw new IOException($"stat({path}) failed: {ErrName(e)}");

    public static St Lstat(string path) => Stat(path, follow: false);

    public static St Fstat(int fd)
    {
        StatxBuf b;
        Check(statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &b), $"fstat({fd})");
        return St.From(b);
    }

    /// <summary>stat result or the errno, as one comparable value.</summary>
    public static StatOrErr StatE(string path, bool follow = false)
    {
        var s = Stat(path, out int e, follow);
        return new StatOrErr(s?.Core, e);
    }

    public static int Open(string path, int flags, uint mode = 0x1a4 /* 0644 */) =>
        (int)Check(open(path, flags | O_CLOEXEC, mode), $"open({path})");

    public static void Close(int fd) => Check(close(fd), "close");

    public static void WriteFile(string path, ReadOnlySpan<byte> data, uint mode = 0x1a4)
    {
        int fd = Open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
        try { PwriteAll(fd, data, 0); }
        finally { close(fd); }
    }

    public static void WriteFile(string path, string text, uint mode = 0x1a4) =>
        WriteFile(path, Encoding.UTF8.GetBytes(text), mode);

    public static void PwriteAll(int fd, ReadOnlySpan<byte> data, long offset)
    {
        fixed (byte* p = data)
        {
            int done = 0;
            while (done < data.Length)
            {
                long n = Check(pwrite(fd, p + done, (nuint)(data.Length - done), offset + done), "pwrite");
                if (n == 0) throw new IOException("pwrite wrote 0 bytes");
                done += (int)n;
            }
        }
    }

    /// <summary>Reads up to <paramref name="count"/> bytes at <paramref name="offset"/>, looping on short reads until EOF.</summary>
    public static byte[] PreadFull(int fd, int count, long offset)
    {
        var buf = new byte[count];
        int done = 0;
        fixed (byte* p = buf)
        {
            while (done < count)
            {
                long n = Check(pread(fd, p + done, (nuint)(count - done), offset + done), "pread");
                if (n == 0) break;
                done += (int)n;
            }
        }
        return done == count ? buf : buf[..done];
    }

    [ThreadStatic] private static byte[]? _readBuf;

    public static byte[] ReadFile(string path)
    {
        int fd = Open(path, O_RDONLY);
        try
        {
            var buf = _readBuf ??= new byte[1 << 20];
            var ms = new MemoryStream((int)Math.Min(Fstat(fd).Size + 1, 64 << 20));
            fixed (byte* p = buf)
            {
                while (true)
                {
                    long n = Check(read(fd, p, (nuint)buf.Length), $"read({path})");
                    if (n == 0) break;
                    ms.Write(buf, 0, (int)n);
                }
            }
            return ms.ToArray();
        }
        finally { close(fd); }
    }

    public static string ReadText(string path) => Encoding.UTF8.GetString(ReadFile(path));

    public static string? ReadLink(string path, out int errno)
    {
        var buf = new byte[8192];
        fixed (byte* p = buf)
        {
            long n = readlink(path, p, (nuint)buf.Length);
            if (n < 0) { errno = Marshal.GetLastPInvokeError(); return null; }
            errno = 0;
            return Encoding.UTF8.GetString(buf, 0, (int)n);
        }
    }

    public static void Mkdir(string path, uint mode = 0x1ed /* 0755 */) => Check(mkdir(path, mode), $"mkdir({path})");

    internal static void Utimens(string path, Timespec atime, Timespec mtime, bool follow = true)
    {
        var t = stackalloc Timespec[2];
        t[0] = atime; t[1] = mtime;
        Check(utimensat(AT_FDCWD, path, t, follow ? 0 : AT_SYMLINK_NOFOLLOW), $"utimensat({path})");
    }

    /// <summary>All entries of a directory through readdir(3), including "." and "..".</summary>
    public static List<(string Name, byte Type)> ReadDir(string path)
    {
        nint d = opendir(path);
        if (d == 0) throw new IOException($"opendir({path}) failed: {ErrName(Marshal.GetLastPInvokeError())}");
        var list = new List<(string, byte)>();
        try
        {
            while (true)
            {
                Marshal.SetLastPInvokeError(0);
                nint e = readdir(d);
                if (e == 0)
                {
                    int err = Marshal.GetLastPInvokeError();
                    if (err != 0) throw new IOException($"readdir({path}) failed: {ErrName(err)}");
                    break;
                }
                byte* p = (byte*)e;
                byte type = p[18];
                string name = Marshal.PtrToStringUTF8((nint)(p + 19))!;
                list.Add((name, type));
            }
        }
        finally { closedir(d); }
        return list;
    }

    /// <summary>Entries from getdents64 with their d_off, using a buffer of <paramref name="bufSize"/> bytes per call.</summary>
    public static List<(string Name, byte Type, long Off)> GetDents(int fd, int bufSize)
    {
        var list = new List<(string, byte, long)>();
        var buf = new byte[bufSize];
        fixed (byte* p = buf)
        {
            while (true)
            {
                long n = Check(getdents64(fd, p, (nuint)bufSize), "getdents64");
                if (n == 0) break;
                long pos = 0;
                while (pos < n)
                {
                    byte* e = p + pos;
                    long off = *(long*)(e + 8);
                    ushort reclen = *(ushort*)(e + 16);
                    byte type = e[18];
                    string name = Marshal.PtrToStringUTF8((nint)(e + 19))!;
                    list.Add((name, type, off));
                    pos += reclen;
                }
            }
        }
        return list;
    }

    public static Res SetXattr(string path, string name, byte[] value, int flags = 0)
    {
        fixed (byte* p = value)
            return R(setxattr(path, name, p, (nuint)value.Length, flags));
    }

    /// <summary>getxattr with a buffer of exactly <paramref name="size"/> bytes (0: size probe).</summary>
    public static (Res Res, byte[] Value) GetXattr(string path, string name, int size)
    {
        var buf = new byte[Math.Max(size, 1)];
        fixed (byte* p = buf)
        {
            var r = R(getxattr(path, name, size == 0 ? null : p, (nuint)size));
            return (r, r.Ok && size > 0 ? buf[..(int)r.Value] : []);
        }
    }

    /// <summary>listxattr with a buffer of <paramref name="size"/> bytes; names returned sorted.</summary>
    public static (Res Res, string[] Names) ListXattr(string path, int size, bool follow = true)
    {
        var buf = new byte[Math.Max(size, 1)];
        fixed (byte* p = buf)
        {
            var r = R(follow ? listxattr(path, size == 0 ? null : p, (nuint)size)
                             : llistxattr(path, size == 0 ? null : p, (nuint)size));
            if (!r.Ok || size == 0) return (r, []);
            var names = Encoding.UTF8.GetString(buf, 0, (int)r.Value)
                .Split('\0', StringSplitOptions.RemoveEmptyEntries);
            Array.Sort(names, StringComparer.Ordinal);
            return (r, names);
        }
    }
}

/// <summary>A system call result: the return value, or -1 and the errno.</summary>
public readonly record struct Res(long Value, int Errno)
{
    public bool Ok => Errno == 0;
    public override string ToString() => Errno == 0 ? $"ok({Value})" : $"-1 {Sys.ErrName(Errno)}";
}

/// <summary>A stat result (from statx).</summary>
public sealed record St(uint Mode, long Size, uint Nlink, uint Uid, uint Gid, uint RdevMajor, uint RdevMinor,
    long Blocks, ulong Ino, uint DevMajor, uint DevMinor,
    long AtimeSec, uint AtimeNsec, long MtimeSec, uint MtimeNsec, long CtimeSec, uint CtimeNsec)
{
    internal static St From(in StatxBuf b) => new(b.Mode, (long)b.Size, b.Nlink, b.Uid, b.Gid, b.RdevMajor,
        b.RdevMinor, (long)b.Blocks, b.Ino, b.DevMajor, b.DevMinor, b.AtimeSec, b.AtimeNsec, b.MtimeSec,
        b.MtimeNsec, b.CtimeSec, b.CtimeNsec);

    public uint Type => Mode & Sys.S_IFMT;
    public uint Perm => Mode & 0xFFF;
    public bool IsDir => Type == Sys.S_IFDIR;
    public bool IsReg => Type == Sys.S_IFREG;
    public bool IsLnk => Type == Sys.S_IFLNK;
    public long MtimeNs => MtimeSec * 1_000_000_000 + MtimeNsec;
    public long AtimeNs => AtimeSec * 1_000_000_000 + AtimeNsec;
    public long CtimeNs => CtimeSec * 1_000_000_000 + CtimeNsec;

    /// <summary>The fields compared between the mount and the native twin: mode, size (not for
    /// directories, whose size is the backing filesystem's business), nlink, uid, gid, rdev.</summary>
    public StCore Core => new(Convert.ToString(Mode, 8), IsDir ? -1 : Size, Nlink, Uid, Gid, $"{RdevMajor}:{RdevMinor}");
}

public readonly record struct StCore(string Mode, long Size, uint Nlink, uint Uid, uint Gid, string Rdev)
{
    public override string ToString() => $"mode={Mode} size={Size} nlink={Nlink} uid={Uid} gid={Gid} rdev={Rdev}";
}

public readonly record struct StatOrErr(StCore? Stat, int Errno)
{
    public override string ToString() => Errno != 0 ? $"-1 {Sys.ErrName(Errno)}" : Stat!.Value.ToString();
}
