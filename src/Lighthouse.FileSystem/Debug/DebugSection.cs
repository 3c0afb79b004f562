using System.Collections.Concurrent;
using Lighthouse.FileSystem.Sections;
using Lighthouse.Fuse.LowLevel;
using Lighthouse.Fuse.Protocol;
using Lighthouse.Fuse.Session;
using Lighthouse.Interop;

namespace Lighthouse.FileSystem.Debug;

/// <summary>
/// debug/: the mount's live statistics, read-only. <c>stats.json</c> and <c>stats.prom</c> (requests by operation, errors
/// by errno, bytes, latency over 1 min, 10 min and 1 h; each agent's operations and bytes; what INIT negotiated),
/// <c>slow.jsonl</c> (recent requests over the threshold), <c>handles.json</c> (open files), <c>store.json</c> and
/// <c>health.json</c>.
/// <para>
/// Each file is rendered when opened and served from that rendering with direct I/O, so one open reads one consistent
/// version whatever its size; getattr renders it for the caller to give its exact size, and as its times the last change
/// it reflects (the last request counted, the last open or close, the last event), never the time of asking. Requests
/// about debug/ itself are not counted, so reading it changes nothing it shows.
/// </para>
/// <para>
/// Who sees what: the mount's owner and root see everything. Other users see the statistics, the store's figures and
/// the health, but not which files are open or were slow: handles.json gives them the number of open files only, and
/// slow.jsonl each slow request's time, operation, duration and errno without its file, process or user.
/// </para>
/// </summary>
public sealed class DebugSection : ReadOnlySection, IMountSection
{
    private static readonly TimeSpan Short = TimeSpan.FromSeconds(1);
    private const uint DirMode = 0x4000 | 0x16d, FileMode = 0x8000 | 0x124;

    private readonly DebugReports _reports;
    private readonly ulong _tag;
    private readonly uint _uid, _gid;
    private readonly ConcurrentDictionary<ulong, byte[]> _open = new();
    private long _nextFh;

    /// <summary>The files, in listing order; file i has node id Tag | (i + 2).</summary>
    private static readonly (byte[] Name, DebugFile File)[] Files =
    [
        ("stats.json"u8.ToArray(), DebugFile.StatsJson), ("stats.prom"u8.ToArray(), DebugFile.StatsProm),
        ("slow.jsonl"u8.ToArray(), DebugFile.SlowJsonl), ("handles.json"u8.ToArray(), DebugFile.HandlesJson),
        ("store.json"u8.ToArray(), DebugFile.StoreJson), ("health.json"u8.ToArray(), DebugFile.HealthJson),
    ];

    /// <param name="uid">The mount's owner: shown as every entry's owner, and sees everything.</param>
    public DebugSection(DebugReports reports, ulong tag, uint uid, uint gid)
    {
        _reports = reports; _tag = tag; _uid = uid; _gid = gid;
        RootId = tag | 1;
    }

    public string Name => "debug";
    public ulong Tag => _tag;
    public ulong RootId { get; }
    public FuseFileSystem FileSystem => this;
    /// <summary>Nothing to push: the files use direct I/O and their attributes are never cached.</summary>
    public void Attach(IFuseNotifier notifier) { }

    private ulong IdOf(int index) => _tag | (uint)(index + 2);

    private int IndexOf(ulong node)
    {
        if (SectionIds.TagOf(node) != _tag) return -1;
        long index = (long)(node & ~_tag) - 2;
        return index >= 0 && index < Files.Length ? (int)index : -1;
    }

    /// <summary>Root and the mount's owner see everything; everyone else what leaks no file names or processes.</summary>
    private bool SeesAll(in RequestContext ctx) => ctx.Uid == 0 || ctx.Uid == _uid;

    private FuseAttr Attr(ulong id, uint mode, ulong size, uint nlink, DateTime changed)
    {
        long ticks = Math.Max(0, (changed.ToUniversalTime() - DateTime.UnixEpoch).Ticks);
        ulong sec = (ulong)(ticks / TimeSpan.TicksPerSecond);
        uint nsec = (uint)(ticks % TimeSpan.TicksPerSecond * 100);
        return new FuseAttr
        {
            Ino = id, Size = size, Blocks = (size + 511) / 512, Mode = mode, Nlink = nlink, Uid = _uid, Gid = _gid, BlkSize = 4096,
            Atime = sec, Mtime = sec, Ctime = sec, AtimeNsec = nsec, MtimeNsec = nsec, CtimeNsec = nsec,
        };
    }

    protected override int Attributes(in RequestContext ctx, ulong node, out FuseAttr attr, out TimeSpan timeout)
    {
        attr = default; timeout = Short;
        if (node == RootId) { attr = Attr(node, DirMode, 0, 2, _reports.StartedUtc); return 0; }
        int index = IndexOf(node);
        if (index < 0) return Errno.ESTALE;
        var (content, changed) = _reports.Render(Files[index].File, SeesAll(ctx));
        attr = Attr(node, FileMode, (ulong)content.Length, 1, changed);
        timeout = TimeSpan.Zero; // the size is the content's as it renders now
        return 0;
    }


    public override int Lookup(in RequestContext ctx, ulong parent, ReadOnlySpan<byte> name, out EntryOut entry)
    {
        entry = default;
        if (parent != RootId) return IndexOf(parent) >= 0 ? Errno.ENOTDIR : Errno.ESTALE;
        int index = -1;
        for (int i = 0; i < Files.Length; i++)
            if (name.SequenceEqual(Files[i].Name)) { index = i; break; }
        if (index < 0) return Errno.ENOENT;
        ulong child = IdOf(index);
        int rc = Attributes(ctx, child, out var attr, out var attrTimeout);
        if (rc != 0) return rc;
        var (es, ens) = Split(TimeSpan.FromHours(1)); // the names never change
        var (s, ns) = Split(attrTimeout);
        entry = new EntryOut { NodeId = child, EntryValid = es, EntryValidNsec = ens, AttrValid = s, AttrValidNsec = ns, Attr = attr };
        return 0;
    }



    public override int ReadLink(in RequestContext ctx, ulong node, Span<byte> target, out int length) { length = 0; return Errno.EINVAL; }

    public override int Open(in RequestContext ctx, ulong node, int flags, uint openFlags, out OpenOut open)
    {
        open = default;
        if (node == RootId) return Errno.EISDIR;
        int index = IndexOf(node);
        if (index < 0) return Errno.ESTALE;
        if ((flags & Libc.O_ACCMODE) != Libc.O_RDONLY || (flags & Libc.O_TRUNC) != 0) return Errno.EROFS;
        ulong fh = (ulong)Interlocked.Increment(ref _nextFh);
        _open[fh] = _reports.Render(Files[index].File, SeesAll(ctx)).Content;
        // Direct I/O: reads come here, from this rendering, whatever size the kernel last saw.
        open = new OpenOut { Fh = fh, OpenFlags = OpenReplyFlags.DirectIo };
        return 0;
    }

    public override int Read(in RequestContext ctx, ulong node, ulong fh, long offset, Span<byte> buffer, out int bytesRead)
    {
        bytesRead = 0;
        if (!_open.TryGetValue(fh, out var content)) return Errno.EBADF;
        return ReadRendering(content, offset, buffer, out bytesRead);
    }

    public override int Lseek(in RequestContext ctx, ulong node, ulong fh, long offset, int whence, out long result)
    {
        result = 0;
        if (!_open.TryGetValue(fh, out var content)) return Errno.EBADF;
        return SeekRendering(content.Length, offset, whence, out result);
    }

    public override int Release(in RequestContext ctx, ulong node, ulong fh, int flags)
    {
        _open.TryRemove(fh, out _);
        return 0;
    }

    public override int OpenDir(in RequestContext ctx, ulong node, int flags, out OpenOut open)
    {
        open = default;
        if (node != RootId) return IndexOf(node) >= 0 ? Errno.ENOTDIR : Errno.ESTALE;
        open = new OpenOut { Fh = 0, OpenFlags = OpenReplyFlags.KeepCache | OpenReplyFlags.CacheDir }; // a fixed listing
        return 0;
    }

    public override int ReadDir(in RequestContext ctx, ulong node, ulong fh, long offset, ref DirectoryBuffer buffer)
    {
        if (node != RootId) return Errno.ENOTDIR;
        // ".", "..", then the files; an entry's offset cookie is its position + 1; ".." is the mount root (inode 1).
        for (long i = Math.Max(0, offset); i < Files.Length + 2; i++)
        {
            bool added = i switch
            {
                0 => buffer.TryAdd("."u8, RootId, 4, 1, default),
                1 => buffer.TryAdd(".."u8, 1, 4, 2, default),
                _ => buffer.TryAdd(Files[i - 2].Name, IdOf((int)i - 2), 8, i + 1, default),
            };
            if (!added) break;
        }
        return 0;
    }

    public override int ReleaseDir(in RequestContext ctx, ulong node, ulong fh) => 0;
}
