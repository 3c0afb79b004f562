using Lighthouse.Fuse.LowLevel;
using Lighthouse.Interop;
using Lighthouse.Fuse.Protocol;
using Lighthouse.Fuse.Session;
using Lighthouse.Passthrough;

namespace Lighthouse.FileSystem.Sections;

/// <summary>
/// The mount root: a fixed directory whose entries are the sections (current/, history/, and the
/// others as they are built). It routes every request to the section owning its node id; requests
/// that span two sections (rename, link, copy) get EXDEV, as between two filesystems.
/// </summary>
public sealed class MountRoot : FuseFileSystem
{
    private readonly IMountSection[] _sections;
    // Indexed by a node id's top byte: the section owning it (null: the root's own, or no section).
    private readonly FuseFileSystem?[] _byTag = new FuseFileSystem?[256];
    private readonly uint _uid, _gid;
    // ".", "..", then the sections; as bytes, as the kernel sends and wants names.
    private readonly (byte[] Name, ulong Id)[] _listing;

    /// <param name="uid">Owner shown for the mount root (the project directory's).</param>
    public MountRoot(IReadOnlyList<IMountSection> sections, uint uid, uint gid)
    {
        _sections = [.. sections];
        _uid = uid; _gid = gid;
        foreach (var section in _sections)
        {
            int index = (int)(section.Tag >> 56);
            if (index == 0 || section.Tag != SectionIds.TagOf(section.Tag))
                throw new ArgumentException($"section {section.Name}: its tag must be a non-zero top byte (SectionIds.Tag)");
            if (_byTag[index] is not null) throw new ArgumentException($"section {section.Name}: tag {index} is taken");
            _byTag[index] = section.FileSystem;
        }
        if (_sections.Select(s => s.Name).Distinct(StringComparer.Ordinal).Count() != _sections.Length)
            throw new ArgumentException("two sections have the same name");
        _listing = [("."u8.ToArray(), 1), (".."u8.ToArray(), 1), .. _sections.Select(s => (System.Text.Encoding.UTF8.GetBytes(s.Name), s.RootId))];
    }

    public IReadOnlyList<IMountSection> Sections => _sections;

    private ReadOnlySpan<(byte[] Name, ulong Id)> SectionEntries => _listing.AsSpan(2);

    private FuseFileSystem? SectionOf(ulong node) => _byTag[(int)(node >> 56)];

    private static readonly TimeSpan RootTimeout = TimeSpan.FromHours(1);

    private FuseAttr RootAttr() => new() { Ino = 1, Mode = 0x4000 | 0x1ed, Nlink = 2 + (uint)_sections.Length, Uid = _uid, Gid = _gid, BlkSize = 4096 };

    public override void Init(ConnectionInfo connection)
    {
        foreach (var section in _sections) section.FileSystem.Init(connection);
    }

    public override void Destroy()
    {
        foreach (var section in _sections) section.FileSystem.Destroy();
    }

    public override int Lookup(in RequestContext ctx, ulong parent, ReadOnlySpan<byte> name, out EntryOut entry)
    {
        if (SectionOf(parent) is { } section) return section.Lookup(ctx, parent, name, out entry);
        entry = default;
        foreach (var (sectionName, id) in SectionEntries)
        {
            if (!name.SequenceEqual(sectionName)) continue;
            int rc = SectionOf(id)!.GetAttr(ctx, id, null, out var attr);
            if (rc != 0) return rc;
            ulong seconds = (ulong)RootTimeout.TotalSeconds;
            entry = new EntryOut { NodeId = id, EntryValid = seconds, AttrValid = Math.Min(attr.AttrValid, seconds), AttrValidNsec = attr.AttrValidNsec, Attr = attr.Attr };
            return 0;
        }
        return Errno.ENOENT;
    }

    public override void Forget(ulong node, ulong nlookup) => SectionOf(node)?.Forget(node, nlookup);

    public override int GetAttr(in RequestContext ctx, ulong node, ulong? fh, out AttrOut attr)
    {
        if (SectionOf(node) is { } section) return section.GetAttr(ctx, node, fh, out attr);
        attr = new AttrOut { AttrValid = (ulong)RootTimeout.TotalSeconds, Attr = RootAttr() };
        return 0;
    }

    public override int Statx(in RequestContext ctx, ulong node, ulong? fh, uint flags, uint mask, out StatxOut result)
    {
        if (SectionOf(node) is { } section) return section.Statx(ctx, node, fh, flags, mask, out result);
        // Answered, never ENOSYS: the kernel would stop asking statx for the whole connection, current/ included.
        result = StatxFromAttr.Of(RootAttr(), (ulong)RootTimeout.TotalSeconds, 0);
        return 0;
    }

    public override int OpenDir(in RequestContext ctx, ulong node, int flags, out OpenOut open)
    {
        if (SectionOf(node) is { } section) return section.OpenDir(ctx, node, flags, out open);
        open = new OpenOut { Fh = 0, OpenFlags = OpenReplyFlags.KeepCache | OpenReplyFlags.CacheDir };
        return 0;
    }

    public override int ReadDir(in RequestContext ctx, ulong node, ulong fh, long offset, ref DirectoryBuffer buffer)
    {
        if (SectionOf(node) is { } section) return section.ReadDir(ctx, node, fh, offset, ref buffer);
        // An entry's offset cookie is its position + 1.
        for (long i = Math.Max(0, offset); i < _listing.Length; i++)
            if (!buffer.TryAdd(_listing[i].Name, _listing[i].Id, 4, i + 1, default)) break;
        return 0;
    }

    public override int ReleaseDir(in RequestContext ctx, ulong node, ulong fh) =>
        SectionOf(node) is { } section ? section.ReleaseDir(ctx, node, fh) : 0;

    /// <summary>Every node reports the filesystem of the first section (current/: the project's disk).</summary>
    public override int StatFs(in RequestContext ctx, ulong node, out StatFsOut stat) =>
        _sections[0].FileSystem.StatFs(ctx, _sections[0].RootId, out stat);
    public override int Access(in RequestContext ctx, ulong node, int mask) =>
        SectionOf(node) is { } section ? section.Access(ctx, node, mask) : (mask & 2) != 0 && ctx.Uid != 0 ? Errno.EACCES : 0;
    public override int SyncFs(in RequestContext ctx)
    {
        int result = 0;
        foreach (var section in _sections)
            if (section.FileSystem.SyncFs(ctx) is var rc and not (0 or Errno.ENOSYS) && result == 0) result = rc;
        return result;
    }

    // Everything below: route to the node's section; the root itself holds only the sections.
    private const int RootIsFixed = Errno.EPERM;

    public override int SetAttr(in RequestContext ctx, ulong node, in SetAttrIn change, out AttrOut attr)
    {
        if (SectionOf(node) is { } section) return section.SetAttr(ctx, node, change, out attr);
        attr = default; return RootIsFixed;
    }
    public override int ReadLink(in RequestContext ctx, ulong node, Span<byte> target, out int length)
    {
        if (SectionOf(node) is { } section) return section.ReadLink(ctx, node, target, out length);
        length = 0; return Errno.EINVAL;
    }
    public override int Symlink(in RequestContext ctx, ulong parent, ReadOnlySpan<byte> name, ReadOnlySpan<byte> target, out EntryOut entry)
    {
        if (SectionOf(parent) is { } section) return section.Symlink(ctx, parent, name, target, out entry);
        entry = default; return RootIsFixed;
    }
    public override int MkNod(in RequestContext ctx, ulong parent, ReadOnlySpan<byte> name, uint mode, uint rdev, uint umask, out EntryOut entry)
    {
        if (SectionOf(parent) is { } section) return section.MkNod(ctx, parent, name, mode, rdev, umask, out entry);
        entry = default; return RootIsFixed;
    }
    public override int MkDir(in RequestContext ctx, ulong parent, ReadOnlySpan<byte> name, uint mode, uint umask, out EntryOut entry)
    {
        if (SectionOf(parent) is { } section) return section.MkDir(ctx, parent, name, mode, umask, out entry);
        entry = default; return RootIsFixed;
    }
    public override int Unlink(in RequestContext ctx, ulong parent, ReadOnlySpan<byte> name) =>
        SectionOf(parent) is { } section ? section.Unlink(ctx, parent, name) : RootIsFixed;
    public override int RmDir(in RequestContext ctx, ulong parent, ReadOnlySpan<byte> name) =>
        SectionOf(parent) is { } section ? section.RmDir(ctx, parent, name) : RootIsFixed;
    public override int Rename(in RequestContext ctx, ulong parent, ReadOnlySpan<byte> name, ulong newParent, ReadOnlySpan<byte> newName, uint flags)
    {
        var section = SectionOf(parent);
        if (section is null || SectionOf(newParent) != section) return section is null ? RootIsFixed : Errno.EXDEV;
        return section.Rename(ctx, parent, name, newParent, newName, flags);
    }
    public override int Link(in RequestContext ctx, ulong node, ulong newParent, ReadOnlySpan<byte> newName, out EntryOut entry)
    {
        entry = default;
        var section = SectionOf(newParent);
        if (section is null) return RootIsFixed;
        if (SectionOf(node) != section) return Errno.EXDEV;
        return section.Link(ctx, node, newParent, newName, out entry);
    }
    public override int Open(in RequestContext ctx, ulong node, int flags, uint openFlags, out OpenOut open)
    {
        if (SectionOf(node) is { } section) return section.Open(ctx, node, flags, openFlags, out open);
        open = default; return Errno.EISDIR;
    }
    public override int Create(in RequestContext ctx, ulong parent, ReadOnlySpan<byte> name, int flags, uint mode, uint umask, out EntryOut entry, out OpenOut open)
    {
        if (SectionOf(parent) is { } section) return section.Create(ctx, parent, name, flags, mode, umask, out entry, out open);
        entry = default; open = default; return RootIsFixed;
    }
    public override int TmpFile(in RequestContext ctx, ulong parent, int flags, uint mode, uint umask, out EntryOut entry, out OpenOut open)
    {
        if (SectionOf(parent) is { } section) return section.TmpFile(ctx, parent, flags, mode, umask, out entry, out open);
        entry = default; open = default; return RootIsFixed;
    }
    public override int Read(in RequestContext ctx, ulong node, ulong fh, long offset, Span<byte> buffer, out int bytesRead)
    {
        if (SectionOf(node) is { } section) return section.Read(ctx, node, fh, offset, buffer, out bytesRead);
        bytesRead = 0; return Errno.EISDIR;
    }
    public override int Write(in RequestContext ctx, ulong node, ulong fh, long offset, ReadOnlySpan<byte> data, uint writeFlags, out int written)
    {
        if (SectionOf(node) is { } section) return section.Write(ctx, node, fh, offset, data, writeFlags, out written);
        written = 0; return Errno.EISDIR;
    }
    public override int Flush(in RequestContext ctx, ulong node, ulong fh) => SectionOf(node)?.Flush(ctx, node, fh) ?? 0;
    public override int Release(in RequestContext ctx, ulong node, ulong fh, int flags) => SectionOf(node)?.Release(ctx, node, fh, flags) ?? 0;
    public override int Fsync(in RequestContext ctx, ulong node, ulong fh, bool dataOnly) => SectionOf(node)?.Fsync(ctx, node, fh, dataOnly) ?? 0;
    public override int FsyncDir(in RequestContext ctx, ulong node, ulong fh, bool dataOnly) => SectionOf(node)?.FsyncDir(ctx, node, fh, dataOnly) ?? 0;
    public override int Fallocate(in RequestContext ctx, ulong node, ulong fh, long offset, long length, int mode) =>
        SectionOf(node)?.Fallocate(ctx, node, fh, offset, length, mode) ?? Errno.EISDIR;
    public override int Lseek(in RequestContext ctx, ulong node, ulong fh, long offset, int whence, out long result)
    {
        if (SectionOf(node) is { } section) return section.Lseek(ctx, node, fh, offset, whence, out result);
        result = 0; return Errno.EINVAL;
    }
    public override int CopyFileRange(in RequestContext ctx, ulong nodeIn, ulong fhIn, long offsetIn, ulong nodeOut, ulong fhOut, long offsetOut, long length, ulong flags, out long copied)
    {
        copied = 0;
        var section = SectionOf(nodeIn);
        if (section is null || SectionOf(nodeOut) != section) return Errno.EXDEV;
        return section.CopyFileRange(ctx, nodeIn, fhIn, offsetIn, nodeOut, fhOut, offsetOut, length, flags, out copied);
    }
    public override int Poll(in RequestContext ctx, ulong node, ulong fh, ulong kh, bool scheduleNotify, uint events, out uint revents)
    {
        if (SectionOf(node) is { } section) return section.Poll(ctx, node, fh, kh, scheduleNotify, events, out revents);
        revents = events & 0x41; return 0;
    }
    public override int SetXattr(in RequestContext ctx, ulong node, ReadOnlySpan<byte> name, ReadOnlySpan<byte> value, int flags) =>
        SectionOf(node)?.SetXattr(ctx, node, name, value, flags) ?? Errno.EPERM;
    public override int GetXattr(in RequestContext ctx, ulong node, ReadOnlySpan<byte> name, Span<byte> value, out int size)
    {
        if (SectionOf(node) is { } section) return section.GetXattr(ctx, node, name, value, out size);
        size = 0; return Errno.ENODATA;
    }
    public override int ListXattr(in RequestContext ctx, ulong node, Span<byte> list, out int size)
    {
        if (SectionOf(node) is { } section) return section.ListXattr(ctx, node, list, out size);
        size = 0; return 0;
    }
    public override int RemoveXattr(in RequestContext ctx, ulong node, ReadOnlySpan<byte> name) =>
        SectionOf(node)?.RemoveXattr(ctx, node, name) ?? Errno.ENODATA;
}
