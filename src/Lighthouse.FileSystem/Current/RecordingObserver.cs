using Lighthouse.Fuse.Protocol;
using Lighthouse.Fuse.Session;
using Lighthouse.Passthrough;
using Lighthouse.Project.Agents;
using Lighthouse.Project.Recording;

namespace Lighthouse.FileSystem.Current;

/// <summary>
/// The FUSE side of recording current/: turns the passthrough's nodes and requests into what the
/// project's <see cref="ChangeRecorder"/> takes — paths relative to the project, the caller's agent,
/// the stat the passthrough already made — and keeps per-node shortcuts so the common case costs
/// no path walk: <see cref="Node.UserState"/> caches "content safe" (1), <see cref="Node.UserStamp"/>
/// the modification time of the last recorded version.
/// </summary>
internal sealed class RecordingObserver(ChangeRecorder recorder, IAgentResolver agents) : IPassthroughObserver
{
    private const int ContentSafe = 1;
    private PassthroughFileSystem? _fs;

    /// <summary>The filesystem whose node paths we record (set once it exists; the two refer to each other).</summary>
    public void Attach(PassthroughFileSystem fs) => _fs = fs;

    private string PathOf(Node node, ReadOnlySpan<byte> child = default) => _fs!.RelativePath(node, child);
    private Agent AgentOf(in RequestContext ctx) => agents.Resolve(new Caller(ctx.Pid, ctx.Uid, ctx.Gid));
    private static FileKey KeyOf(Node node) => new(node.Dev, node.Ino);

    private static FileFacts Facts(in NodeStat st) =>
        new(st.Mode, st.Size, st.MtimeNs, st.Ino, st.Uid, st.Gid, MakeDev(st.Rdev >> 32, st.Rdev & 0xffffffff));

    /// <summary>dev_t from major and minor, as glibc's makedev encodes them.</summary>
    private static ulong MakeDev(ulong major, ulong minor) =>
        ((major & 0xfffff000) << 32) | ((major & 0xfff) << 8) | ((minor & 0xffffff00) << 12) | (minor & 0xff);

    private static void Remember(Node node, ContentKnowledge known) =>
        Volatile.Write(ref node.UserState, known == ContentKnowledge.Safe ? ContentSafe : 0);

    public void BeforeModify(in RequestContext ctx, Node node)
    {
        if (Volatile.Read(ref node.UserState) == ContentSafe) return;
        switch (recorder.Known(KeyOf(node)))
        {
            case ContentKnowledge.Safe:
                Remember(node, ContentKnowledge.Safe);
                return;
            case ContentKnowledge.WritePending:
                recorder.WaitForCapture(KeyOf(node)); // the queued capture of the last write runs and commits first
                Remember(node, ContentKnowledge.Safe);
                return;
            default:
                recorder.CaptureBeforeModify(AgentOf(ctx), KeyOf(node), PathOf(node));
                Remember(node, ContentKnowledge.Safe);
                return;
        }
    }

    public void BeforeNamespaceChange(in RequestContext ctx, Node parent, ReadOnlySpan<byte> name)
    {
        if (recorder.CapturesPending) recorder.BeforeNamespaceChange(PathOf(parent, name));
    }

    /// <summary>What an open for writing remembers: who opened it (identity is bound to the handle, so what the
    /// kernel writes back later is the opener's) and under which name, to say when it ends.</summary>
    private sealed record WriterOpen(Agent Agent, string Path);

    private static Agent? OpenerOf(object? openedBy) => openedBy switch { WriterOpen w => w.Agent, Agent a => a, _ => null };

    public object? Opened(in RequestContext ctx, Node node, bool forWriting, bool created)
    {
        var agent = AgentOf(ctx);
        if (!forWriting) return agent;
        // Writes through the mount reach the project directory too (kernel passthrough: without us seeing
        // them): while it is open, changes the watcher sees at this path are ours, not external.
        string path;
        try { path = PathOf(node); }
        catch (IOException) { return agent; } // no name (O_TMPFILE): nothing the watcher could see
        recorder.OpenedForWriting(path);
        return new WriterOpen(agent, path);
    }

    public void Released(in RequestContext ctx, Node node, object? openedBy)
    {
        if (openedBy is WriterOpen w) recorder.ClosedForWriting(w.Path);
    }

    public void Created(in RequestContext ctx, Node parent, ReadOnlySpan<byte> name, Node node, in NodeStat st, ReadOnlySpan<byte> symlinkTarget)
    {
        var facts = Facts(st);
        Volatile.Write(ref node.UserStamp, facts.MtimeNs);
        Remember(node, recorder.Created(AgentOf(ctx), PathOf(parent, name), KeyOf(node), facts, symlinkTarget));
    }

    public void Removed(in RequestContext ctx, Node parent, ReadOnlySpan<byte> name, Node? node, bool lastLink, bool directory) =>
        recorder.Removed(AgentOf(ctx), PathOf(parent, name), node is null ? null : KeyOf(node), lastLink);

    public void Renamed(in RequestContext ctx, Node fromParent, ReadOnlySpan<byte> fromName, Node toParent, ReadOnlySpan<byte> toName, uint flags)
    {
        const uint RenameExchange = 2;
        string from = PathOf(fromParent, fromName), to = PathOf(toParent, toName);
        if ((flags & RenameExchange) != 0) recorder.Exchanged(AgentOf(ctx), from, to);
        else recorder.Renamed(AgentOf(ctx), from, to);
    }

    public void Linked(in RequestContext ctx, Node node, Node newParent, ReadOnlySpan<byte> newName) =>
        recorder.Linked(AgentOf(ctx), PathOf(node), PathOf(newParent, newName));

    public void AttributesChanged(in RequestContext ctx, Node node, in NodeStat st, SetAttrValid changed)
    {
        var facts = Facts(st);
        // A new size or modification time: the store records new bytes, without them (they are captured now).
        // Mode, owner, access time: the bytes, and what we know of them, are as they were.
        bool bytesChanged = (changed & (SetAttrValid.Size | SetAttrValid.Mtime | SetAttrValid.MtimeNow)) != 0;
        if (bytesChanged && (facts.Mode & 0xF000) == 0x8000) Remember(node, ContentKnowledge.Unknown);
        Volatile.Write(ref node.UserStamp, facts.MtimeNs);
        recorder.AttributesChanged(AgentOf(ctx), PathOf(node), KeyOf(node), facts, bytesChanged);
    }

    public void Written(in RequestContext ctx, Node node, object? openedBy, int fd)
    {
        // Opened for writing but not written (the modification time did not move): no new version, unless a change of
        // its bytes was recorded without them meanwhile (tar sets the time before the kernel's RELEASE reaches us).
        // Checked first, on the descriptor: most files opened for writing by tools are closed unchanged or just created.
        if (_fs!.TryStat(node, fd, out var st))
        {
            if (Interlocked.Exchange(ref node.UserStamp, st.MtimeNs) == st.MtimeNs
                && recorder.Known(KeyOf(node)) != ContentKnowledge.Changed) return;
        }
        // RELEASE comes from the kernel (pid 0): the write belongs to whoever opened the file.
        var agent = ctx.Pid != 0 ? AgentOf(ctx) : OpenerOf(openedBy) ?? Agent.Kernel;
        string path;
        try { path = PathOf(node); }
        catch (IOException) { return; } // unlinked while open: its last content has no name to record under
        Remember(node, ContentKnowledge.WritePending);
        recorder.Written(agent, path, KeyOf(node));
    }
}
