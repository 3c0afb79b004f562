using System.Collections.Concurrent;
using System.Text;
using Lighthouse.Fuse.LowLevel;
using Lighthouse.Interop;
using Lighthouse.Fuse.Protocol;
using Lighthouse.Fuse.Session;
using Lighthouse.FileSystem.Sections;
using Lighthouse.Project.History;
using Lighthouse.Project.Policy;
using Lighthouse.Store;

namespace Lighthouse.FileSystem.History;

/// <summary>
/// history/: read-only trees of the project as of any point. `history/@N`, `history/&lt;UTC time&gt;`
/// and `history/&lt;snapshot&gt;` resolve to an event number; below that, names, kinds, sizes, modes,
/// owners, device numbers, link counts and times come from the temporal index and bytes from the object
/// store. A tree as of a point never changes, so the kernel may cache it for long; the list of points
/// itself is short-lived. Modes are shown as recorded, write bits included (the kernel checks access from
/// them: default_permissions); every change is refused with EROFS here. A fifo, socket or device node is
/// opened by the kernel, never by us: a device gives EACCES (the mount is nodev), a socket ENXIO, and a
/// fifo is a pipe of the history inode alone, never the project's.
/// </summary>
public sealed unsafe class HistorySection : ReadOnlySection, IMountSection
{
    private static readonly TimeSpan Immutable = TimeSpan.FromHours(1);
    private static readonly TimeSpan Short = TimeSpan.FromSeconds(1);
    private readonly ProjectHistory _history;
    private readonly ulong _tag;
    private readonly uint _uid, _gid;
    private readonly ConcurrentDictionary<ulong, HistoryNode> _nodes = new();
    private readonly ConcurrentDictionary<(long Seq, string Path), HistoryNode> _byPath = new();
    private readonly ConcurrentDictionary<ulong, HistoryHandle> _handles = new();
    private long _nextId = 1, _nextFh;

    private sealed class HistoryNode
    {
        public required ulong Id;
        public required long Seq;     // -1: the history/ directory itself
        public required string Path;  // relative to the project root; "" for the tree's root
        public required FileKind Kind;
        public long Lookups;
        // Kernel passthrough: one backing file per inode, shared by all its opens.
        public BackingFile Backing;
    }

    private sealed class HistoryHandle
    {
        public int Fd = -1;
        /// <summary>Bytes kept as chunks: read (decompressed, checked) by the daemon; no descriptor to pass through.</summary>
        public Lighthouse.Store.Objects.ChunkedContent? Chunks;
        public HistoryNode? Node;
        public bool Passthrough;
        public List<(string Name, uint Type, ulong Ino)>? Listing;
    }

    /// <param name="tag">High bits of every node id of this section (<see cref="SectionIds.Tag"/>).</param>
    /// <param name="uid">Owner shown for history/ itself and the trees in it.</param>
    public HistorySection(ProjectHistory history, ulong tag, uint uid, uint gid)
    {
        _history = history; _tag = tag; _uid = uid; _gid = gid;
        RootId = tag | 1;
        var root = new HistoryNode { Id = RootId, Seq = -1, Path = "", Kind = FileKind.Directory, Lookups = 1 };
        _nodes[RootId] = root;
    }

    public string Name => "history";
    public ulong Tag => _tag;
    public FuseFileSystem FileSystem => this;
    /// <summary>A past tree never changes; what may be seen of it does when another access policy comes into force.</summary>
    public void Attach(IFuseNotifier notifier)
    {
        if (Gate is not null) Gate.PolicyChanged += () => ForgetNames(notifier);
    }

    /// <summary>Drops every name and listing of history/ the kernel cached under the previous policy.</summary>
    private void ForgetNames(IFuseNotifier notifier)
    {
        foreach (var node in _nodes.Values)
        {
            if (node.Seq < 0) continue;
            if (node.Kind == FileKind.Directory) notifier.InvalidateInode(node.Id); // its cached listing
            if (node.Path.Length == 0) continue;
            int slash = node.Path.LastIndexOf('/');
            var parentPath = slash < 0 ? "" : node.Path[..slash];
            if (_byPath.TryGetValue((node.Seq, parentPath), out var parent))
                notifier.InvalidateEntry(parent.Id, Encoding.UTF8.GetBytes(node.Path[(slash + 1)..]));
        }
    }

    public ulong RootId { get; }

    /// <summary>The access policy, checked for old paths as for current ones (null: none).</summary>
    public Current.PolicyGate? Gate { get; init; }

    private Current.PolicyGate? Enforcing => Gate is { Enforcing: true } g ? g : null;
    private IBackingFiles? _backing; // set when kernel passthrough is in use: the kernel reads past versions itself

    public override void Init(ConnectionInfo connection) =>
        // The current/ section asks for passthrough when it can; we use it when it was asked for and offered.
        _backing = (connection.Want & connection.Offered & InitFlags.Passthrough) != 0 ? connection.BackingFiles : null;

    /// <summary>
    /// The inode number history/ shows for a file as of a point: one per file per point, never one of current/'s (the top
    /// bit set; those come from the project's filesystem) nor of another point. The file's id alone repeated the same
    /// number at every point, and every point's root had 1, the mount root's: `rm -rf` and `find` of the mount saw loops,
    /// and `tar`, `cp -a` or `rsync -H` of two points stored a file of one as a hard link to its other version. Names of one
    /// file as of one point (hard links) share their number. Exact below 2^31 events and files, a 63-bit mix beyond.
    /// </summary>
    internal static ulong InodeOf(long seq, long fileId)
    {
        const ulong HistoryBit = 1UL << 63;
        if ((ulong)seq < 1UL << 31 && (ulong)fileId < 1UL << 31) return HistoryBit | (ulong)seq << 31 | (ulong)fileId;
        ulong x = (ulong)seq * 0x9E3779B97F4A7C15UL ^ (ulong)fileId;
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
        return HistoryBit | ((x ^ (x >> 31)) >> 1) | 1UL << 62; // above every exact number
    }


    private HistoryNode Remember(long seq, string path, FileKind kind)
    {
        var node = _byPath.GetOrAdd((seq, path), key => new HistoryNode
        {
            Id = _tag | (ulong)Interlocked.Increment(ref _nextId), Seq = key.Seq, Path = key.Path, Kind = kind,
        });
        _nodes[node.Id] = node;
        Interlocked.Increment(ref node.Lookups);
        return node;
    }

    public override void Forget(ulong node, ulong nlookup)
    {
        if (node == RootId || !_nodes.TryGetValue(node, out var n)) return;
        if (Interlocked.Add(ref n.Lookups, -(long)nlookup) > 0) return;
        _nodes.TryRemove(node, out _);
        _byPath.TryRemove(new KeyValuePair<(long, string), HistoryNode>((n.Seq, n.Path), n));
    }

    /// <summary>S_IFMT bits of a kind; shifted right by 12 they are readdir's d_type. Other (before schema 2) shows as a file.</summary>
    private static uint TypeBits(FileKind kind) => kind switch
    {
        FileKind.Directory => 0x4000, FileKind.Symlink => 0xA000, FileKind.Fifo => 0x1000, FileKind.Socket => 0xC000,
        FileKind.CharDevice => 0x2000, FileKind.BlockDevice => 0x6000, _ => 0x8000,
    };

    /// <summary>A device number as FUSE carries it (the kernel's new_encode_dev) from glibc's makedev encoding.</summary>
    private static uint FuseRdev(long rdev)
    {
        ulong major = Libc.Major((ulong)rdev), minor = Libc.Minor((ulong)rdev);
        return (uint)((minor & 0xff) | (major << 8) | ((minor & ~0xffUL) << 12));
    }

    private bool TryAttributes(HistoryNode node, out FuseAttr attr)
    {
        attr = default;
        if (node.Seq < 0)
        {
            attr = new FuseAttr { Ino = node.Id, Mode = 0x4000 | 0x16d, Nlink = 2, Uid = _uid, Gid = _gid, BlkSize = 4096 };
            return true;
        }
        if (_history.Attributes(node.Seq, node.Path) is not { } v) return false;
        // A directory's mtime moves with its entries, which are not versions of it.
        long mtime = v.Kind == FileKind.Directory ? _history.DirectoryMtime(node.Seq, v.FileId) ?? v.Attributes.MtimeNs : v.Attributes.MtimeNs;
        ulong sec = (ulong)(mtime / 1_000_000_000), nsec = (ulong)(mtime % 1_000_000_000);
        ulong size = (ulong)v.Size;
        var a = v.Attributes;
        // The times are the recorded mtime: the access and change times of then are not kept.
        attr = new FuseAttr
        {
            Ino = InodeOf(node.Seq, v.FileId), Size = size, Blocks = (size + 511) / 512, Mode = TypeBits(v.Kind) | ((uint)a.Mode & 0xFFF),
            Nlink = (uint)Math.Max(1, _history.LinkCount(node.Seq, v.FileId)), Uid = (uint)a.Uid, Gid = (uint)a.Gid, Rdev = FuseRdev(a.Rdev),
            BlkSize = 4096, Atime = sec, Mtime = sec, Ctime = sec, AtimeNsec = (uint)nsec, MtimeNsec = (uint)nsec, CtimeNsec = (uint)nsec,
        };
        return true;
    }

    public override int Lookup(in RequestContext ctx, ulong parent, ReadOnlySpan<byte> nameBytes, out EntryOut entry)
    {
        entry = default;
        if (!_nodes.TryGetValue(parent, out var dir)) return Errno.ESTALE;
        string name = Encoding.UTF8.GetString(nameBytes);
        HistoryNode node;
        TimeSpan timeout = Immutable;
        if (dir.Seq < 0)
        {
            if (_history.ResolvePoint(name) is not { } seq) return Errno.ENOENT;
            node = Remember(seq, "", FileKind.Directory);
            timeout = Short; // a time or snapshot name may point elsewhere later
        }
        else
        {
            if (_history.Lookup(dir.Seq, dir.Path, name) is not { } found) return Errno.ENOENT;
            var path = dir.Path.Length == 0 ? name : dir.Path + "/" + name;
            if (Enforcing is { } gate)
            {
                bool isDir = found.Kind == FileKind.Directory;
                if (gate.Hides(ctx, path, isDir, audit: true)) return Errno.ENOENT;
                if (!gate.Cacheable(path, isDir)) timeout = TimeSpan.Zero; // another caller may not see it
            }
            node = Remember(dir.Seq, path, found.Kind);
        }
        if (!TryAttributes(node, out var attr)) { Forget(node.Id, 1); return Errno.ENOENT; }
        var (s, n) = Split(timeout);
        entry = new EntryOut { NodeId = node.Id, EntryValid = s, EntryValidNsec = n, AttrValid = s, AttrValidNsec = n, Attr = attr };
        return 0;
    }


    protected override int Attributes(in RequestContext ctx, ulong node, out FuseAttr attr, out TimeSpan timeout)
    {
        (attr, timeout) = (default, default);
        if (!_nodes.TryGetValue(node, out var n)) return Errno.ESTALE;
        if (!TryAttributes(n, out attr)) return Errno.ENOENT;
        timeout = n.Seq < 0 ? Short : Immutable;
        return 0;
    }

    public override int ReadLink(in RequestContext ctx, ulong node, Span<byte> target, out int length)
    {
        length = 0;
        if (!_nodes.TryGetValue(node, out var n) || n.Kind != FileKind.Symlink) return Errno.EINVAL;
        if (Enforcing?.Check(ctx, PolicyOperation.Read, n.Path, false) is int denied and not 0) return denied;
        try
        {
            var bytes = _history.SymlinkTarget(n.Seq, n.Path);
            if (bytes.Length > target.Length) return Errno.ENAMETOOLONG;
            bytes.CopyTo(target);
            length = bytes.Length;
            return 0;
        }
        catch (StoreException) { return Errno.EIO; }
    }

    public override int Open(in RequestContext ctx, ulong node, int flags, uint openFlags, out OpenOut open)
    {
        open = default;
        if ((flags & Libc.O_ACCMODE) != Libc.O_RDONLY || (flags & Libc.O_TRUNC) != 0) return Errno.EROFS;
        if (!_nodes.TryGetValue(node, out var n)) return Errno.ESTALE;
        if (n.Kind == FileKind.Directory) return Errno.EISDIR;
        // The kernel opens special files itself; should one reach us, it has no bytes to give.
        if (n.Kind is FileKind.Fifo or FileKind.Socket or FileKind.CharDevice or FileKind.BlockDevice) return Libc.ENXIO;
        if (Enforcing?.Check(ctx, PolicyOperation.Read, n.Path, false) is int denied and not 0) return denied;
        if (_history.Content(n.Seq, n.Path) is not { } content) return Errno.ENOENT;
        if (!content.IsAvailable)
        {
            // Metadata-only history (too large, never captured, or thinned by retention): say so rather than invent bytes.
            Console.Error.WriteLine($"lighthouse: history/@{n.Seq}/{n.Path}: {content.Unavailable ?? "content not kept"}");
            return Errno.ENODATA;
        }
        if (content.ChunkedHash is not null)
        {
            Lighthouse.Store.Objects.ChunkedContent chunks;
            try { chunks = _history.Store.OpenChunked(content)!; }
            catch (StoreException e)
            {
                Console.Error.WriteLine($"lighthouse: history/@{n.Seq}/{n.Path}: {e.Message}");
                return Errno.EIO;
            }
            ulong chunkedFh = (ulong)Interlocked.Increment(ref _nextFh);
            _handles[chunkedFh] = new HistoryHandle { Chunks = chunks, Node = n };
            // The content of a past version never changes: keep the page cache across opens.
            open = new OpenOut { Fh = chunkedFh, OpenFlags = OpenReplyFlags.KeepCache };
            return 0;
        }
        int fd;
        if (content.ObjectPath is { } source)
        {
            var pathBytes = Encoding.UTF8.GetBytes(source + "\0");
            fixed (byte* p = pathBytes) fd = Libc.Open(p, Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
            if (fd < 0) return Libc.Errno;
        }
        else
        {
            // The live file, reached from the project directory's descriptor (deeper than PATH_MAX too).
            try
            {
                var live = _history.Store.OpenLive(content);
                fd = (int)live.DangerousGetHandle();
                live.SetHandleAsInvalid(); // the handle table owns the descriptor now
            }
            catch (ContentUnavailableException) { return Errno.ENOENT; }
            catch (StoreException) { return Errno.EIO; }
        }
        ulong fh = (ulong)Interlocked.Increment(ref _nextFh);
        var handle = new HistoryHandle { Fd = fd, Node = n };
        _handles[fh] = handle;
        // The content of a past version never changes: keep the page cache across opens.
        open = new OpenOut { Fh = fh, OpenFlags = OpenReplyFlags.KeepCache };
        if (_backing is { } backing)
        {
            lock (n)
            {
                int backingId = n.Backing.Acquire(backing, fd);
                if (backingId > 0)
                {
                    handle.Passthrough = true;
                    open = new OpenOut { Fh = fh, OpenFlags = OpenReplyFlags.Passthrough, BackingId = backingId };
                }
            }
        }
        return 0;
    }

    public override int Read(in RequestContext ctx, ulong node, ulong fh, long offset, Span<byte> buffer, out int bytesRead)
    {
        bytesRead = 0;
        if (!_handles.TryGetValue(fh, out var h)) return Errno.EBADF;
        if (h.Chunks is null) return Libc.PreadFully(h.Fd, buffer, offset, out bytesRead);
        try
        {
            bytesRead = h.Chunks.Read(offset, buffer);
            return 0;
        }
        catch (StoreException e)
        {
            // A missing or damaged chunk: an error naming the file and version, never other bytes.
            Console.Error.WriteLine($"lighthouse: history/@{h.Node?.Seq}/{h.Node?.Path}: {e.Message}");
            return Errno.EIO;
        }
    }

    public override int Release(in RequestContext ctx, ulong node, ulong fh, int flags)
    {
        if (!_handles.TryRemove(fh, out var h)) return 0;
        if (h.Passthrough && h.Node is { } n)
            lock (n) n.Backing.Release(_backing!);
        if (h.Fd >= 0) Libc.Close(h.Fd);
        return 0;
    }

    public override int OpenDir(in RequestContext ctx, ulong node, int flags, out OpenOut open)
    {
        open = default;
        if (!_nodes.TryGetValue(node, out var n)) return Errno.ESTALE;
        if (n.Kind != FileKind.Directory) return Errno.ENOTDIR;
        // d_ino: a point's entries carry the inode number stat gives them (ls -i and fts read it); the rest have none to agree with.
        var listing = new List<(string, uint, ulong)> { (".", 4, 0), ("..", 4, 0) };
        if (n.Seq < 0)
        {
            // Snapshots, then the most recent points (any valid point resolves even if not listed).
            foreach (var point in _history.PointNames()) listing.Add((point, 4, 0));
        }
        else
        {
            var gate = Enforcing;
            if (gate?.Check(ctx, PolicyOperation.List, n.Path, true) is int denied and not 0) return denied;
            if (_history.List(n.Seq, n.Path) is not { } entries) return Errno.ENOENT;
            foreach (var e in entries)
                if (gate is null || !gate.Hides(ctx, n.Path.Length == 0 ? e.Name : n.Path + "/" + e.Name, e.Kind == FileKind.Directory, audit: false))
                    listing.Add((e.Name, TypeBits(e.Kind) >> 12, InodeOf(n.Seq, e.FileId)));
        }
        ulong fh = (ulong)Interlocked.Increment(ref _nextFh);
        _handles[fh] = new HistoryHandle { Listing = listing };
        // A past listing never changes, so the kernel may keep it across opens — unless it is filtered for each caller.
        var cache = n.Seq >= 0 && Enforcing is null ? OpenReplyFlags.KeepCache | OpenReplyFlags.CacheDir : OpenReplyFlags.None;
        open = new OpenOut { Fh = fh, OpenFlags = cache };
        return 0;
    }

    /// <summary>SEEK_DATA / SEEK_HOLE over a past version: all data up to its size (holes are not kept apart).</summary>
    public override int Lseek(in RequestContext ctx, ulong node, ulong fh, long offset, int whence, out long result)
    {
        result = 0;
        if (!_nodes.TryGetValue(node, out var n) || !TryAttributes(n, out var a)) return Errno.ESTALE;
        long size = (long)a.Size;
        if (offset < 0) return Errno.EINVAL;
        switch (whence)
        {
            case 3: // SEEK_DATA
                if (offset >= size) return Libc.ENXIO;
                result = offset;
                return 0;
            case 4: // SEEK_HOLE
                if (offset > size) return Libc.ENXIO;
                result = size;
                return 0;
            default:
                return Errno.EINVAL; // the kernel handles SEEK_SET/CUR/END itself
        }
    }


    public override int ReadDir(in RequestContext ctx, ulong node, ulong fh, long offset, ref DirectoryBuffer buffer)
    {
        if (!_handles.TryGetValue(fh, out var h) || h.Listing is null) return Errno.EBADF;
        Span<byte> name = stackalloc byte[1024];
        for (int i = (int)offset; i < h.Listing.Count; i++)
        {
            var (text, type, ino) = h.Listing[i];
            int length = Encoding.UTF8.GetBytes(text, name);
            // Entries carry no attributes (node id 0): the kernel looks names up when it needs them.
            if (!buffer.TryAdd(name[..length], ino != 0 ? ino : (ulong)(i + 1), type, i + 1, default)) break;
        }
        return 0;
    }

    public override int ReleaseDir(in RequestContext ctx, ulong node, ulong fh)
    {
        _handles.TryRemove(fh, out _);
        return 0;
    }
}
