using Lighthouse.Fuse.LowLevel;
using Lighthouse.Interop;
using Lighthouse.Fuse.Protocol;
using Lighthouse.Fuse.Session;

namespace Lighthouse.Passthrough;

// Directory listing (READDIR / READDIRPLUS) and extended attributes.
public sealed unsafe partial class PassthroughFileSystem
{
    private const int DirBufferSize = 32 * 1024;

    public override int OpenDir(in RequestContext ctx, ulong node, int flags, out OpenOut open)
    {
        open = default;
        var n = NodeOf(node);
        if (n is null) return Errno.ESTALE;
        int rc = Gate(ctx, GatedOperation.List, n, default, true);
        if (rc != 0) return rc;
        byte* path = PathBuffer1;
        rc = PathOf(n, default, path);
        if (rc != 0) return rc;
        int fd = Libc.OpenAt(DirOf(path), path, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC | Libc.O_NOFOLLOW, 0);
        if (fd < 0) return Fail();
        var (fh, handle) = _handles.Allocate();
        handle.Fd = fd;
        handle.Pid = ctx.Pid;
        handle.Flags = flags;
        handle.DirBuffer ??= new byte[DirBufferSize];
        handle.DirNextOffset = 0;
        handle.Node = n; // last: a handle with a node is complete (HandleTable.Snapshot lists those)
        open = new OpenOut { Fh = fh };
        return 0;
    }

    public override int ReleaseDir(in RequestContext ctx, ulong node, ulong fh)
    {
        var handle = _handles.Get(fh);
        if (handle is null) return Errno.EBADF;
        int fd = handle.Fd;
        _handles.Free(fh);
        Libc.Close(fd);
        return 0;
    }

    public override int FsyncDir(in RequestContext ctx, ulong node, ulong fh, bool dataOnly)
    {
        int fd = FdOf(fh);
        if (fd < 0) return Errno.EBADF;
        return (dataOnly ? Libc.Fdatasync(fd) : Libc.Fsync(fd)) < 0 ? Fail() : 0;
    }

    public override int ReadDir(in RequestContext ctx, ulong node, ulong fh, long offset, ref DirectoryBuffer buffer)
    {
        var handle = _handles.Get(fh);
        if (handle?.DirBuffer is null) return Errno.EBADF;
        var dir = handle.Node!;
        if (offset != handle.DirNextOffset)
        {
            // The kernel asks from another place (rewinddir, seekdir, or a retried read): reposition.
            if (Libc.Lseek(handle.Fd, offset, Libc.SEEK_SET) < 0) return Fail();
            handle.DirBufferLength = handle.DirBufferPosition = 0;
            handle.DirNextOffset = offset;
        }
        fixed (byte* raw = handle.DirBuffer)
        {
            while (true)
            {
                if (handle.DirBufferPosition >= handle.DirBufferLength)
                {
                    nint n = Libc.Getdents64(handle.Fd, raw, DirBufferSize);
                    if (n < 0) return buffer.IsEmpty ? Fail() : 0;
                    if (n == 0) return 0; // end of directory
                    handle.DirBufferLength = (int)n;
                    handle.DirBufferPosition = 0;
                }
                // struct linux_dirent64 { u64 d_ino; s64 d_off; u16 d_reclen; u8 d_type; char d_name[]; }
                byte* d = raw + handle.DirBufferPosition;
                ulong ino = *(ulong*)d;
                long next = *(long*)(d + 8);
                ushort reclen = *(ushort*)(d + 16);
                uint type = d[18];
                var name = new ReadOnlySpan<byte>(d + 19, reclen - 19);
                name = name[..name.IndexOf((byte)0)];
                if (!buffer.HasRoomFor(name.Length)) return 0;

                EntryOut entry = default;
                bool add = !IsHidden(dir, name);
                var gate = _options.Gate is { Active: true } g && !IsDotOrDotDot(name) ? g : null;
                bool cacheable = true;
                if (add && gate is not null && gate.Hides(ctx, dir, name, type == 4 /* DT_DIR */, out cacheable)) add = false;
                if (add && buffer.Plus && !IsDotOrDotDot(name))
                {
                    StatxBuf st;
                    if (Libc.Statx(handle.Fd, d + 19, Libc.AT_SYMLINK_NOFOLLOW, Libc.STATX_BASIC_STATS, &st) == 0)
                    {
                        FillEntry(Nodes.Remember(dir, name, st), st, out entry);
                        if (!cacheable)
                            entry.EntryValid = entry.AttrValid = entry.EntryValidNsec = entry.AttrValidNsec = 0;
                    }
                    else add = false; // removed since getdents: leave it out
                }
                if (add && !buffer.TryAdd(name, ino, type, next, entry))
                {
                    if (entry.NodeId != 0) Nodes.Forget(entry.NodeId, 1);
                    return 0;
                }
                handle.DirBufferPosition += reclen;
                handle.DirNextOffset = next;
            }
        }
    }

    private static bool IsDotOrDotDot(ReadOnlySpan<byte> name) =>
        name.Length == 1 && name[0] == '.' || name.Length == 2 && name[0] == '.' && name[1] == '.';

    /// <summary>A path through which an xattr call reaches the node itself: "/proc/self/fd/N" of an
    /// open descriptor. <paramref name="temporaryFd"/> must be closed by the caller if not -1.</summary>
    private int XattrPath(Node node, byte* path, out int temporaryFd)
    {
        temporaryFd = -1;
        if (node.FileType == 0xA000) return Errno.EOPNOTSUPP; // user xattrs are not allowed on symlinks
        int fd;
        int rc = PathOf(node, default, path);
        if (rc == 0)
        {
            fd = temporaryFd = Libc.OpenAt(DirOf(path), path, Libc.O_PATH | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0);
            if (fd < 0) return Fail();
        }
        else if ((fd = node.AnyOpenFd) < 0) return rc; // no name: only an open file can reach it
        ProcFdPath(fd, path);
        return 0;
    }

    private static void NulTerminated(ReadOnlySpan<byte> name, byte* buffer)
    {
        name.CopyTo(new Span<byte>(buffer, 512));
        buffer[name.Length] = 0;
    }

    public override int SetXattr(in RequestContext ctx, ulong node, ReadOnlySpan<byte> name, ReadOnlySpan<byte> value, int flags)
    {
        var n = NodeOf(node);
        if (n is null) return Errno.ESTALE;
        if (Gate(ctx, GatedOperation.Meta, n, default, n.FileType == 0x4000) is var denied and not 0) return denied;
        if (name.Length > 255) return Errno.ERANGE;
        byte* path = PathBuffer1, xname = PathBuffer2;
        int rc = XattrPath(n, path, out int tmp);
        if (rc != 0) return rc;
        NulTerminated(name, xname);
        fixed (byte* v = value)
            rc = Libc.Setxattr(path, xname, v, (nuint)value.Length, flags) < 0 ? Fail() : 0;
        if (tmp >= 0) Libc.Close(tmp);
        return rc;
    }

    public override int GetXattr(in RequestContext ctx, ulong node, ReadOnlySpan<byte> name, Span<byte> value, out int size)
    {
        size = 0;
        var n = NodeOf(node);
        if (n is null) return Errno.ESTALE;
        if (name.Length > 255) return Errno.ERANGE;
        byte* path = PathBuffer1, xname = PathBuffer2;
        if (n.FileType == 0x8000)
        {
            // The kernel asks for security.capability before every write to a file that is open:
            // ask the open file directly (one system call, no path walk).
            lock (n)
            {
                if (n.OpenFd >= 0)
                {
                    NulTerminated(name, xname);
                    fixed (byte* v = value)
                    {
                        nint r = Libc.Fgetxattr(n.OpenFd, xname, value.IsEmpty ? null : v, (nuint)value.Length);
                        size = (int)Math.Max(0, r);
                        return r < 0 ? Fail() : 0;
                    }
                }
            }
        }
        int rc = XattrPath(n, path, out int tmp);
        if (rc == Errno.EOPNOTSUPP) return Errno.ENODATA;
        if (rc != 0) return rc;
        NulTerminated(name, xname);
        fixed (byte* v = value)
        {
            nint r = Libc.Getxattr(path, xname, value.IsEmpty ? null : v, (nuint)value.Length);
            rc = r < 0 ? Fail() : 0;
            size = (int)Math.Max(0, r);
        }
        if (tmp >= 0) Libc.Close(tmp);
        return rc;
    }

    public override int ListXattr(in RequestContext ctx, ulong node, Span<byte> list, out int size)
    {
        size = 0;
        var n = NodeOf(node);
        if (n is null) return Errno.ESTALE;
        byte* path = PathBuffer1;
        int rc = XattrPath(n, path, out int tmp);
        if (rc == Errno.EOPNOTSUPP) return 0;
        if (rc != 0) return rc;
        fixed (byte* l = list)
        {
            nint r = Libc.Listxattr(path, list.IsEmpty ? null : l, (nuint)list.Length);
            rc = r < 0 ? Fail() : 0;
            size = (int)Math.Max(0, r);
        }
        if (tmp >= 0) Libc.Close(tmp);
        return rc;
    }

    public override int RemoveXattr(in RequestContext ctx, ulong node, ReadOnlySpan<byte> name)
    {
        var n = NodeOf(node);
        if (n is null) return Errno.ESTALE;
        if (Gate(ctx, GatedOperation.Meta, n, default, n.FileType == 0x4000) is var denied and not 0) return denied;
        if (name.Length > 255) return Errno.ERANGE;
        byte* path = PathBuffer1, xname = PathBuffer2;
        int rc = XattrPath(n, path, out int tmp);
        if (rc == Errno.EOPNOTSUPP) return Errno.ENODATA;
        if (rc != 0) return rc;
        NulTerminated(name, xname);
        rc = Libc.Removexattr(path, xname) < 0 ? Fail() : 0;
        if (tmp >= 0) Libc.Close(tmp);
        return rc;
    }
}
