using System.Runtime.InteropServices;
using Lighthouse.Fuse.LowLevel;
using Lighthouse.Interop;
using Lighthouse.Fuse.Protocol;
using Lighthouse.Fuse.Session;

namespace Lighthouse.Passthrough;

public sealed class PassthroughOptions
{
    /// <summary>Open files with FOPEN_PASSTHROUGH where the kernel offers it and we are privileged.</summary>
    public bool KernelPassthrough { get; init; } = true;
    public TimeSpan EntryTimeout { get; init; } = TimeSpan.FromSeconds(1);
    public TimeSpan AttrTimeout { get; init; } = TimeSpan.FromSeconds(1);
    /// <summary>How long the kernel may remember that a name does not exist (0: not at all).</summary>
    public TimeSpan NegativeTimeout { get; init; } = TimeSpan.FromSeconds(1);
    /// <summary>The node id of the mirrored root (1 when it is the whole mount).</summary>
    public ulong RootNodeId { get; init; } = ProtocolConstants.RootId;
    /// <summary>High bits of every other node id, when this tree is one section of a bigger mount.</summary>
    public ulong NodeIdTag { get; init; }
    /// <summary>Names in the root that are invisible and cannot be created (e.g. the state directory).</summary>
    public IReadOnlyList<string> HiddenRootNames { get; init; } = [];
    public IPassthroughObserver? Observer { get; init; }
    /// <summary>Asked before each operation whether the caller may do it (an access policy); null: the kernel's checks only.</summary>
    public IAccessGate? Gate { get; init; }
}

/// <summary>
/// Mirrors a source directory through FUSE (the counterpart of libfuse's passthrough_ll).
/// Every system call is made relative to a descriptor of the source root with paths rebuilt
/// from the node table, never with an absolute path. New inodes are created as the caller.
/// Data moves by kernel passthrough when available, else by pread/pwrite on our descriptors.
/// </summary>
public sealed unsafe partial class PassthroughFileSystem : FuseFileSystem, IDisposable
{
    private const int PathBufferSize = 4096 + 512;
    /// <summary>The kernel refuses a path argument of PATH_MAX (4096) bytes or more, NUL included.</summary>
    private const int PathMax = 4095;
    private readonly int _rootFd;
    private readonly PassthroughOptions _options;
    private readonly HandleTable _handles = new();
    private IBackingFiles? _backing;
    private readonly byte[][] _hidden;
    private readonly IPassthroughObserver? _observer;

    /// <summary>Held while the node table moves or drops a name and the observer hears of it. An observer that turns
    /// nodes into paths and queues what it records under this lock sees names and records in one order: a create in a
    /// directory racing with that directory's rename on another thread is recorded under the name the directory had
    /// at that place in the record, never under one that the record does not know yet or any more.</summary>
    public object NamespaceOrder { get; } = new();

    [ThreadStatic] private static byte* t_path1;
    [ThreadStatic] private static byte* t_path2;
    // For paths longer than a path buffer: a directory descriptor the path in that buffer is relative to
    // (0: none, the path is relative to the root). Closed when the buffer is next filled.
    [ThreadStatic] private static int t_dir1;
    [ThreadStatic] private static int t_dir2;

    public PassthroughFileSystem(string sourceDirectory, PassthroughOptions? options = null)
    {
        _options = options ?? new PassthroughOptions();
        SourceDirectory = Path.GetFullPath(sourceDirectory);
        var bytes = System.Text.Encoding.UTF8.GetBytes(SourceDirectory + "\0");
        fixed (byte* p = bytes) _rootFd = Libc.Open(p, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0);
        if (_rootFd < 0)
            throw new IOException($"cannot open source directory {SourceDirectory}: {Marshal.GetPInvokeErrorMessage(Libc.Errno)}");
        StatxBuf st;
        fixed (byte* empty = "\0"u8)
            if (Libc.Statx(_rootFd, empty, Libc.AT_EMPTY_PATH, Libc.STATX_BASIC_STATS, &st) < 0)
                throw new IOException($"cannot stat {SourceDirectory}: {Marshal.GetPInvokeErrorMessage(Libc.Errno)}");
        Nodes = new NodeTable(st, _options.RootNodeId, _options.NodeIdTag);
        _hidden = _options.HiddenRootNames.Select(n => System.Text.Encoding.UTF8.GetBytes(n)).ToArray();
        _observer = _options.Observer;
    }

    public string SourceDirectory { get; }
    public NodeTable Nodes { get; }
    public int OpenHandles => _handles.Count;
    /// <summary>Files and directories open through this filesystem now.</summary>
    public IReadOnlyList<OpenHandleInfo> OpenFiles() => _handles.Snapshot();
    /// <summary>When a file or directory was last opened or closed (null: never).</summary>
    public DateTime? HandlesChangedUtc => _handles.LastChangeUtcTicks is var t and > 0 ? new DateTime(t, DateTimeKind.Utc) : null;
    /// <summary>True once INIT agreed on kernel passthrough, until the kernel refuses to register backing files for good.</summary>
    public bool UsingKernelPassthrough => _backing is { Refused: false };

    /// <summary>Why file data is served in user space rather than by kernel passthrough (null while it is on or before INIT).</summary>
    public string? KernelPassthroughOff => _backing is { Refused: true }
        ? "the kernel refused to register backing files (EPERM: it needs CAP_SYS_ADMIN in the initial user namespace)"
        : _offReason;

    private string? _offReason;

    public override void Init(ConnectionInfo connection)
    {
        // BackingFiles is there only when the kernel offers passthrough and we may register files.
        if (!_options.KernelPassthrough) _offReason = "turned off by an option";
        else if ((connection.Offered & InitFlags.Passthrough) == 0) _offReason = "the kernel does not offer it (Linux 6.9+ with CONFIG_FUSE_PASSTHROUGH)";
        else if (connection.BackingFiles is null) _offReason = "not privileged: registering backing files needs CAP_SYS_ADMIN in the initial user namespace";
        else
        {
            connection.Want |= InitFlags.Passthrough;
            _backing = connection.BackingFiles;
        }
    }

    private static byte* PathBuffer1 => t_path1 != null ? t_path1 : (t_path1 = (byte*)NativeMemory.Alloc(PathBufferSize));
    private static byte* PathBuffer2 => t_path2 != null ? t_path2 : (t_path2 = (byte*)NativeMemory.Alloc(PathBufferSize));

    /// <summary>Path of <paramref name="node"/> (plus "/child") in a per-thread buffer, relative to
    /// <see cref="DirOf"/>(buffer); 0 or an errno.</summary>
    private int PathOf(Node node, ReadOnlySpan<byte> child, byte* buffer)
    {
        ref int dir = ref buffer == t_path1 ? ref t_dir1 : ref t_dir2;
        if (dir > 0) { Libc.Close(dir); dir = 0; }
        int n = Nodes.BuildPath(node, child, new Span<byte>(buffer, PathBufferSize));
        if (n >= 0 && n < PathMax) return 0;
        return n >= PathMax || n == -Errno.ENAMETOOLONG ? DeepPathOf(node, child, buffer, ref dir) : -n;
    }

    /// <summary>The directory descriptor the path in <paramref name="buffer"/> is relative to.</summary>
    private int DirOf(byte* buffer)
    {
        int dir = buffer == t_path1 ? t_dir1 : t_dir2;
        return dir > 0 ? dir : _rootFd;
    }

    /// <summary>A path longer than PATH_MAX: walk down in steps that fit, holding an O_PATH descriptor
    /// of the last directory reached, so trees deeper than PATH_MAX work as they do natively.</summary>
    private int DeepPathOf(Node node, ReadOnlySpan<byte> child, byte* buffer, ref int dir)
    {
        var names = Nodes.Components(node);
        if (names is null) return Errno.ENOENT;
        if (!child.IsEmpty) names.Add(child.ToArray());
        const int Step = 3000;
        var span = new Span<byte>(buffer, PathBufferSize);
        int from = _rootFd, i = 0;
        while (true)
        {
            int length = 0, start = i;
            while (i < names.Count && length + names[i].Length + 1 < Step) length += names[i++].Length + 1;
            if (i == start) { if (dir > 0) { Libc.Close(dir); dir = 0; } return Errno.ENAMETOOLONG; } // one name longer than a step
            int pos = 0;
            for (int k = start; k < i; k++)
            {
                if (pos > 0) span[pos++] = (byte)'/';
                names[k].CopyTo(span[pos..]);
                pos += names[k].Length;
            }
            span[pos] = 0;
            if (i == names.Count) return 0; // the rest fits: relative to `from`
            int next = Libc.OpenAt(from, buffer, Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0);
            if (next < 0) { int err = Fail(); if (dir > 0) { Libc.Close(dir); dir = 0; } return err; }
            if (dir > 0) Libc.Close(dir);
            dir = from = next;
        }
    }

    private static int Fail() => Libc.Errno;

    private static void FillAttr(in StatxBuf st, out FuseAttr attr)
    {
        attr = new FuseAttr
        {
            Ino = st.Ino, Size = st.Size, Blocks = st.Blocks,
            Atime = (ulong)st.AtimeSec, AtimeNsec = st.AtimeNsec,
            Mtime = (ulong)st.MtimeSec, MtimeNsec = st.MtimeNsec,
            Ctime = (ulong)st.CtimeSec, CtimeNsec = st.CtimeNsec,
            Mode = st.Mode, Nlink = st.Nlink, Uid = st.Uid, Gid = st.Gid, BlkSize = st.BlkSize,
            // The kernel decodes rdev with new_decode_dev().
            Rdev = (st.RdevMinor & 0xff) | (st.RdevMajor << 8) | ((st.RdevMinor & ~0xffu) << 12),
        };
    }

    private static (ulong Sec, uint Nsec) Split(TimeSpan t) => ((ulong)t.Ticks / TimeSpan.TicksPerSecond, (uint)(t.Ticks % TimeSpan.TicksPerSecond * 100));

    private void FillEntry(Node node, in StatxBuf st, out EntryOut entry)
    {
        var (es, en) = Split(_options.EntryTimeout);
        var (@as, an) = Split(_options.AttrTimeout);
        entry = new EntryOut { NodeId = node.Id, EntryValid = es, EntryValidNsec = en, AttrValid = @as, AttrValidNsec = an };
        FillAttr(st, out entry.Attr);
    }

    private void FillAttrOut(in StatxBuf st, out AttrOut attr)
    {
        var (s, n) = Split(_options.AttrTimeout);
        attr = new AttrOut { AttrValid = s, AttrValidNsec = n };
        FillAttr(st, out attr.Attr);
    }

    /// <summary>Looks up <paramref name="name"/> in <paramref name="parent"/> and counts the lookup.</summary>
    private int LookupEntry(Node parent, ReadOnlySpan<byte> name, out EntryOut entry, StatxBuf* stat = null)
    {
        entry = default;
        byte* path = PathBuffer1;
        int rc = PathOf(parent, name, path);
        if (rc != 0) return rc;
        StatxBuf st;
        if (Libc.Statx(DirOf(path), path, Libc.AT_SYMLINK_NOFOLLOW, Libc.STATX_BASIC_STATS, &st) < 0) return Fail();
        FillEntry(Nodes.Remember(parent, name, st), st, out entry);
        if (stat != null) *stat = st;
        return 0;
    }

    /// <summary>stat of a node: with <paramref name="fd"/> if the request named an open file; else by its
    /// path; else (it has no name any more, or the name now leads elsewhere) through a descriptor of one
    /// of its open files — under the node's lock, so a concurrent RELEASE cannot close it meanwhile.</summary>
    private int StatNode(Node node, int fd, StatxBuf* st, uint mask = Libc.STATX_BASIC_STATS)
    {
        fixed (byte* empty = "\0"u8)
        {
            if (fd >= 0) return Libc.Statx(fd, empty, Libc.AT_EMPTY_PATH, mask, st) < 0 ? Fail() : 0;
            byte* path = PathBuffer1;
            int rc = PathOf(node, default, path);
            if (rc == 0)
            {
                if (Libc.Statx(DirOf(path), path, Libc.AT_SYMLINK_NOFOLLOW, mask, st) < 0) rc = Fail();
                else if (st->Ino == node.Ino) return 0;
                else rc = Errno.ENOENT; // the name now leads to another inode (renamed or replaced behind our back)
            }
            lock (node)
            {
                if (node.OpenFd < 0) return rc;
                return Libc.Statx(node.OpenFd, empty, Libc.AT_EMPTY_PATH, mask, st) < 0 ? Fail() : 0;
            }
        }
    }

    private Node? NodeOf(ulong id) => Nodes.Get(id);

    /// <summary>True for a name hidden in the root (it does not exist as far as the mount is concerned).</summary>
    private bool IsHidden(Node parent, ReadOnlySpan<byte> name)
    {
        if (_hidden.Length == 0 || parent != Nodes.Root) return false;
        foreach (var h in _hidden) if (name.SequenceEqual(h)) return true;
        return false;
    }

    /// <summary>Current attributes of a node (through an open descriptor if it has one); false if it is gone.</summary>
    public bool TryStat(Node node, out NodeStat st) => TryStat(node, -1, out st);

    /// <summary>Stats an open descriptor of the node (no path walk), or the node by path when <paramref name="fd"/> is -1.</summary>
    public bool TryStat(Node node, int fd, out NodeStat st)
    {
        StatxBuf buf;
        bool ok = StatNode(node, fd, &buf) == 0;
        st = ok ? new NodeStat(buf) : default;
        return ok;
    }

    /// <summary>lstat of <paramref name="name"/> in <paramref name="parent"/>, relative to the source's descriptors (the kernel
    /// is not told of it: no lookup is counted); false if it is not there.</summary>
    public bool TryStat(Node parent, ReadOnlySpan<byte> name, out NodeStat st)
    {
        StatxBuf buf = default;
        byte* path = PathBuffer1;
        bool ok = PathOf(parent, name, path) == 0 && Libc.Statx(DirOf(path), path, Libc.AT_SYMLINK_NOFOLLOW, Libc.STATX_BASIC_STATS, &buf) == 0;
        st = ok ? new NodeStat(buf) : default;
        return ok;
    }

    /// <summary>The path of a node (plus "/child") relative to the source root, as text ("" for the root), at any depth.</summary>
    public string RelativePath(Node node, ReadOnlySpan<byte> child = default)
    {
        Span<byte> buffer = stackalloc byte[PathBufferSize];
        int n = Nodes.BuildPath(node, child, buffer);
        if (n == -Errno.ENAMETOOLONG)
        {
            // Deeper than a path buffer: join the names (rare; the common case costs no allocation but the string).
            var names = Nodes.Components(node) ?? throw new IOException($"node {node.Id} has no path any more");
            if (!child.IsEmpty) names.Add(child.ToArray());
            return string.Join('/', names.Select(name => System.Text.Encoding.UTF8.GetString(name)));
        }
        if (n < 0) throw new IOException($"node {node.Id} has no path any more");
        if (n == 1 && buffer[0] == '.') return "";
        return System.Text.Encoding.UTF8.GetString(buffer[..n]);
    }

    /// <summary>
    /// A new descriptor (the caller closes it) to read the current bytes of a regular file node, opened O_NOATIME where
    /// allowed so that reading them for a record leaves the access time alone; -errno if it cannot be opened. Through
    /// <paramref name="openFd"/> when given (one of our descriptors of it, reopened through /proc/self/fd: it may be
    /// write-only, and its file position is shared with the program using it); else by its path, relative to the source
    /// root at any depth, if that still leads to this inode; else through one of its open files.
    /// </summary>
    public int OpenToRead(Node node, int openFd = -1)
    {
        byte* path = PathBuffer1;
        if (openFd >= 0) return ReopenToRead(openFd, path);
        int rc = PathOf(node, default, path);
        if (rc == 0)
        {
            int fd = OpenWithoutTouching(DirOf(path), path, Libc.O_RDONLY | Libc.O_CLOEXEC | Libc.O_NOFOLLOW);
            if (fd < 0) rc = Fail();
            else
            {
                StatxBuf st;
                if (StatNode(node, fd, &st, Libc.STATX_INO) == 0 && st.Ino == node.Ino) return fd;
                Libc.Close(fd);
                rc = Errno.ENOENT; // the name leads to another file now
            }
        }
        lock (node) // a file without a name (or whose name is taken): through one of its open descriptors
            return node.OpenFd >= 0 ? ReopenToRead(node.OpenFd, path) : -rc;
    }

    private static int ReopenToRead(int fd, byte* buffer)
    {
        ProcFdPath(fd, buffer);
        int read = OpenWithoutTouching(Libc.AT_FDCWD, buffer, Libc.O_RDONLY | Libc.O_CLOEXEC);
        return read >= 0 ? read : -Fail();
    }

    /// <summary>openat with O_NOATIME, which needs the file's owner or CAP_FOWNER: without them, as anyone would.</summary>
    private static int OpenWithoutTouching(int dir, byte* path, int flags)
    {
        int fd = Libc.OpenAt(dir, path, flags | Libc.O_NOATIME, 0);
        if (fd < 0 && Libc.Errno == Errno.EPERM) fd = Libc.OpenAt(dir, path, flags, 0);
        return fd;
    }

    /// <summary>An observer's failure is reported but never fails an operation that already happened on disk.</summary>
    private static void ObserverFailed(in RequestContext ctx, Exception e) =>
        Console.Error.WriteLine($"lighthouse: recording {ctx.Opcode} (pid {ctx.Pid}) failed: {e.Message}");

    public override int Lookup(in RequestContext ctx, ulong parent, ReadOnlySpan<byte> name, out EntryOut entry)
    {
        entry = default;
        var dir = NodeOf(parent);
        if (dir is null) return Errno.ESTALE;
        int rc = IsHidden(dir, name) ? Errno.ENOENT : LookupEntry(dir, name, out entry);
        if (_options.Gate is { Active: true } gate)
        {
            bool isDir = rc == 0 && (entry.Attr.Mode & 0xF000) == 0x4000;
            bool hidden = gate.Hides(ctx, dir, name, isDir, out bool cacheable);
            if (rc == 0 && hidden)
            {
                Nodes.Forget(entry.NodeId, 1); // the kernel is not told of it
                entry = default;
                return Errno.ENOENT; // an error, not a negative entry: nothing is cached for the next caller
            }
            if (!cacheable)
            {
                if (rc != 0) return rc;
                entry.EntryValid = entry.AttrValid = 0;
                entry.EntryValidNsec = entry.AttrValidNsec = 0;
                return 0;
            }
        }
        if (rc == Errno.ENOENT && _options.NegativeTimeout > TimeSpan.Zero)
        {
            // A negative entry: the kernel remembers the name is absent and stops asking.
            var (s, n) = Split(_options.NegativeTimeout);
            entry = new EntryOut { NodeId = 0, EntryValid = s, EntryValidNsec = n };
            return 0;
        }
        return rc;
    }

    public override void Forget(ulong node, ulong nlookup) => Nodes.Forget(node, nlookup);

    /// <summary>The gate's answer for the caller (0 when there is no active gate).</summary>
    private int Gate(in RequestContext ctx, GatedOperation operation, Node node, ReadOnlySpan<byte> name, bool isDirectory) =>
        _options.Gate is { Active: true } gate ? gate.Check(ctx, operation, node, name, isDirectory) : 0;

    /// <summary>Whether a name is a directory (for the gate's directory-only patterns); false if it is not there.</summary>
    private bool IsDirectoryEntry(Node dir, ReadOnlySpan<byte> name) =>
        _options.Gate is { Active: true } && TryStat(dir, name, out var st) && (st.Mode & 0xF000) == 0x4000;

    public override int GetAttr(in RequestContext ctx, ulong node, ulong? fh, out AttrOut attr)
    {
        attr = default;
        var n = NodeOf(node);
        if (n is null) return Errno.ESTALE;
        int fd = fh is { } h && _handles.Get(h) is { } handle ? handle.Fd : -1;
        StatxBuf st;
        int rc = StatNode(n, fd, &st);
        if (rc != 0) return rc;
        FillAttrOut(st, out attr);
        return 0;
    }

    public override int Statx(in RequestContext ctx, ulong node, ulong? fh, uint flags, uint mask, out StatxOut result)
    {
        result = default;
        var n = NodeOf(node);
        if (n is null) return Errno.ESTALE;
        int fd = fh is { } h && _handles.Get(h) is { } handle ? handle.Fd : -1;
        StatxBuf st;
        int rc = StatNode(n, fd, &st, mask | Libc.STATX_BASIC_STATS);
        if (rc != 0) return rc;
        var (s, ns) = Split(_options.AttrTimeout);
        result.AttrValid = s; result.AttrValidNsec = ns;
        ref var x = ref result.Stat;
        x.Mask = st.Mask; x.BlkSize = st.BlkSize; x.Attributes = st.Attributes; x.Nlink = st.Nlink;
        x.Uid = st.Uid; x.Gid = st.Gid; x.Mode = st.Mode; x.Ino = st.Ino; x.Size = st.Size; x.Blocks = st.Blocks;
        x.AttributesMask = st.AttributesMask;
        x.Atime = new SxTime { Sec = st.AtimeSec, Nsec = st.AtimeNsec };
        x.Btime = new SxTime { Sec = st.BtimeSec, Nsec = st.BtimeNsec };
        x.Ctime = new SxTime { Sec = st.CtimeSec, Nsec = st.CtimeNsec };
        x.Mtime = new SxTime { Sec = st.MtimeSec, Nsec = st.MtimeNsec };
        x.RdevMajor = st.RdevMajor; x.RdevMinor = st.RdevMinor; x.DevMajor = st.DevMajor; x.DevMinor = st.DevMinor;
        return 0;
    }

    public override int StatFs(in RequestContext ctx, ulong node, out StatFsOut stat)
    {
        stat = default;
        StatvfsBuf sv;
        if (Libc.Fstatvfs(_rootFd, &sv) < 0) return Fail();
        stat = new StatFsOut
        {
            Blocks = sv.Blocks, Bfree = sv.Bfree, Bavail = sv.Bavail, Files = sv.Files, Ffree = sv.Ffree,
            Bsize = (uint)sv.Bsize, NameLen = (uint)sv.NameMax, Frsize = (uint)sv.Frsize,
        };
        return 0;
    }

    public override int SyncFs(in RequestContext ctx) => Libc.Syncfs(_rootFd) < 0 ? Fail() : 0;

    public override int Access(in RequestContext ctx, ulong node, int mask)
    {
        var n = NodeOf(node);
        if (n is null) return Errno.ESTALE;
        StatxBuf st;
        int rc = StatNode(n, -1, &st);
        if (rc != 0 || mask == 0) return rc;
        uint mode = st.Mode;
        if (ctx.Uid == 0)
            // root may do anything but execute a file that nobody may execute.
            return (mask & 1) != 0 && !st.IsDirectory && (mode & 0x49) == 0 ? Errno.EACCES : 0;
        uint bits = ctx.Uid == st.Uid ? (mode >> 6) & 7 : ctx.Gid == st.Gid ? (mode >> 3) & 7 : mode & 7;
        return ((uint)mask & ~bits & 7) == 0 ? 0 : Errno.EACCES;
    }

    public void Dispose()
    {
        Libc.Close(_rootFd);
    }
}
