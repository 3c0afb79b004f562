using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Lighthouse.FileSystem.Sections;
using Lighthouse.Fuse.LowLevel;
using Lighthouse.Fuse.Protocol;
using Lighthouse.Fuse.Session;
using Lighthouse.Interop;
using Lighthouse.Project;
using Lighthouse.Project.Feed;
using Lighthouse.Store;

namespace Lighthouse.FileSystem.Streams;

/// <summary>
/// streams/: live feeds of the event log, one JSON event per line (<see cref="FeedFormat"/>, as <c>lighthouse log
/// --json</c>), read with <c>cat</c> or <c>tail -f</c>.
/// <list type="bullet">
/// <item><c>events.jsonl</c>: every event from the moment it is opened;</item>
/// <item><c>since/&lt;n&gt;</c>: the log from event n (any n ≥ 1), then every new event;</item>
/// <item><c>agents/&lt;name&gt;.jsonl</c>: the events of one agent, from the open on (a name with slashes, such as
/// <c>alice/vim</c>, is <c>agents/alice/vim.jsonl</c>);</item>
/// <item><c>paths/&lt;dir…&gt;/events.jsonl</c>: the events at or under that project path, on either side of a rename,
/// from the open on; every directory name resolves (<c>paths/events.jsonl</c> is the whole project).</item>
/// </list>
/// The files are regular, 0444, size 0, dated by the last event; opened with direct I/O and non-seekable. A read
/// returns the whole lines available that fit, waits (off the FUSE workers) when there are none, gives EAGAIN under
/// O_NONBLOCK and EINTR when interrupted; poll wakes up through FUSE poll notifications. A reader that falls more than
/// <see cref="Backlog"/> events behind gets a gap line and goes on. Each reader sees only the events about paths it may
/// see (<see cref="StreamViewer"/>), decided by who opened the file.
/// </summary>
public sealed class StreamsSection : ReadOnlySection, IMountSection
{
    private static readonly TimeSpan Short = TimeSpan.FromSeconds(1);
    private const int NameMax = 255;
    private static readonly byte[] EventsName = "events.jsonl"u8.ToArray(), SinceName = "since"u8.ToArray(),
        AgentsName = "agents"u8.ToArray(), PathsName = "paths"u8.ToArray();
    private const string JsonlSuffix = ".jsonl";

    // A node id: the section's tag (top byte), a kind (next byte), a number (the low 48 bits).
    private const int KindShift = 48;
    private const ulong NumberMask = (1UL << KindShift) - 1;
    private enum Kind : ulong { Fixed = 0, SinceFile = 1, AgentDir = 2, AgentFile = 3, PathDir = 4, PathFile = 5 }

    private readonly ProjectHost _project;
    private readonly ulong _tag;
    private readonly uint _uid, _gid;
    private IFuseNotifier? _notifier;
    // Names numbered first come, kept for the life of the mount: a node's inode number never changes.
    private readonly Names _agentPrefixes = new(""), _agentNames = new(null), _paths = new("");
    private readonly ConcurrentDictionary<ulong, StreamHandle> _streams = new();
    private readonly ConcurrentDictionary<ulong, List<(byte[] Name, ulong Ino, uint Type)>> _listings = new();
    private long _nextFh;
    private long _lastEventTicks; // UTC ticks of the last event: every node's time

    /// <param name="tag">High byte of every node id of this section (<see cref="SectionIds.Tag"/>).</param>
    /// <param name="uid">Owner shown for everything in streams/ (the mount's owner).</param>
    public StreamsSection(ProjectHost project, ulong tag, uint uid, uint gid)
    {
        _project = project; _tag = tag; _uid = uid; _gid = gid;
        RootId = tag | 1;
        var last = project.Store.Log(new LogQuery { Limit = 1 }).Events;
        _lastEventTicks = last.Count > 0 ? Utc(last[0].TimeUtc).Ticks : DateTime.UnixEpoch.Ticks;
        project.Store.Committed += events =>
        {
            if (events.Count > 0) Volatile.Write(ref _lastEventTicks, Utc(events[^1].TimeUtc).Ticks);
        };
    }

    public string Name => "streams";
    public ulong Tag => _tag;
    public ulong RootId { get; }
    public FuseFileSystem FileSystem => this;
    public void Attach(IFuseNotifier notifier) => _notifier = notifier;

    /// <summary>How many events a reader may fall behind the live log before its backlog becomes one gap line.</summary>
    public int Backlog { get; init; } = 10_000;

    /// <summary>Open stream files (for tests and status).</summary>
    public int OpenStreams => _streams.Count;

    private ulong EventsId => _tag | 2;
    private ulong SinceId => _tag | 3;
    private ulong Id(Kind kind, long number) => _tag | (ulong)kind << KindShift | (ulong)number;
    private static Kind KindOf(ulong node) => (Kind)((node >> KindShift) & 0xFF);
    private static long NumberOf(ulong node) => (long)(node & NumberMask);

    private static DateTime Utc(DateTime t) => t.Kind == DateTimeKind.Local ? t.ToUniversalTime() : DateTime.SpecifyKind(t, DateTimeKind.Utc);

    /// <summary>Strings numbered by first sight (number 0 is the one given at construction).</summary>
    private sealed class Names
    {
        private readonly Lock _gate = new();
        private readonly Dictionary<string, long> _numbers = new(StringComparer.Ordinal);
        private readonly List<string?> _names = [];

        public Names(string? zero) { _names.Add(zero); if (zero is not null) _numbers[zero] = 0; }

        public long Number(string name)
        {
            lock (_gate)
            {
                if (_numbers.TryGetValue(name, out var n)) return n;
                _names.Add(name);
                return _numbers[name] = _names.Count - 1;
            }
        }

        public string? Name(long number)
        {
            lock (_gate) return number >= 0 && number < _names.Count ? _names[(int)number] : null;
        }
    }

    // ------------------------------------------------------------------ nodes

    private enum NodeType { None, Directory, File }

    private NodeType TypeOf(ulong node)
    {
        if (SectionIds.TagOf(node) != _tag) return NodeType.None;
        long number = NumberOf(node);
        return KindOf(node) switch
        {
            Kind.Fixed when node == RootId || node == SinceId => NodeType.Directory,
            Kind.Fixed when node == EventsId => NodeType.File,
            Kind.SinceFile when number >= 1 => NodeType.File,
            Kind.AgentDir when _agentPrefixes.Name(number) is not null => NodeType.Directory,
            Kind.AgentFile when _agentNames.Name(number) is not null => NodeType.File,
            Kind.PathDir when _paths.Name(number) is not null => NodeType.Directory,
            Kind.PathFile when _paths.Name(number) is not null => NodeType.File,
            _ => NodeType.None,
        };
    }

    protected override int Attributes(in RequestContext ctx, ulong node, out FuseAttr attr, out TimeSpan timeout)
    {
        var type = TypeOf(node);
        (attr, timeout) = type == NodeType.None ? (default, default) : (Attr(node, type), Short);
        return type == NodeType.None ? Errno.ESTALE : 0;
    }

    private FuseAttr Attr(ulong id, NodeType type)
    {
        long ticks = Math.Max(0, Volatile.Read(ref _lastEventTicks) - DateTime.UnixEpoch.Ticks);
        ulong sec = (ulong)(ticks / TimeSpan.TicksPerSecond);
        uint nsec = (uint)(ticks % TimeSpan.TicksPerSecond * 100);
        bool dir = type == NodeType.Directory;
        return new FuseAttr
        {
            Ino = id, Size = 0, Blocks = 0, Mode = dir ? DirMode : FileMode, Nlink = dir ? 2u : 1u, Uid = _uid, Gid = _gid, BlkSize = 4096,
            Atime = sec, Mtime = sec, Ctime = sec, AtimeNsec = nsec, MtimeNsec = nsec, CtimeNsec = nsec,
        };
    }

    private const uint DirMode = 0x4000 | 0x16d, FileMode = 0x8000 | 0x124;


    public override int Lookup(in RequestContext ctx, ulong parent, ReadOnlySpan<byte> name, out EntryOut entry)
    {
        entry = default;
        if (name.Length > NameMax) return Errno.ENAMETOOLONG;
        if (TypeOf(parent) == NodeType.File) return Errno.ENOTDIR;
        if (TypeOf(parent) == NodeType.None) return Errno.ESTALE;
        ulong child;
        if (parent == RootId)
        {
            if (name.SequenceEqual(EventsName)) child = EventsId;
            else if (name.SequenceEqual(SinceName)) child = SinceId;
            else if (name.SequenceEqual(AgentsName)) child = Id(Kind.AgentDir, 0);
            else if (name.SequenceEqual(PathsName)) child = Id(Kind.PathDir, 0);
            else return Errno.ENOENT;
        }
        else if (parent == SinceId)
        {
            // One spelling per event number (no leading zeros), so each has one inode.
            if (!long.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out long n) || n < 1 || n > (long)NumberMask
                || !name.SequenceEqual(Encoding.ASCII.GetBytes(n.ToString(CultureInfo.InvariantCulture)))) return Errno.ENOENT;
            child = Id(Kind.SinceFile, n);
        }
        else if (KindOf(parent) == Kind.AgentDir)
        {
            string prefix = _agentPrefixes.Name(NumberOf(parent))!;
            string text = Encoding.UTF8.GetString(name);
            if (text.Contains('\0')) return Errno.ENOENT;
            // "<name>.jsonl" is the agent's stream; any other name is a directory of agents whose names go on with a slash.
            child = text.Length > JsonlSuffix.Length && text.EndsWith(JsonlSuffix, StringComparison.Ordinal)
                ? Id(Kind.AgentFile, _agentNames.Number(prefix + text[..^JsonlSuffix.Length]))
                : Id(Kind.AgentDir, _agentPrefixes.Number(prefix + text + "/"));
        }
        else if (KindOf(parent) == Kind.PathDir)
        {
            if (name.SequenceEqual(EventsName)) child = Id(Kind.PathFile, NumberOf(parent));
            else
            {
                string path;
                try { path = StorePath.Normalize(StorePath.Combine(_paths.Name(NumberOf(parent))!, Encoding.UTF8.GetString(name))); }
                catch (InvalidStorePathException) { return Errno.ENOENT; } // .lighthouse/, the store itself, is no project path
                child = Id(Kind.PathDir, _paths.Number(path));
            }
        }
        else return Errno.ENOENT;
        var (s, ns) = Split(Short);
        entry = new EntryOut { NodeId = child, EntryValid = s, EntryValidNsec = ns, AttrValid = s, AttrValidNsec = ns, Attr = Attr(child, TypeOf(child)) };
        return 0;
    }



    public override int ReadLink(in RequestContext ctx, ulong node, Span<byte> target, out int length)
    {
        length = 0;
        return Errno.EINVAL;
    }

    // ------------------------------------------------------------------ stream files

    public override int Open(in RequestContext ctx, ulong node, int flags, uint openFlags, out OpenOut open)
    {
        open = default;
        if ((flags & Libc.O_ACCMODE) != Libc.O_RDONLY || (flags & Libc.O_TRUNC) != 0) return Errno.EROFS;
        var type = TypeOf(node);
        if (type == NodeType.None) return Errno.ESTALE;
        if (type == NodeType.Directory) return Errno.EISDIR;
        long from = _project.Store.LastSeq + 1; // from the moment it is opened
        FeedFilter? filter = null;
        switch (KindOf(node))
        {
            case Kind.SinceFile: from = NumberOf(node); break;
            case Kind.AgentFile: filter = new FeedFilter { Agent = _agentNames.Name(NumberOf(node)) }; break;
            case Kind.PathFile when _paths.Name(NumberOf(node)) is { Length: > 0 } path: filter = new FeedFilter { PathPrefix = path }; break;
        }
        // The reader is whoever opened the file, for as long as it is open (as current/ binds identity at open).
        var viewer = StreamViewer.Of(_project, ctx.Pid, ctx.Uid, ctx.Gid);
        FeedSubscription subscription;
        try { subscription = _project.Feed.Subscribe(from, filter, Backlog); }
        catch (ObjectDisposedException) { return Errno.EIO; } // the project is closing
        ulong fh = (ulong)Interlocked.Increment(ref _nextFh);
        _streams[fh] = new StreamHandle(subscription, viewer, _notifier);
        // Direct I/O: every read reaches us (no page cache, no size); non-seekable and stream-like, as a pipe.
        open = new OpenOut { Fh = fh, OpenFlags = OpenReplyFlags.DirectIo | OpenReplyFlags.NonSeekable | OpenReplyFlags.Stream };
        return 0;
    }

    public override int Read(in RequestContext ctx, ulong node, ulong fh, long offset, Span<byte> buffer, out int bytesRead)
    {
        bytesRead = 0;
        if (!_streams.TryGetValue(fh, out var stream)) return Errno.EBADF;
        if (buffer.IsEmpty) return 0;
        if (!stream.TryReadNow(buffer, out bytesRead)) return 0; // released: end of stream
        if (bytesRead > 0) return 0;
        if ((ctx.FileFlags & Libc.O_NONBLOCK) != 0) return Errno.EAGAIN;
        // Nothing yet: answer when an event arrives, from the feed's side, and free this worker now.
        var reply = ctx.Defer();
        var interrupted = reply.Cancelled; // taken before anything can complete the reply
        _ = stream.ServeBlockedReadAsync(reply, buffer.Length, interrupted);
        return Errno.Deferred;
    }

    public override int Poll(in RequestContext ctx, ulong node, ulong fh, ulong kh, bool scheduleNotify, uint events, out uint revents)
    {
        const uint PollIn = 0x1, PollRdNorm = 0x40;
        revents = 0;
        if (!_streams.TryGetValue(fh, out var stream)) return Errno.EBADF;
        if (stream.Readable(scheduleNotify ? kh : 0)) revents = events & (PollIn | PollRdNorm);
        return 0;
    }

    /// <summary>Non-seekable (the kernel answers lseek with ESPIPE itself; this covers SEEK_DATA/SEEK_HOLE asked of us).</summary>
    public override int Lseek(in RequestContext ctx, ulong node, ulong fh, long offset, int whence, out long result)
    {
        result = 0;
        return Errno.ESPIPE;
    }

    public override int Release(in RequestContext ctx, ulong node, ulong fh, int flags)
    {
        if (_streams.TryRemove(fh, out var stream)) stream.Dispose();
        return 0;
    }

    // ------------------------------------------------------------------ directories

    public override int OpenDir(in RequestContext ctx, ulong node, int flags, out OpenOut open)
    {
        open = default;
        var type = TypeOf(node);
        if (type == NodeType.None) return Errno.ESTALE;
        if (type == NodeType.File) return Errno.ENOTDIR;
        var listing = new List<(byte[], ulong, uint)> { ("."u8.ToArray(), node, 4) };
        if (node == RootId)
        {
            listing.Add((".."u8.ToArray(), 1, 4));
            listing.Add((EventsName, EventsId, 8));
            listing.Add((SinceName, SinceId, 4));
            listing.Add((AgentsName, Id(Kind.AgentDir, 0), 4));
            listing.Add((PathsName, Id(Kind.PathDir, 0), 4));
        }
        else
        {
            listing.Add((".."u8.ToArray(), Parent(node), 4));
            if (node == SinceId)
            {
                // A few useful points (every number resolves): the start of the log, and its last event.
                long last = _project.Store.LastSeq;
                if (last >= 1) listing.Add(("1"u8.ToArray(), Id(Kind.SinceFile, 1), 8));
                if (last > 1) listing.Add((Encoding.ASCII.GetBytes(last.ToString(CultureInfo.InvariantCulture)), Id(Kind.SinceFile, last), 8));
            }
            else if (KindOf(node) == Kind.AgentDir && NumberOf(node) == 0)
            {
                // The agents known now (named, or running); any other name resolves too.
                var names = _project.Registry.Agents.Select(a => a.Name).Concat(_project.Runs.Select(r => r.Agent))
                    .Where(n => n.Length > 0 && !n.Contains('/') && !n.Contains('\0') && Encoding.UTF8.GetByteCount(n) + JsonlSuffix.Length <= NameMax)
                    .Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal);
                foreach (var n in names)
                    listing.Add((Encoding.UTF8.GetBytes(n + JsonlSuffix), Id(Kind.AgentFile, _agentNames.Number(n)), 8));
            }
            else if (KindOf(node) == Kind.PathDir)
                listing.Add((EventsName, Id(Kind.PathFile, NumberOf(node)), 8));
        }
        ulong fh = (ulong)Interlocked.Increment(ref _nextFh);
        _listings[fh] = listing;
        open = new OpenOut { Fh = fh };
        return 0;
    }

    /// <summary>The directory holding <paramref name="dir"/> (for ".." in listings).</summary>
    private ulong Parent(ulong dir)
    {
        if (dir == SinceId) return RootId;
        long number = NumberOf(dir);
        if (KindOf(dir) == Kind.AgentDir)
        {
            if (number == 0) return RootId;
            var prefix = _agentPrefixes.Name(number)!.TrimEnd('/');
            int slash = prefix.LastIndexOf('/');
            return Id(Kind.AgentDir, slash < 0 ? 0 : _agentPrefixes.Number(prefix[..(slash + 1)]));
        }
        if (KindOf(dir) == Kind.PathDir)
            return number == 0 ? RootId : Id(Kind.PathDir, _paths.Number(StorePath.Parent(_paths.Name(number)!)));
        return RootId;
    }

    public override int ReadDir(in RequestContext ctx, ulong node, ulong fh, long offset, ref DirectoryBuffer buffer)
    {
        if (!_listings.TryGetValue(fh, out var listing)) return Errno.EBADF;
        // An entry's offset cookie is its position + 1; entries carry no attributes: the kernel looks names up.
        for (int i = (int)Math.Max(0, offset); i < listing.Count; i++)
            if (!buffer.TryAdd(listing[i].Name, listing[i].Ino, listing[i].Type, i + 1, default)) break;
        return 0;
    }

    public override int ReleaseDir(in RequestContext ctx, ulong node, ulong fh)
    {
        _listings.TryRemove(fh, out _);
        return 0;
    }
}
