using Lighthouse.Fuse.LowLevel;
using Lighthouse.Interop;
using Lighthouse.Fuse.Protocol;
using Lighthouse.Fuse.Session;

namespace Lighthouse.Passthrough;

// Names and attributes: create, remove, rename, link, setattr.
public sealed unsafe partial class PassthroughFileSystem
{
    private const uint RenameNoReplace = 1, RenameExchange = 2;

    public override int ReadLink(in RequestContext ctx, ulong node, Span<byte> target, out int length)
    {
        length = 0;
        var n = NodeOf(node);
        if (n is null) return Errno.ESTALE;
        int rc = Gate(ctx, GatedOperation.Read, n, default, false);
        if (rc != 0) return rc;
        byte* path = PathBuffer1;
        rc = PathOf(n, default, path);
        if (rc != 0) return rc;
        fixed (byte* t = target)
        {
            nint read = Libc.ReadlinkAt(DirOf(path), path, t, (nuint)target.Length);
            if (read < 0) return Fail();
            length = (int)read;
        }
        return 0;
    }

    /// <summary>Runs a create-type call as the caller, then looks the new name up.</summary>
    private int CreateEntry(in RequestContext ctx, ulong parent, ReadOnlySpan<byte> name, out EntryOut entry,
        delegate*<int, byte*, uint, ulong, byte*, int> create, uint mode, ulong extra, byte* extraPath, ReadOnlySpan<byte> symlinkTarget = default,
        bool isDirectory = false)
    {
        entry = default;
        var dir = NodeOf(parent);
        if (dir is null) return Errno.ESTALE;
        if (IsHidden(dir, name)) return Errno.EPERM;
        int rc = Gate(ctx, GatedOperation.Create, dir, name, isDirectory);
        if (rc != 0) return rc;
        byte* path = PathBuffer1;
        rc = PathOf(dir, name, path);
        if (rc != 0) return rc;
        using (CallerCredentials.Assume(ctx))
        {
            if (create(DirOf(path), path, mode, extra, extraPath) < 0) return Fail();
        }
        StatxBuf st;
        rc = LookupEntry(dir, name, out entry, &st);
        if (rc == 0 && _observer is { } o)
            try { o.Created(ctx, dir, name, Nodes.Get(entry.NodeId)!, new NodeStat(st), symlinkTarget); } catch (Exception e) { ObserverFailed(ctx, e); }
        return rc;
    }

    private static int DoMkdir(int root, byte* path, uint mode, ulong _, byte* __) => Libc.MkdirAt(root, path, mode);
    private static int DoMknod(int root, byte* path, uint mode, ulong dev, byte* _) => Libc.MknodAt(root, path, mode, dev);
    private static int DoSymlink(int root, byte* path, uint _, ulong __, byte* target) => Libc.SymlinkAt(target, root, path);

    public override int MkDir(in RequestContext ctx, ulong parent, ReadOnlySpan<byte> name, uint mode, uint umask, out EntryOut entry) =>
        CreateEntry(ctx, parent, name, out entry, &DoMkdir, mode, 0, null, isDirectory: true);

    public override int MkNod(in RequestContext ctx, ulong parent, ReadOnlySpan<byte> name, uint mode, uint rdev, uint umask, out EntryOut entry)
    {
        // The kernel sends new_encode_dev(); mknodat wants glibc's makedev().
        ulong major = (rdev & 0xfff00) >> 8, minor = (rdev & 0xff) | ((rdev >> 12) & 0xfff00);
        return CreateEntry(ctx, parent, name, out entry, &DoMknod, mode, Libc.MakeDev(major, minor), null);
    }

    public override int Symlink(in RequestContext ctx, ulong parent, ReadOnlySpan<byte> name, ReadOnlySpan<byte> target, out EntryOut entry)
    {
        byte* targetPath = PathBuffer2;
        if (target.Length + 1 > PathBufferSize) { entry = default; return Errno.ENAMETOOLONG; }
        target.CopyTo(new Span<byte>(targetPath, PathBufferSize));
        targetPath[target.Length] = 0;
        return CreateEntry(ctx, parent, name, out entry, &DoSymlink, 0, 0, targetPath, target);
    }

    /// <summary>The node (if the kernel knows it) that <paramref name="path"/> names now, and whether
    /// that name is its last link (a directory, or a file with one link).</summary>
    private Node? NodeAt(byte* path, out bool lastLink)
    {
        StatxBuf st;
        lastLink = false;
        if (Libc.Statx(DirOf(path), path, Libc.AT_SYMLINK_NOFOLLOW, Libc.STATX_TYPE | Libc.STATX_INO | Libc.STATX_NLINK, &st) < 0) return null;
        lastLink = st.IsDirectory || st.Nlink <= 1;
        return Nodes.FindByInode(st.Dev, st.Ino);
    }

    private int Remove(in RequestContext ctx, ulong parent, ReadOnlySpan<byte> name, int flags)
    {
        var dir = NodeOf(parent);
        if (dir is null) return Errno.ESTALE;
        if (IsHidden(dir, name)) return Errno.ENOENT;
        int rc = Gate(ctx, GatedOperation.Delete, dir, name, (flags & Libc.AT_REMOVEDIR) != 0);
        if (rc != 0) return rc;
        byte* path = PathBuffer1;
        rc = PathOf(dir, name, path);
        if (rc != 0) return rc;
        var victim = NodeAt(path, out bool lastLink);
        if (victim is { FileType: 0x8000 } && _observer is { } o)
        {
            try { o.BeforeModify(ctx, victim, inPlace: false); } catch (Exception e) { ObserverFailed(ctx, e); }
            PathOf(dir, name, path); // the observer may have used this thread's path buffer
        }
        if (victim is not null && lastLink) Nodes.Unmap(victim);
        if (Libc.UnlinkAt(DirOf(path), path, flags) < 0)
        {
            int err = Fail();
            if (victim is not null && lastLink) Nodes.Remap(victim);
            return err;
        }
        lock (NamespaceOrder)
        {
            if (victim is not null) Nodes.Detach(victim, dir, name);
            if (_observer is { } o2)
                try { o2.Removed(ctx, dir, name, victim, lastLink, (flags & Libc.AT_REMOVEDIR) != 0); } catch (Exception e) { ObserverFailed(ctx, e); }
        }
        return 0;
    }

    public override int Unlink(in RequestContext ctx, ulong parent, ReadOnlySpan<byte> name) => Remove(ctx, parent, name, 0);
    public override int RmDir(in RequestContext ctx, ulong parent, ReadOnlySpan<byte> name) => Remove(ctx, parent, name, Libc.AT_REMOVEDIR);

    public override int Rename(in RequestContext ctx, ulong parent, ReadOnlySpan<byte> name, ulong newParent, ReadOnlySpan<byte> newName, uint flags)
    {
        var from = NodeOf(parent);
        var to = NodeOf(newParent);
        if (from is null || to is null) return Errno.ESTALE;
        if (IsHidden(from, name)) return Errno.ENOENT;
        if (IsHidden(to, newName)) return Errno.EPERM;
        if (_options.Gate is { Active: true })
        {
            bool isDir = IsDirectoryEntry(from, name);
            int denied = Gate(ctx, GatedOperation.Rename, from, name, isDir);
            if (denied == 0) denied = Gate(ctx, GatedOperation.Rename, to, newName, (flags & RenameExchange) != 0 ? IsDirectoryEntry(to, newName) : isDir);
            if (denied != 0) return denied;
        }
        byte* oldPath = PathBuffer1, newPath = PathBuffer2;
        int rc = PathOf(from, name, oldPath);
        if (rc == 0) rc = PathOf(to, newName, newPath);
        if (rc != 0) return rc;
        var moved = NodeAt(oldPath, out _);
        bool replacedLastLink = false;
        var replaced = (flags & RenameNoReplace) != 0 ? null : NodeAt(newPath, out replacedLastLink);
        if (_observer is { } ob && (moved is { FileType: 0x8000 } || (replaced is { FileType: 0x8000 } && (flags & RenameExchange) != 0)))
        {
            try
            {
                if (moved is { FileType: 0x8000 }) ob.BeforeRename(ctx, moved);
                if (replaced is { FileType: 0x8000 } && (flags & RenameExchange) != 0) ob.BeforeRename(ctx, replaced);
            }
            catch (Exception e) { ObserverFailed(ctx, e); }
            PathOf(from, name, oldPath); // the observer may have used this thread's path buffers
            PathOf(to, newName, newPath);
        }
        if (replaced is { FileType: 0x8000 } && replaced != moved && (flags & RenameExchange) == 0 && _observer is { } o)
        {
            try { o.BeforeModify(ctx, replaced, inPlace: false); } catch (Exception e) { ObserverFailed(ctx, e); }
            PathOf(from, name, oldPath); // the observer may have used this thread's path buffers
            PathOf(to, newName, newPath);
        }
        bool unmapReplaced = replaced is not null && replaced != moved && replacedLastLink && (flags & RenameExchange) == 0;
        if (unmapReplaced) Nodes.Unmap(replaced!);
        if (Libc.RenameAt2(DirOf(oldPath), oldPath, DirOf(newPath), newPath, flags) < 0)
        {
            int err = Fail();
            if (unmapReplaced) Nodes.Remap(replaced!);
            return err;
        }
        lock (NamespaceOrder)
        {
            if ((flags & RenameExchange) != 0)
            {
                if (moved is not null) Nodes.Move(moved, from, name, to, newName);
                if (replaced is not null) Nodes.Move(replaced, to, newName, from, name);
            }
            else
            {
                if (replaced is not null && replaced != moved) Nodes.Detach(replaced, to, newName);
                if (moved is not null) Nodes.Move(moved, from, name, to, newName);
            }
            if (_observer is { } o2)
                try { o2.Renamed(ctx, from, name, to, newName, flags); } catch (Exception e) { ObserverFailed(ctx, e); }
        }
        return 0;
    }

    public override int Link(in RequestContext ctx, ulong node, ulong newParent, ReadOnlySpan<byte> newName, out EntryOut entry)
    {
        entry = default;
        var n = NodeOf(node);
        var dir = NodeOf(newParent);
        if (n is null || dir is null) return Errno.ESTALE;
        if (IsHidden(dir, newName)) return Errno.EPERM;
        // A new name for a file gives whoever may read the new name its bytes: only what the caller may read and
        // change where it is now may be linked (a hard link must not carry a file out from under a rule).
        int rc = Gate(ctx, GatedOperation.Read, n, default, false);
        if (rc == 0) rc = Gate(ctx, GatedOperation.Write, n, default, false);
        if (rc == 0) rc = Gate(ctx, GatedOperation.Create, dir, newName, false);
        if (rc != 0) return rc;
        byte* oldPath = PathBuffer2, newPath = PathBuffer1;
        rc = PathOf(dir, newName, newPath);
        if (rc != 0) return rc;
        int result;
        if (PathOf(n, default, oldPath) == 0)
            result = Libc.LinkAt(DirOf(oldPath), oldPath, DirOf(newPath), newPath, 0);
        else
        {
            // A file without a name (O_TMPFILE, or unlinked while open): link it through its descriptor.
            lock (n)
            {
                if (n.OpenFd < 0) return Errno.ENOENT;
                ProcFdPath(n.OpenFd, oldPath);
                result = Libc.LinkAt(Libc.AT_FDCWD, oldPath, DirOf(newPath), newPath, Libc.AT_SYMLINK_FOLLOW);
            }
        }
        if (result < 0) return Fail();
        bool hadName = n.Name is not null;
        if (hadName && _observer is { } o)
            try { o.Linked(ctx, n, dir, newName); } catch (Exception e) { ObserverFailed(ctx, e); }
        StatxBuf st;
        rc = LookupEntry(dir, newName, out entry, &st);
        if (rc == 0 && !hadName && _observer is { } o2)
            // An O_TMPFILE getting its first name is, for the history, a new file.
            try { o2.Created(ctx, dir, newName, n, new NodeStat(st), default); } catch (Exception e) { ObserverFailed(ctx, e); }
        return rc;
    }

    /// <summary>Writes "/proc/self/fd/N" — the kernel's own name for an open descriptor.</summary>
    private static void ProcFdPath(int fd, byte* buffer)
    {
        var prefix = "/proc/self/fd/"u8;
        var span = new Span<byte>(buffer, 64);
        prefix.CopyTo(span);
        fd.TryFormat(span[prefix.Length..], out int written);
        span[prefix.Length + written] = 0;
    }

    public override int SetAttr(in RequestContext ctx, ulong node, in SetAttrIn change, out AttrOut attr)
    {
        attr = default;
        var n = NodeOf(node);
        if (n is null) return Errno.ESTALE;
        if (_options.Gate is { Active: true })
        {
            // A new size changes the bytes; the rest (mode, owner, times) is metadata.
            var op = (change.Valid & SetAttrValid.Size) != 0 ? GatedOperation.Write : GatedOperation.Meta;
            if (Gate(ctx, op, n, default, n.FileType == 0x4000) is var denied and not 0) return denied;
        }
        // The file handle when the kernel names one (it stays open for the request); else the path;
        // else, for a file without a name, one of its open descriptors, held under the node's lock.
        int fd = (change.Valid & SetAttrValid.Fh) != 0 && _handles.Get(change.Fh) is { } h ? h.Fd : -1;
        if (fd >= 0 || PathOf(n, default, PathBuffer1) == 0) return SetAttrAt(ctx, n, change, fd, out attr);
        lock (n)
            return n.OpenFd >= 0 ? SetAttrAt(ctx, n, change, n.OpenFd, out attr) : Errno.ENOENT;
    }

    private int SetAttrAt(in RequestContext ctx, Node n, in SetAttrIn change, int fd, out AttrOut attr)
    {
        attr = default;
        var valid = change.Valid;
        byte* path = PathBuffer1;
        int dirFd, atFlags = Libc.AT_SYMLINK_NOFOLLOW;
        if (fd >= 0) { ProcFdPath(fd, path); dirFd = Libc.AT_FDCWD; atFlags = 0; }
        else
        {
            int rc = PathOf(n, default, path);
            if (rc != 0) return rc;
            dirFd = DirOf(path);
        }

        if ((valid & SetAttrValid.Mode) != 0 && Libc.FchmodAt(dirFd, path, change.Mode & 0xFFF, 0) < 0) return Fail();
        if ((valid & (SetAttrValid.Uid | SetAttrValid.Gid)) != 0)
        {
            uint uid = (valid & SetAttrValid.Uid) != 0 ? change.Uid : uint.MaxValue;
            uint gid = (valid & SetAttrValid.Gid) != 0 ? change.Gid : uint.MaxValue;
            if (Libc.FchownAt(dirFd, path, uid, gid, atFlags) < 0) return Fail();
        }
        if ((valid & SetAttrValid.Size) != 0)
        {
            if (_observer is { } o && n.FileType == 0x8000)
            {
                try { o.BeforeModify(ctx, n, inPlace: true); } catch (Exception e) { ObserverFailed(ctx, e); }
                if (fd >= 0) ProcFdPath(fd, path); else { PathOf(n, default, path); dirFd = DirOf(path); }
            }
            if (fd >= 0 && (valid & SetAttrValid.Fh) != 0)
            {
                if (Libc.Ftruncate(fd, (long)change.Size) < 0) return Fail();
            }
            else
            {
                int wfd = Libc.OpenAt(dirFd, path, Libc.O_WRONLY | Libc.O_CLOEXEC | (fd >= 0 ? 0 : Libc.O_NOFOLLOW), 0);
                if (wfd < 0) return Fail();
                int r = Libc.Ftruncate(wfd, (long)change.Size);
                int err = r < 0 ? Fail() : 0;
                Libc.Close(wfd);
                if (err != 0) return err;
            }
        }
        if ((valid & (SetAttrValid.Atime | SetAttrValid.Mtime | SetAttrValid.AtimeNow | SetAttrValid.MtimeNow)) != 0)
        {
            var times = stackalloc Timespec[2];
            times[0] = (valid & SetAttrValid.AtimeNow) != 0 ? new Timespec { Nsec = Libc.UTIME_NOW }
                : (valid & SetAttrValid.Atime) != 0 ? new Timespec { Sec = (long)change.Atime, Nsec = change.AtimeNsec }
                : new Timespec { Nsec = Libc.UTIME_OMIT };
            times[1] = (valid & SetAttrValid.MtimeNow) != 0 ? new Timespec { Nsec = Libc.UTIME_NOW }
                : (valid & SetAttrValid.Mtime) != 0 ? new Timespec { Sec = (long)change.Mtime, Nsec = change.MtimeNsec }
                : new Timespec { Nsec = Libc.UTIME_OMIT };
            if (Libc.UtimensAt(dirFd, path, times, atFlags) < 0) return Fail();
        }
        StatxBuf st;
        int src = StatNode(n, fd, &st);
        if (src != 0) return src;
        // A truncate or chown by the caller clears set-user/group-id, as the kernel would.
        if ((valid & SetAttrValid.KillSuidGid) != 0 && (valid & SetAttrValid.Mode) == 0 && KillSuidGid(dirFd, path, st.Mode))
            if (StatNode(n, fd, &st) is var again && again != 0) return again;
        FillAttrOut(st, out attr);
        if (_observer is { } o2)
            try { o2.AttributesChanged(ctx, n, new NodeStat(st), valid); } catch (Exception e) { ObserverFailed(ctx, e); }
        return 0;
    }

    /// <summary>Clears S_ISUID, and S_ISGID when group-executable; true if the mode changed.</summary>
    private static bool KillSuidGid(int dirFd, byte* path, uint mode)
    {
        uint cleared = mode & ~0x800u;
        if ((mode & 0x408) == 0x408) cleared &= ~0x400u;
        if (cleared == mode) return false;
        Libc.FchmodAt(dirFd, path, cleared & 0xFFF, 0);
        return true;
    }
}
