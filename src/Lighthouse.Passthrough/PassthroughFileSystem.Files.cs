using Lighthouse.Fuse.LowLevel;
using Lighthouse.Interop;
using Lighthouse.Fuse.Protocol;
using Lighthouse.Fuse.Session;

namespace Lighthouse.Passthrough;

// Open files: open, create, O_TMPFILE, read, write, release and the rest of the data calls.
public sealed unsafe partial class PassthroughFileSystem
{
    /// <summary>Flags we never pass to our own open: the kernel already handled creation and append
    /// position, and O_DIRECT would demand aligned buffers the reply buffer does not have.</summary>
    private const int FlagsHandledByKernel = Libc.O_CREAT | Libc.O_EXCL | Libc.O_NOCTTY | Libc.O_APPEND | Libc.O_DIRECT;

    public override int Open(in RequestContext ctx, ulong node, int flags, uint openFlags, out OpenOut open)
    {
        open = default;
        var n = NodeOf(node);
        if (n is null) return Errno.ESTALE;
        bool writing = (flags & Libc.O_ACCMODE) != Libc.O_RDONLY || (flags & Libc.O_TRUNC) != 0;
        if (_options.Gate is { Active: true })
        {
            bool reading = (flags & Libc.O_ACCMODE) != Libc.O_WRONLY;
            int denied = reading ? Gate(ctx, GatedOperation.Read, n, default, false) : 0;
            if (denied == 0 && writing) denied = Gate(ctx, GatedOperation.Write, n, default, false);
            if (denied != 0) return denied;
        }
        if (writing && n.FileType == 0x8000 && _observer is { } o)
            try { o.BeforeModify(ctx, n, inPlace: true); } catch (Exception e) { ObserverFailed(ctx, e); }
        byte* path = PathBuffer1;
        int fd;
        int nameRc = PathOf(n, default, path);
        if (nameRc == 0)
            fd = Libc.OpenAt(DirOf(path), path, (flags & ~FlagsHandledByKernel) | Libc.O_CLOEXEC | Libc.O_NOFOLLOW, 0);
        else
        {
            lock (n) // reopen a file that has no name any more, through one of its open descriptors
            {
                if (n.OpenFd < 0) return nameRc;
                ProcFdPath(n.OpenFd, path);
                fd = Libc.OpenAt(Libc.AT_FDCWD, path, (flags & ~FlagsHandledByKernel) | Libc.O_CLOEXEC, 0);
            }
        }
        if (fd < 0) return Fail();
        if ((openFlags & ProtocolConstants.OpenKillSuidGid) != 0 && (flags & Libc.O_TRUNC) != 0)
        {
            StatxBuf st;
            if (StatNode(n, fd, &st) == 0) { ProcFdPath(fd, path); KillSuidGid(Libc.AT_FDCWD, path, st.Mode); }
        }
        return FinishOpen(ctx, n, fd, writing, flags, out open);
    }

    public override int Create(in RequestContext ctx, ulong parent, ReadOnlySpan<byte> name, int flags, uint mode, uint umask, out EntryOut entry, out OpenOut open)
    {
        entry = default; open = default;
        var dir = NodeOf(parent);
        if (dir is null) return Errno.ESTALE;
        if (IsHidden(dir, name)) return Errno.EPERM;
        int rc = Gate(ctx, GatedOperation.Create, dir, name, false);
        if (rc != 0) return rc;
        byte* path = PathBuffer1;
        rc = PathOf(dir, name, path);
        if (rc != 0) return rc;
        int fd;
        using (CallerCredentials.Assume(ctx))
            fd = Libc.OpenAt(DirOf(path), path, (flags & ~(Libc.O_APPEND | Libc.O_DIRECT | Libc.O_NOCTTY)) | Libc.O_CREAT | Libc.O_CLOEXEC, mode);
        if (fd < 0) return Fail();
        return RegisterNewFile(ctx, dir, name, fd, flags, out entry, out open);
    }

    public override int TmpFile(in RequestContext ctx, ulong parent, int flags, uint mode, uint umask, out EntryOut entry, out OpenOut open)
    {
        entry = default; open = default;
        var dir = NodeOf(parent);
        if (dir is null) return Errno.ESTALE;
        // An unnamed file in the directory: a creation there (its name comes later, by link, which is checked too).
        int rc = Gate(ctx, GatedOperation.Create, dir, default, true);
        if (rc != 0) return rc;
        byte* path = PathBuffer1;
        rc = PathOf(dir, default, path);
        if (rc != 0) return rc;
        int fd;
        using (CallerCredentials.Assume(ctx))
            fd = Libc.OpenAt(DirOf(path), path, (flags & Libc.O_ACCMODE) | Libc.O_TMPFILE | Libc.O_CLOEXEC, mode);
        if (fd < 0) return Fail();
        return RegisterNewFile(ctx, dir, default, fd, flags, out entry, out open);
    }

    private int RegisterNewFile(in RequestContext ctx, Node dir, ReadOnlySpan<byte> name, int fd, int flags, out EntryOut entry, out OpenOut open)
    {
        entry = default; open = default;
        StatxBuf st;
        fixed (byte* empty = "\0"u8)
            if (Libc.Statx(fd, empty, Libc.AT_EMPTY_PATH, Libc.STATX_BASIC_STATS, &st) < 0)
            {
                int err = Fail();
                Libc.Close(fd);
                return err;
            }
        var node = Nodes.Remember(dir, name, st);
        if (!name.IsEmpty && _observer is { } o)
            try { o.Created(ctx, dir, name, node, new NodeStat(st), default); } catch (Exception e) { ObserverFailed(ctx, e); }
        int rc = FinishOpen(ctx, node, fd, true, flags, out open, created: !name.IsEmpty);
        if (rc != 0) { Nodes.Forget(node.Id, 1); return rc; }
        FillEntry(node, st, out entry);
        return 0;
    }

    /// <summary>Registers an open descriptor as a file handle, with a kernel passthrough backing file where we can.</summary>
    private int FinishOpen(in RequestContext ctx, Node node, int fd, bool writing, int flags, out OpenOut open, bool created = false)
    {
        var (fh, handle) = _handles.Allocate();
        handle.Fd = fd;
        handle.Writable = writing;
        handle.Pid = ctx.Pid;
        handle.Flags = flags;
        handle.Node = node; // last: a handle with a node is complete (Snapshot lists those)
        if (_observer is { } o)
            try { handle.OpenedBy = o.Opened(ctx, node, writing, created); } catch (Exception e) { ObserverFailed(ctx, e); }
        open = new OpenOut { Fh = fh, OpenFlags = OpenReplyFlags.KeepCache };
        lock (node)
        {
            node.OpenFiles++;
            if (writing) node.WritableFiles++;
            (node.OpenFds ??= []).Add(fd);
            if (_backing is { } backing && node.FileType == 0x8000)
            {
                int backingId = node.Backing.Acquire(backing, fd);
                if (backingId > 0)
                {
                    handle.Passthrough = true;
                    open = new OpenOut { Fh = fh, OpenFlags = OpenReplyFlags.Passthrough, BackingId = backingId };
                }
            }
        }
        return 0;
    }

    public override int Release(in RequestContext ctx, ulong node, ulong fh, int flags)
    {
        var handle = _handles.Get(fh);
        if (handle is null) return Errno.EBADF;
        var n = handle.Node!;
        int fd = handle.Fd;
        // No longer counted as writing before the observer hears of it: of two handles released at once on two threads,
        // the second to get here sees no other writer (each seeing the other would leave the bytes to nobody).
        if (handle.Writable) lock (n) n.WritableFiles--;
        if (handle.Writable && _observer is { } o)
        {
            try { o.Written(ctx, n, handle.OpenedBy, fd, closing: true); } catch (Exception e) { ObserverFailed(ctx, e); }
            try { o.Released(ctx, n, handle.OpenedBy); } catch (Exception e) { ObserverFailed(ctx, e); }
        }
        if (_observer is { } closed)
            try { closed.Closed(n, handle.OpenedBy, Interlocked.Read(ref handle.BytesRead), Interlocked.Read(ref handle.BytesWritten)); }
            catch (Exception e) { ObserverFailed(ctx, e); }
        lock (n)
        {
            n.OpenFiles--;
            n.OpenFds?.Remove(fd);
            if (handle.Passthrough) n.Backing.Release(_backing!);
            // Closed under the node's lock: others use OpenFd under it.
            Libc.Close(fd);
        }
        _handles.Free(fh);
        return 0;
    }

    private int FdOf(ulong fh) => _handles.Get(fh)?.Fd ?? -1;

    public override int Read(in RequestContext ctx, ulong node, ulong fh, long offset, Span<byte> buffer, out int bytesRead)
    {
        bytesRead = 0;
        var handle = _handles.Get(fh);
        if (handle is null || handle.Fd < 0) return Errno.EBADF;
        int rc = Libc.PreadFully(handle.Fd, buffer, offset, out bytesRead);
        if (bytesRead > 0) Interlocked.Add(ref handle.BytesRead, bytesRead);
        return rc;
    }

    public override int Write(in RequestContext ctx, ulong node, ulong fh, long offset, ReadOnlySpan<byte> data, uint writeFlags, out int written)
    {
        written = 0;
        var handle = _handles.Get(fh);
        int fd = handle?.Fd ?? -1;
        if (fd < 0) return Errno.EBADF;
        int rc = WriteAll(fd, fh, offset, data, writeFlags, ref written);
        if (written > 0) Interlocked.Add(ref handle!.BytesWritten, written);
        return rc;
    }

    private int WriteAll(int fd, ulong fh, long offset, ReadOnlySpan<byte> data, uint writeFlags, ref int written)
    {
        fixed (byte* p = data)
        {
            while (written < data.Length)
            {
                nint n = Libc.Pwrite(fd, p + written, (nuint)(data.Length - written), offset + written);
                if (n < 0) { int err = Fail(); if (err == Errno.EINTR) continue; if (written == 0) return err; break; }
                written += (int)n;
            }
        }
        if ((writeFlags & ProtocolConstants.WriteKillSuidGid) != 0 && _handles.Get(fh)?.Node is { } n2)
        {
            StatxBuf st;
            if (StatNode(n2, fd, &st, Libc.STATX_MODE) == 0 && (st.Mode & 0xC00) != 0)
            {
                byte* path = PathBuffer1;
                ProcFdPath(fd, path);
                KillSuidGid(Libc.AT_FDCWD, path, st.Mode);
            }
        }
        return 0;
    }

    public override int Fsync(in RequestContext ctx, ulong node, ulong fh, bool dataOnly)
    {
        var handle = _handles.Get(fh);
        if (handle is null) return Errno.EBADF;
        if ((dataOnly ? Libc.Fdatasync(handle.Fd) : Libc.Fsync(handle.Fd)) < 0) return Fail();
        if (handle.Writable && _observer is { } o)
            try { o.Written(ctx, handle.Node!, handle.OpenedBy, handle.Fd, closing: false); } catch (Exception e) { ObserverFailed(ctx, e); }
        return 0;
    }

    public override int Fallocate(in RequestContext ctx, ulong node, ulong fh, long offset, long length, int mode)
    {
        int fd = FdOf(fh);
        if (fd < 0) return Errno.EBADF;
        return Libc.Fallocate(fd, mode, offset, length) < 0 ? Fail() : 0;
    }

    public override int Lseek(in RequestContext ctx, ulong node, ulong fh, long offset, int whence, out long result)
    {
        result = 0;
        int fd = FdOf(fh);
        if (fd < 0) return Errno.EBADF;
        result = Libc.Lseek(fd, offset, whence);
        return result < 0 ? Fail() : 0;
    }

    public override int CopyFileRange(in RequestContext ctx, ulong nodeIn, ulong fhIn, long offsetIn, ulong nodeOut, ulong fhOut, long offsetOut, long length, ulong flags, out long copied)
    {
        copied = 0;
        int fdIn = FdOf(fhIn), fdOut = FdOf(fhOut);
        if (fdIn < 0 || fdOut < 0) return Errno.EBADF;
        long offIn = offsetIn, offOut = offsetOut;
        nint n = Libc.CopyFileRange(fdIn, &offIn, fdOut, &offOut, (nuint)length, (uint)flags);
        if (n < 0) return Fail();
        copied = n;
        return 0;
    }

    public override int Poll(in RequestContext ctx, ulong node, ulong fh, ulong kh, bool scheduleNotify, uint events, out uint revents)
    {
        // Regular files are always ready (POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM).
        revents = events & (0x1u | 0x4u | 0x40u | 0x100u);
        return 0;
    }
}
