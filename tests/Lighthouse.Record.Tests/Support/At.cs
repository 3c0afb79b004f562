using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace Lighthouse.Record.Tests.Support;

/// <summary>One entry of a directory as getdents64 gives it: the name's bytes and d_type.</summary>
public readonly record struct DirectoryEntry(string Name, byte Type);

/// <summary>
/// Descriptor-relative file system calls (openat, statx, readlinkat, getdents64 from a directory
/// descriptor) with names as strings, so walks and workloads reach paths deeper than PATH_MAX one
/// component at a time. Calls return the libc result; <see cref="Libc.Errno"/> right after tells why one failed.
/// </summary>
internal static unsafe class At
{
    /// <summary>PATH_MAX: the longest path (and symlink target) a single call takes.</summary>
    public const int PathMax = 4096;

    public const int DirectoryFlags = Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC;

    /// <summary>The name as libc takes it: UTF-8 with a terminating NUL.</summary>
    public static byte[] Z(string name)
    {
        var bytes = new byte[Encoding.UTF8.GetByteCount(name) + 1];
        Encoding.UTF8.GetBytes(name, bytes);
        return bytes;
    }

    public static int Open(int dirFd, string name, int flags, uint mode = 0)
    {
        fixed (byte* p = Z(name)) return Libc.OpenAt(dirFd, p, flags | Libc.O_CLOEXEC, mode);
    }

    public static int OpenDirectory(int dirFd, string name) => Open(dirFd, name, DirectoryFlags);

    /// <summary>lstat of <paramref name="name"/> in <paramref name="dirFd"/> (not following a symlink); false and errno on failure.</summary>
    public static bool Lstat(int dirFd, string name, out StatxBuf stat)
    {
        fixed (byte* p = Z(name))
        fixed (StatxBuf* s = &stat)
            return Libc.Statx(dirFd, p, Libc.AT_SYMLINK_NOFOLLOW, Libc.STATX_BASIC_STATS, s) == 0;
    }

    public static bool Fstat(int fd, out StatxBuf stat)
    {
        fixed (byte* p = Z(""))
        fixed (StatxBuf* s = &stat)
            return Libc.Statx(fd, p, Libc.AT_EMPTY_PATH, Libc.STATX_BASIC_STATS, s) == 0;
    }

    /// <summary>A symlink's target bytes, or null (errno set).</summary>
    public static byte[]? ReadLink(int dirFd, string name)
    {
        var buffer = new byte[PathMax];
        fixed (byte* p = Z(name))
        fixed (byte* b = buffer)
        {
            long n = Libc.ReadlinkAt(dirFd, p, b, (nuint)buffer.Length);
            return n < 0 ? null : buffer[..(int)n];
        }
    }

    /// <summary>The entries of the directory open at <paramref name="dirFd"/>, without "." and "..", in name order;
    /// null (errno set) if it cannot be read. Reads from the descriptor's current offset.</summary>
    public static List<DirectoryEntry>? List(int dirFd)
    {
        var entries = new List<DirectoryEntry>();
        var buffer = new byte[64 * 1024];
        fixed (byte* b = buffer)
        {
            while (true)
            {
                long n = Libc.Getdents64(dirFd, b, (nuint)buffer.Length);
                if (n < 0) return null;
                if (n == 0) break;
                for (long at = 0; at < n;)
                {
                    byte* record = b + at;
                    ushort length = *(ushort*)(record + 16);
                    string name = Marshal.PtrToStringUTF8((nint)(record + Libc.DirentNameOffset))!;
                    if (name is not ("." or "..")) entries.Add(new DirectoryEntry(name, record[18]));
                    at += length;
                }
            }
        }
        entries.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        return entries;
    }

    /// <summary>The entries of <paramref name="name"/> in <paramref name="dirFd"/>; null (errno set) if it is no readable directory.</summary>
    public static List<DirectoryEntry>? List(int dirFd, string name)
    {
        int fd = OpenDirectory(dirFd, name);
        if (fd < 0) return null;
        try { return List(fd); }
        finally { Libc.Close(fd); }
    }

    /// <summary>The SHA-256 (hex) of a regular file's bytes, read through a descriptor; null and why not (the open's
    /// or a read's errno, e.g. "open failed: ENODATA" for content history did not keep) when they cannot be read.</summary>
    public static string? Sha256(int dirFd, string name, out long length, out string? problem)
    {
        length = 0;
        // O_NONBLOCK: a regular file does not care, and a name that became a FIFO meanwhile must not hang the reader.
        int fd = Open(dirFd, name, Libc.O_RDONLY | Libc.O_NOFOLLOW | Libc.O_NONBLOCK | Libc.O_NOATIME);
        if (fd < 0 && Libc.Errno == Libc.EPERM) fd = Open(dirFd, name, Libc.O_RDONLY | Libc.O_NOFOLLOW | Libc.O_NONBLOCK);
        if (fd < 0) { problem = "open failed: " + Errno.Name(Libc.Errno); return null; }
        try
        {
            using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var buffer = new byte[1 << 20];
            fixed (byte* b = buffer)
            {
                while (true)
                {
                    long n = Libc.Read(fd, b, (nuint)buffer.Length);
                    if (n < 0) { problem = $"read failed at byte {length}: " + Errno.Name(Libc.Errno); return null; }
                    if (n == 0) break;
                    sha.AppendData(buffer, 0, (int)n);
                    length += n;
                }
            }
            problem = null;
            return Convert.ToHexStringLower(sha.GetHashAndReset());
        }
        finally { Libc.Close(fd); }
    }

    public static string TypeName(uint mode) => (mode & Libc.S_IFMT) switch
    {
        Libc.S_IFREG => "file", Libc.S_IFDIR => "directory", Libc.S_IFLNK => "symlink", Libc.S_IFIFO => "fifo",
        Libc.S_IFCHR => "char device", Libc.S_IFBLK => "block device", Libc.S_IFSOCK => "socket", _ => $"type {mode >> 12:o}",
    };
}
