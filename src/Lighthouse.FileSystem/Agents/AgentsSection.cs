using System.Buffers;
using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using Lighthouse.FileSystem.Sections;
using Lighthouse.Fuse.LowLevel;
using Lighthouse.Fuse.Protocol;
using Lighthouse.Fuse.Session;
using Lighthouse.Interop;
using Lighthouse.Project;
using Lighthouse.Project.Agents;
using Lighthouse.Store;

namespace Lighthouse.FileSystem.Agents;

/// <summary>
/// agents/: who is working on the project, read-only. <c>index.json</c> lists every named agent of the registry and
/// every agent with live <c>lighthouse run</c> processes; <c>&lt;name&gt;/info.json</c> is one agent's record (tokens by
/// id, never their text); <c>self</c> is a symlink resolved per caller, like /proc/self: the caller's agent directory, or
/// <c>none:&lt;user&gt;/&lt;command&gt;</c> (which does not exist) for a caller no named agent matches.
/// <para>
/// The JSON files are rendered once per open and served with direct I/O, so a read sequence sees one version and a
/// changed size is never cut by a cached one; getattr gives the size of the content as it would render now and, as its
/// times, the last change of the registry or the runs. Every change is refused with EROFS.
/// </para>
/// </summary>
public sealed class AgentsSection : ReadOnlySection, IMountSection
{
    // Names and attributes change whenever an agent is added or a run starts or ends: the kernel keeps them briefly.
    private static readonly TimeSpan Short = TimeSpan.FromSeconds(1);
    private const int NameMax = 255;
    private static readonly byte[] IndexName = "index.json"u8.ToArray(), SelfName = "self"u8.ToArray(), InfoName = "info.json"u8.ToArray();

    private readonly ProjectHost _project;
    private readonly ulong _tag;
    private readonly uint _uid, _gid;
    // Agent numbers, first come first numbered, kept for the life of the mount: an agent's inode numbers never change.
    private readonly Lock _gate = new();
    private readonly Dictionary<string, long> _numbers = new(StringComparer.Ordinal);
    private readonly List<string> _names = [];
    private readonly Dictionary<string, ulong> _selfNodes = new(StringComparer.Ordinal);
    private readonly List<byte[]> _selfTargets = [];
    private readonly ConcurrentDictionary<ulong, Handle> _handles = new();
    private long _nextFh;

    private sealed class Handle
    {
        public byte[]? Content;
        public List<(byte[] Name, ulong Ino, uint Type)>? Listing;
    }

    /// <summary>An agent as the files show it: named in the registry, or only seen through its live runs.</summary>
    private sealed record AgentView(string Name, string? Role, DateTime? CreatedUtc, IReadOnlyList<ProcessAgentResolver.Registration> Runs,
        IReadOnlyList<uint> Uids, IReadOnlyList<AgentToken> Tokens);

    private sealed record View(IReadOnlyList<AgentView> Agents, IReadOnlyDictionary<uint, string> Uids, DateTime ChangedUtc)
    {
        public AgentView? Find(string name) => Agents.FirstOrDefault(a => a.Name == name);
    }

    /// <param name="tag">High bits of every node id of this section (<see cref="SectionIds.Tag"/>).</param>
    /// <param name="uid">Owner shown for everything in agents/ (the mount's owner).</param>
    public AgentsSection(ProjectHost project, ulong tag, uint uid, uint gid)
    {
        _project = project; _tag = tag; _uid = uid; _gid = gid;
        RootId = tag | 1;
    }

    public string Name => "agents";
    public ulong Tag => _tag;
    public ulong RootId { get; }
    public FuseFileSystem FileSystem => this;
    /// <summary>Nothing to push: every name and attribute here is short-lived and the files use direct I/O.</summary>
    public void Attach(IFuseNotifier notifier) { }

    private ulong IndexId => _tag | 2;
    /// <summary>`self` is one node per target (bit 55 set, numbered by first sight): the kernel may then cache each
    /// node's target (FUSE_CACHE_SYMLINKS stays on for the whole mount), while the name `self` is looked up again on
    /// every walk and leads each caller to the node of its own target.</summary>
    private ulong SelfNode(byte[] target)
    {
        var key = Encoding.UTF8.GetString(target);
        lock (_gate)
        {
            if (_selfNodes.TryGetValue(key, out var id)) return id;
            id = _tag | SelfBit | (uint)(_selfTargets.Count + 1);
            _selfNodes[key] = id;
            _selfTargets.Add(target);
            return id;
        }
    }

    private const ulong SelfBit = 1UL << 55;
    private bool IsSelf(ulong node) => (node & SelfBit) != 0 && SectionIds.TagOf(node) == _tag;

    /// <summary>The target of a `self` node (null if not one).</summary>
    private byte[]? TargetOf(ulong node)
    {
        if (!IsSelf(node)) return null;
        int index = (int)(node & ~(_tag | SelfBit)) - 1;
        lock (_gate) return index >= 0 && index < _selfTargets.Count ? _selfTargets[index] : null;
    }
    // Agent number n (from 1): its directory is 2n+2, its info.json 2n+3.
    private ulong DirId(long number) => _tag | (ulong)(2 * number + 2);
    private static ulong InfoId(ulong dirId) => dirId | 1;


    // ------------------------------------------------------------------ what is shown

    /// <summary>The registry (re-read if its file changed) and the live runs, as of now.</summary>
    private View Current()
    {
        var registry = _project.Registry;
        // An unreadable registry file is said once by the project (AgentRegistry.Unreadable); the one in force stays.
        try { registry.Refresh(); }
        catch (AgentRegistryException) { }
        var runs = _project.Runs;
        var uids = registry.UidMap;
        var tokens = registry.Tokens;
        var agents = new List<AgentView>();
        foreach (var named in registry.Agents)
        {
            if (!IsEntryName(named.Name) || agents.Any(a => a.Name == named.Name)) continue;
            agents.Add(new AgentView(named.Name, named.Role, named.CreatedUtc, [.. runs.Where(r => r.Agent == named.Name)],
                [.. uids.Where(u => u.Value == named.Name).Select(u => u.Key).Order()], [.. tokens.Where(t => t.Agent == named.Name)]));
        }
        // Agents of live runs that the registry does not name (`lighthouse run --agent` needs no registration).
        foreach (var group in runs.Where(r => IsEntryName(r.Agent) && !agents.Any(a => a.Name == r.Agent))
                     .GroupBy(r => r.Agent).OrderBy(g => g.Key, StringComparer.Ordinal))
            agents.Add(new AgentView(group.Key, group.First().Role, null, [.. group], [], []));
        var resolverChanged = (_project.Agents as ProcessAgentResolver)?.ChangedUtc ?? DateTime.UnixEpoch;
        var changed = registry.ChangedUtc > resolverChanged ? registry.ChangedUtc : resolverChanged;
        return new View(agents, uids, changed);
    }

    /// <summary>A name that can be a directory here: one path component, not one of agents/' own entries.</summary>
    private static bool IsEntryName(string name) =>
        name.Length > 0 && name is not ("." or ".." or "self" or "index.json") && !name.Contains('/') && !name.Contains('\0') &&
        Encoding.UTF8.GetByteCount(name) <= NameMax;

    private long NumberOf(string name)
    {
        lock (_gate)
        {
            if (_numbers.TryGetValue(name, out var n)) return n;
            _names.Add(name);
            return _numbers[name] = _names.Count;
        }
    }

    /// <summary>The agent whose directory or info.json <paramref name="node"/> is (null: not one of this mount's numbers).</summary>
    private string? AgentOf(ulong node, out bool info)
    {
        ulong low = node & ~_tag;
        info = (low & 1) != 0;
        if (IsSelf(node)) return null;
        if (SectionIds.TagOf(node) != _tag || low < 4) return null;
        long number = (long)((low - 2) / 2);
        lock (_gate) return number <= _names.Count ? _names[(int)number - 1] : null;
    }

    private static string Utc(DateTime t) =>
        (t.Kind == DateTimeKind.Local ? t.ToUniversalTime() : DateTime.SpecifyKind(t, DateTimeKind.Utc)).ToString("yyyy-MM-ddTHH:mm:ss.fffZ");

    private static IEnumerable<string> IdentifiedBy(AgentView agent)
    {
        if (agent.Runs.Count > 0) yield return AgentVia.Ancestor;
        if (agent.Uids.Count > 0) yield return AgentVia.Uid;
    }

    private static readonly JsonWriterOptions Indented = new() { Indented = true };

    private static byte[] Render(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var json = new Utf8JsonWriter(buffer, Indented)) write(json);
        buffer.Write("\n"u8);
        return buffer.WrittenSpan.ToArray();
    }

    private static void WriteSummary(Utf8JsonWriter json, AgentView agent, bool full)
    {
        json.WriteString("name", agent.Name);
        json.WriteString("role", agent.Role);
        json.WriteBoolean("present", agent.Runs.Count > 0);
        json.WriteStartArray("identifiedBy");
        foreach (var via in IdentifiedBy(agent)) json.WriteStringValue(via);
        json.WriteEndArray();
        json.WriteStartArray("processes");
        foreach (var run in agent.Runs)
        {
            json.WriteStartObject();
            json.WriteNumber("pid", run.Pid);
            json.WriteString("since", Utc(run.RegisteredUtc));
            json.WriteEndObject();
        }
        json.WriteEndArray();
        if (agent.CreatedUtc is { } created) json.WriteString("created", Utc(created));
        else json.WriteNull("created"); // known only from its runs
        if (!full) return;
        json.WriteStartArray("uids");
        foreach (var uid in agent.Uids) json.WriteNumberValue(uid);
        json.WriteEndArray();
        // Tokens by id: the text is a credential, and the registry does not keep it anyway.
        json.WriteStartArray("tokens");
        foreach (var token in agent.Tokens)
        {
            json.WriteStartObject();
            json.WriteString("id", token.Id);
            json.WriteString("created", Utc(token.CreatedUtc));
            json.WriteString("expires", Utc(token.ExpiresUtc));
            if (token.RevokedUtc is { } revoked) json.WriteString("revoked", Utc(revoked));
            else json.WriteNull("revoked");
            json.WriteEndObject();
        }
        json.WriteEndArray();
    }

    private static byte[] IndexJson(View view) => Render(json =>
    {
        json.WriteStartObject();
        json.WriteStartArray("agents");
        foreach (var agent in view.Agents)
        {
            json.WriteStartObject();
            WriteSummary(json, agent, full: false);
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteStartObject("uids");
        foreach (var (uid, name) in view.Uids.OrderBy(u => u.Key))
            json.WriteString(uid.ToString(System.Globalization.CultureInfo.InvariantCulture), name);
        json.WriteEndObject();
        json.WriteEndObject();
    });

    private static byte[] InfoJson(AgentView agent) => Render(json =>
    {
        json.WriteStartObject();
        WriteSummary(json, agent, full: true);
        json.WriteEndObject();
    });

    /// <summary>Where `self` points for this caller: its agent's directory, or a name that does not exist but says who it is.</summary>
    private byte[] SelfTarget(in RequestContext ctx)
    {
        var agent = _project.Agents.Resolve(new Caller(ctx.Pid, ctx.Uid, ctx.Gid));
        bool named = agent.Source is AgentSource.Ancestor or AgentSource.Token or AgentSource.Uid && IsEntryName(agent.Name);
        return Encoding.UTF8.GetBytes(named ? agent.Name : "none:" + agent.Name);
    }

    // ------------------------------------------------------------------ attributes

    private FuseAttr Attr(ulong id, uint mode, ulong size, uint nlink, DateTime changed)
    {
        long ticks = Math.Max(0, (changed.ToUniversalTime() - DateTime.UnixEpoch).Ticks);
        ulong sec = (ulong)(ticks / TimeSpan.TicksPerSecond);
        uint nsec = (uint)(ticks % TimeSpan.TicksPerSecond * 100);
        // The node id is the inode number too: unique in the mount (current/'s come from the disk, history/'s have the top bit).
        return new FuseAttr
        {
            Ino = id, Size = size, Blocks = (size + 511) / 512, Mode = mode, Nlink = nlink, Uid = _uid, Gid = _gid, BlkSize = 4096,
            Atime = sec, Mtime = sec, Ctime = sec, AtimeNsec = nsec, MtimeNsec = nsec, CtimeNsec = nsec,
        };
    }

    private const uint DirMode = 0x4000 | 0x16d, FileMode = 0x8000 | 0x124, LinkMode = 0xA000 | 0x1ff;

    /// <summary>Attributes of <paramref name="node"/> now and how long the kernel may keep them (0: ask every time).</summary>
    protected override int Attributes(in RequestContext ctx, ulong node, out FuseAttr attr, out TimeSpan timeout)
    {
        attr = default; timeout = Short;
        if (SectionIds.TagOf(node) != _tag) return Errno.ESTALE;
        var view = Current();
        if (node == RootId) { attr = Attr(node, DirMode, 0, 2 + (uint)view.Agents.Count, view.ChangedUtc); return 0; }
        if (node == IndexId)
        {
            attr = Attr(node, FileMode, (ulong)IndexJson(view).Length, 1, view.ChangedUtc);
            timeout = TimeSpan.Zero; // the size must be the content's as it renders now
            return 0;
        }
        if (TargetOf(node) is { } target)
        {
            attr = Attr(node, LinkMode, (ulong)target.Length, 1, view.ChangedUtc);
            return 0; // a self node's target never changes
        }
        if (AgentOf(node, out bool info) is not { } name) return Errno.ESTALE;
        if (view.Find(name) is not { } agent) return Errno.ENOENT; // removed since
        if (!info) { attr = Attr(node, DirMode, 0, 2, view.ChangedUtc); return 0; }
        attr = Attr(node, FileMode, (ulong)InfoJson(agent).Length, 1, view.ChangedUtc);
        timeout = TimeSpan.Zero;
        return 0;
    }


    public override int Lookup(in RequestContext ctx, ulong parent, ReadOnlySpan<byte> name, out EntryOut entry)
    {
        entry = default;
        if (name.Length > NameMax) return Errno.ENAMETOOLONG;
        ulong child;
        if (parent == RootId)
        {
            if (name.SequenceEqual(IndexName)) child = IndexId;
            else if (name.SequenceEqual(SelfName)) child = SelfNode(SelfTarget(ctx));
            else
            {
                string text = Encoding.UTF8.GetString(name);
                if (!IsEntryName(text) || Current().Find(text) is null) return Errno.ENOENT;
                child = DirId(NumberOf(text));
            }
        }
        else if (AgentOf(parent, out bool info) is not null)
        {
            if (info) return Errno.ENOTDIR;
            if (!name.SequenceEqual(InfoName)) return Errno.ENOENT;
            child = InfoId(parent);
        }
        else return parent == IndexId || IsSelf(parent) ? Errno.ENOTDIR : Errno.ESTALE;
        int rc = Attributes(ctx, child, out var attr, out var attrTimeout);
        if (rc != 0) return rc == Errno.ESTALE ? Errno.ENOENT : rc;
        // `self` is looked up again on every walk, so each caller gets its own target; the rest may be kept briefly.
        var (es, ens) = Split(IsSelf(child) ? TimeSpan.Zero : Short);
        var (s, ns) = Split(attrTimeout);
        entry = new EntryOut { NodeId = child, EntryValid = es, EntryValidNsec = ens, AttrValid = s, AttrValidNsec = ns, Attr = attr };
        return 0;
    }



    public override int ReadLink(in RequestContext ctx, ulong node, Span<byte> target, out int length)
    {
        length = 0;
        if (TargetOf(node) is not { } bytes) return Errno.EINVAL;
        if (bytes.Length > target.Length) return Errno.ENAMETOOLONG;
        bytes.CopyTo(target);
        length = bytes.Length;
        return 0;
    }

    // ------------------------------------------------------------------ files

    public override int Open(in RequestContext ctx, ulong node, int flags, uint openFlags, out OpenOut open)
    {
        open = default;
        if ((flags & Libc.O_ACCMODE) != Libc.O_RDONLY || (flags & Libc.O_TRUNC) != 0) return Errno.EROFS;
        byte[] content;
        if (node == IndexId) content = IndexJson(Current());
        else if (node == RootId) return Errno.EISDIR;
        else if (IsSelf(node)) return Errno.ELOOP; // the kernel follows it; only O_NOFOLLOW would get here
        else if (AgentOf(node, out bool info) is not { } name) return Errno.ESTALE;
        else if (!info) return Errno.EISDIR;
        else if (Current().Find(name) is { } agent) content = InfoJson(agent);
        else return Errno.ENOENT;
        ulong fh = (ulong)Interlocked.Increment(ref _nextFh);
        _handles[fh] = new Handle { Content = content };
        // Direct I/O: reads come here, from this rendering, whatever size the kernel last saw.
        open = new OpenOut { Fh = fh, OpenFlags = OpenReplyFlags.DirectIo };
        return 0;
    }

    public override int Read(in RequestContext ctx, ulong node, ulong fh, long offset, Span<byte> buffer, out int bytesRead)
    {
        bytesRead = 0;
        if (!_handles.TryGetValue(fh, out var h) || h.Content is not { } content) return Errno.EBADF;
        return ReadRendering(content, offset, buffer, out bytesRead);
    }

    public override int Lseek(in RequestContext ctx, ulong node, ulong fh, long offset, int whence, out long result)
    {
        result = 0;
        if (!_handles.TryGetValue(fh, out var h) || h.Content is not { } content) return Errno.EBADF;
        return SeekRendering(content.Length, offset, whence, out result);
    }

    public override int Release(in RequestContext ctx, ulong node, ulong fh, int flags)
    {
        _handles.TryRemove(fh, out _);
        return 0;
    }


    // ------------------------------------------------------------------ directories

    public override int OpenDir(in RequestContext ctx, ulong node, int flags, out OpenOut open)
    {
        open = default;
        List<(byte[], ulong, uint)> listing;
        if (node == RootId)
        {
            // ".." is the mount root (inode 1); d_ino is each entry's st_ino.
            listing = [("."u8.ToArray(), RootId, 4), (".."u8.ToArray(), 1, 4), (IndexName, IndexId, 8), (SelfName, SelfNode(SelfTarget(ctx)), 10)];
            foreach (var agent in Current().Agents)
                listing.Add((Encoding.UTF8.GetBytes(agent.Name), DirId(NumberOf(agent.Name)), 4));
        }
        else if (node == IndexId || IsSelf(node)) return Errno.ENOTDIR;
        else if (AgentOf(node, out bool info) is not { } name) return Errno.ESTALE;
        else if (info) return Errno.ENOTDIR;
        else if (Current().Find(name) is null) return Errno.ENOENT;
        else listing = [("."u8.ToArray(), node, 4), (".."u8.ToArray(), RootId, 4), (InfoName, InfoId(node), 8)];
        ulong fh = (ulong)Interlocked.Increment(ref _nextFh);
        _handles[fh] = new Handle { Listing = listing };
        // The listing changes with the registry and the runs: no directory cache.
        open = new OpenOut { Fh = fh };
        return 0;
    }

    public override int ReadDir(in RequestContext ctx, ulong node, ulong fh, long offset, ref DirectoryBuffer buffer)
    {
        if (!_handles.TryGetValue(fh, out var h) || h.Listing is not { } listing) return Errno.EBADF;
        // An entry's offset cookie is its position + 1; entries carry no attributes (node id 0): the kernel looks names up.
        for (int i = (int)Math.Max(0, offset); i < listing.Count; i++)
            if (!buffer.TryAdd(listing[i].Name, listing[i].Ino, listing[i].Type, i + 1, default)) break;
        return 0;
    }

    public override int ReleaseDir(in RequestContext ctx, ulong node, ulong fh)
    {
        _handles.TryRemove(fh, out _);
        return 0;
    }
}
