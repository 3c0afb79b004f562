using Lighthouse.Fuse.Protocol;
using Lighthouse.Fuse.Session;

namespace Lighthouse.Fuse.LowLevel;

/// <summary>
/// The low-level, inode-based filesystem interface (the counterpart of libfuse's lowlevel ops or
/// fuser's Filesystem trait). Every operation returns 0 or a positive errno; results go to `out`
/// parameters or into spans that point straight into the reply buffer, so no operation needs to
/// allocate. Anything not overridden answers ENOSYS, and the kernel stops asking where it can.
///
/// Lookup counts: every successful reply carrying an <see cref="EntryOut"/> (Lookup, MkNod, MkDir,
/// Symlink, Link, Create, TmpFile, READDIRPLUS entries with a non-zero node id) adds one to that
/// node's count; <see cref="Forget"/> subtracts. If the kernel refuses such a reply (the request
/// was interrupted) the session calls Forget itself, so counts stay exact.
/// </summary>
public abstract class FuseFileSystem
{
    /// <summary>Called with what the kernel offers before INIT is answered; adjust <see cref="ConnectionInfo.Want"/>.
    /// Keep the services it hands over (<see cref="ConnectionInfo.Notifier"/>, <see cref="ConnectionInfo.BackingFiles"/>)
    /// for the life of the mount.</summary>
    public virtual void Init(ConnectionInfo connection) { }
    public virtual void Destroy() { }

    public virtual int Lookup(in RequestContext ctx, ulong parent, ReadOnlySpan<byte> name, out EntryOut entry) { entry = default; return Errno.ENOSYS; }
    public virtual void Forget(ulong node, ulong nlookup) { }
    public virtual int GetAttr(in RequestContext ctx, ulong node, ulong? fh, out AttrOut attr) { attr = default; return Errno.ENOSYS; }
    public virtual int SetAttr(in RequestContext ctx, ulong node, in SetAttrIn change, out AttrOut attr) { attr = default; return Errno.ENOSYS; }
    public virtual int Statx(in RequestContext ctx, ulong node, ulong? fh, uint flags, uint mask, out StatxOut result) { result = default; return Errno.ENOSYS; }
    public virtual int ReadLink(in RequestContext ctx, ulong node, Span<byte> target, out int length) { length = 0; return Errno.ENOSYS; }
    public virtual int Symlink(in RequestContext ctx, ulong parent, ReadOnlySpan<byte> name, ReadOnlySpan<byte> target, out EntryOut entry) { entry = default; return Errno.ENOSYS; }
    public virtual int MkNod(in RequestContext ctx, ulong parent, ReadOnlySpan<byte> name, uint mode, uint rdev, uint umask, out EntryOut entry) { entry = default; return Errno.ENOSYS; }
    public virtual int MkDir(in RequestContext ctx, ulong parent, ReadOnlySpan<byte> name, uint mode, uint umask, out EntryOut entry) { entry = default; return Errno.ENOSYS; }
    public virtual int Unlink(in RequestContext ctx, ulong parent, ReadOnlySpan<byte> name) => Errno.ENOSYS;
    public virtual int RmDir(in RequestContext ctx, ulong parent, ReadOnlySpan<byte> name) => Errno.ENOSYS;
    /// <summary>flags: RENAME_NOREPLACE (1), RENAME_EXCHANGE (2), RENAME_WHITEOUT (4).</summary>
    public virtual int Rename(in RequestContext ctx, ulong parent, ReadOnlySpan<byte> name, ulong newParent, ReadOnlySpan<byte> newName, uint flags) => Errno.ENOSYS;
    public virtual int Link(in RequestContext ctx, ulong node, ulong newParent, ReadOnlySpan<byte> newName, out EntryOut entry) { entry = default; return Errno.ENOSYS; }

    public virtual int Open(in RequestContext ctx, ulong node, int flags, uint openFlags, out OpenOut open) { open = default; return Errno.ENOSYS; }
    public virtual int Create(in RequestContext ctx, ulong parent, ReadOnlySpan<byte> name, int flags, uint mode, uint umask, out EntryOut entry, out OpenOut open) { entry = default; open = default; return Errno.ENOSYS; }
    public virtual int TmpFile(in RequestContext ctx, ulong parent, int flags, uint mode, uint umask, out EntryOut entry, out OpenOut open) { entry = default; open = default; return Errno.ENOSYS; }
    /// <summary>Reads into <paramref name="buffer"/> (the reply buffer). May return <see cref="Errno.Deferred"/> after <see cref="RequestContext.Defer"/>.</summary>
    public virtual int Read(in RequestContext ctx, ulong node, ulong fh, long offset, Span<byte> buffer, out int bytesRead) { bytesRead = 0; return Errno.ENOSYS; }
    public virtual int Write(in RequestContext ctx, ulong node, ulong fh, long offset, ReadOnlySpan<byte> data, uint writeFlags, out int written) { written = 0; return Errno.ENOSYS; }
    public virtual int Flush(in RequestContext ctx, ulong node, ulong fh) => Errno.ENOSYS;
    public virtual int Release(in RequestContext ctx, ulong node, ulong fh, int flags) => 0;
    public virtual int Fsync(in RequestContext ctx, ulong node, ulong fh, bool dataOnly) => Errno.ENOSYS;
    public virtual int Fallocate(in RequestContext ctx, ulong node, ulong fh, long offset, long length, int mode) => Errno.ENOSYS;
    public virtual int Lseek(in RequestContext ctx, ulong node, ulong fh, long offset, int whence, out long result) { result = 0; return Errno.ENOSYS; }
    public virtual int CopyFileRange(in RequestContext ctx, ulong nodeIn, ulong fhIn, long offsetIn, ulong nodeOut, ulong fhOut, long offsetOut, long length, ulong flags, out long copied) { copied = 0; return Errno.ENOSYS; }
    /// <summary>Returns ready events; for a file that can block, remember <paramref name="kh"/> when
    /// <paramref name="scheduleNotify"/> is set and call <see cref="IFuseNotifier.PollWakeup"/> (<see cref="ConnectionInfo.Notifier"/>) when it becomes ready.</summary>
    public virtual int Poll(in RequestContext ctx, ulong node, ulong fh, ulong kh, bool scheduleNotify, uint events, out uint revents) { revents = 0; return Errno.ENOSYS; }

    public virtual int OpenDir(in RequestContext ctx, ulong node, int flags, out OpenOut open) { open = default; return Errno.ENOSYS; }
    /// <summary>Fills <paramref name="buffer"/> with entries following <paramref name="offset"/> (0 = from the start).</summary>
    public virtual int ReadDir(in RequestContext ctx, ulong node, ulong fh, long offset, ref DirectoryBuffer buffer) => Errno.ENOSYS;
    public virtual int ReleaseDir(in RequestContext ctx, ulong node, ulong fh) => 0;
    public virtual int FsyncDir(in RequestContext ctx, ulong node, ulong fh, bool dataOnly) => Errno.ENOSYS;

    public virtual int StatFs(in RequestContext ctx, ulong node, out StatFsOut stat) { stat = default; return Errno.ENOSYS; }
    public virtual int Access(in RequestContext ctx, ulong node, int mask) => Errno.ENOSYS;
    public virtual int SyncFs(in RequestContext ctx) => Errno.ENOSYS;

    public virtual int SetXattr(in RequestContext ctx, ulong node, ReadOnlySpan<byte> name, ReadOnlySpan<byte> value, int flags) => Errno.ENOSYS;
    /// <summary>An empty <paramref name="value"/> is a size probe: return 0 with the size needed in <paramref name="size"/>.</summary>
    public virtual int GetXattr(in RequestContext ctx, ulong node, ReadOnlySpan<byte> name, Span<byte> value, out int size) { size = 0; return Errno.ENOSYS; }
    /// <summary>An empty <paramref name="list"/> is a size probe, as for GetXattr.</summary>
    public virtual int ListXattr(in RequestContext ctx, ulong node, Span<byte> list, out int size) { size = 0; return Errno.ENOSYS; }
    public virtual int RemoveXattr(in RequestContext ctx, ulong node, ReadOnlySpan<byte> name) => Errno.ENOSYS;
}
