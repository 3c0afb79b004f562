using Lighthouse.Fuse.LowLevel;
using Lighthouse.Fuse.Protocol;
using Lighthouse.Fuse.Session;
using Lighthouse.Interop;

namespace Lighthouse.FileSystem.Sections;

/// <summary>
/// What every read-only section (history/, agents/) answers alike: each change is refused with EROFS, and the calls that
/// change nothing (fsync, fsyncdir, flush) succeed — never ENOSYS, which the kernel remembers for the whole connection,
/// current/ included (one fsync of a history/ file made every later fsync in current/ skip the daemon).
/// </summary>
public abstract class ReadOnlySection : FuseFileSystem
{
    public override int Fsync(in RequestContext ctx, ulong node, ulong fh, bool dataOnly) => 0;
    public override int FsyncDir(in RequestContext ctx, ulong node, ulong fh, bool dataOnly) => 0;
    public override int Flush(in RequestContext ctx, ulong node, ulong fh) => 0;

    public override int Access(in RequestContext ctx, ulong node, int mask) => (mask & 2) != 0 ? Errno.EROFS : 0;
    public override int GetXattr(in RequestContext ctx, ulong node, ReadOnlySpan<byte> name, Span<byte> value, out int size) { size = 0; return Errno.ENODATA; }
    public override int ListXattr(in RequestContext ctx, ulong node, Span<byte> list, out int size) { size = 0; return 0; }
    public override int SetAttr(in RequestContext ctx, ulong node, in SetAttrIn change, out AttrOut attr) { attr = default; return Errno.EROFS; }
    public override int MkNod(in RequestContext ctx, ulong parent, ReadOnlySpan<byte> name, uint mode, uint rdev, uint umask, out EntryOut entry) { entry = default; return Errno.EROFS; }
    public override int MkDir(in RequestContext ctx, ulong parent, ReadOnlySpan<byte> name, uint mode, uint umask, out EntryOut entry) { entry = default; return Errno.EROFS; }
    public override int Symlink(in RequestContext ctx, ulong parent, ReadOnlySpan<byte> name, ReadOnlySpan<byte> target, out EntryOut entry) { entry = default; return Errno.EROFS; }
    public override int Link(in RequestContext ctx, ulong node, ulong newParent, ReadOnlySpan<byte> newName, out EntryOut entry) { entry = default; return Errno.EROFS; }
    public override int Create(in RequestContext ctx, ulong parent, ReadOnlySpan<byte> name, int flags, uint mode, uint umask, out EntryOut entry, out OpenOut open) { entry = default; open = default; return Errno.EROFS; }
    public override int TmpFile(in RequestContext ctx, ulong parent, int flags, uint mode, uint umask, out EntryOut entry, out OpenOut open) { entry = default; open = default; return Errno.EROFS; }
    public override int Unlink(in RequestContext ctx, ulong parent, ReadOnlySpan<byte> name) => Errno.EROFS;
    public override int RmDir(in RequestContext ctx, ulong parent, ReadOnlySpan<byte> name) => Errno.EROFS;
    public override int Rename(in RequestContext ctx, ulong parent, ReadOnlySpan<byte> name, ulong newParent, ReadOnlySpan<byte> newName, uint flags) => Errno.EROFS;
    public override int Write(in RequestContext ctx, ulong node, ulong fh, long offset, ReadOnlySpan<byte> data, uint writeFlags, out int written) { written = 0; return Errno.EROFS; }
    public override int SetXattr(in RequestContext ctx, ulong node, ReadOnlySpan<byte> name, ReadOnlySpan<byte> value, int flags) => Errno.EROFS;
    public override int RemoveXattr(in RequestContext ctx, ulong node, ReadOnlySpan<byte> name) => Errno.EROFS;
    public override int Fallocate(in RequestContext ctx, ulong node, ulong fh, long offset, long length, int mode) => Errno.EROFS;
    public override int CopyFileRange(in RequestContext ctx, ulong nodeIn, ulong fhIn, long offsetIn, ulong nodeOut, ulong fhOut, long offsetOut, long length, ulong flags, out long copied) { copied = 0; return Errno.EROFS; }
    public override int Poll(in RequestContext ctx, ulong node, ulong fh, ulong kh, bool scheduleNotify, uint events, out uint revents) { revents = events & 0x41; return 0; }
}
