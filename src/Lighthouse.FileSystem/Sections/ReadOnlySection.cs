using Lighthouse.Fuse.LowLevel;
using Lighthouse.Fuse.Protocol;
using Lighthouse.Fuse.Session;
using Lighthouse.Interop;

namespace Lighthouse.FileSystem.Sections;

/// <summary>
/// What every read-only section (history/, agents/, streams/, debug/) answers alike: attributes from one source for
/// GETATTR and STATX; each change is refused with EROFS, and the calls that
/// change nothing (fsync, fsyncdir, flush) succeed — never ENOSYS, which the kernel remembers for the whole connection,
/// current/ included (one fsync of a history/ file made every later fsync in current/ skip the daemon).
/// </summary>
public abstract class ReadOnlySection : FuseFileSystem
{
    /// <summary>A node's attributes and how long the kernel may keep them: what GETATTR and STATX both answer.</summary>
    protected abstract int Attributes(in RequestContext ctx, ulong node, out FuseAttr attr, out TimeSpan timeout);

    /// <summary>A time span as the kernel's (seconds, nanoseconds) pair of a reply's validity.</summary>
    protected static (ulong Seconds, uint Nanoseconds) Split(TimeSpan t) => ((ulong)t.Ticks / TimeSpan.TicksPerSecond, (uint)(t.Ticks % TimeSpan.TicksPerSecond * 100));

    /// <summary>A read of a file rendered whole at its open (agents/, debug/): the bytes of <paramref name="content"/> from <paramref name="offset"/>.</summary>
    protected static int ReadRendering(byte[] content, long offset, Span<byte> buffer, out int bytesRead)
    {
        bytesRead = 0;
        if (offset < 0) return Errno.EINVAL;
        if (offset >= content.Length) return 0;
        bytesRead = Math.Min(buffer.Length, content.Length - (int)offset);
        content.AsSpan((int)offset, bytesRead).CopyTo(buffer);
        return 0;
    }

    /// <summary>SEEK_DATA and SEEK_HOLE over such a rendering (no holes); ENOSYS would end FUSE_LSEEK for the whole mount.</summary>
    protected static int SeekRendering(int length, long offset, int whence, out long result)
    {
        const int SeekData = 3, SeekHole = 4;
        result = 0;
        if (whence is not (SeekData or SeekHole)) return Errno.EINVAL;
        if (offset < 0 || offset >= length) return Libc.ENXIO;
        result = whence == SeekData ? offset : length;
        return 0;
    }

    public override int GetAttr(in RequestContext ctx, ulong node, ulong? fh, out AttrOut attr)
    {
        attr = default;
        int rc = Attributes(ctx, node, out var a, out var timeout);
        if (rc != 0) return rc;
        var (s, ns) = Split(timeout);
        attr = new AttrOut { AttrValid = s, AttrValidNsec = ns, Attr = a };
        return 0;
    }

    /// <summary>Answered rather than ENOSYS, which would make the kernel stop asking statx for the whole mount.</summary>
    public override int Statx(in RequestContext ctx, ulong node, ulong? fh, uint flags, uint mask, out StatxOut result)
    {
        result = default;
        int rc = Attributes(ctx, node, out var a, out var timeout);
        if (rc != 0) return rc;
        var (s, ns) = Split(timeout);
        result = StatxFromAttr.Of(a, s, ns);
        return 0;
    }

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
