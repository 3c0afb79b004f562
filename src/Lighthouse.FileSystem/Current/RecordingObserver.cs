using System.Runtime.InteropServices;
using Lighthouse.Fuse.Protocol;
using Lighthouse.Fuse.Session;
using Lighthouse.Interop;
using Lighthouse.Passthrough;
using Lighthouse.Project.Agents;
using Lighthouse.Project.Recording;
using Microsoft.Win32.SafeHandles;

namespace Lighthouse.FileSystem.Current;

/// <summary>
/// The FUSE side of recording current/: turns the passthrough's nodes and requests into what the
/// project's <see cref="ChangeRecorder"/> takes — paths relative to the project, the caller's agent,
/// the stat the passthrough already made — and keeps per-node shortcuts so the common case costs
/// no path walk: <see cref="Node.UserState"/> caches "content safe" (1), <see cref="Node.UserStamp"/>
/// the stamp (<see cref="StampOf"/>) of the last recorded version.
/// </summary>
internal sealed class RecordingObserver(ChangeRecorder recorder, IAgentResolver agents, Lighthouse.Project.Reads.ReadTracker? reads = null,
    Debug.AgentActivity? activity = null) : IPassthroughObserver
{
    private const int ContentSafe = 1;
    private PassthroughFileSystem? _fs;

    /// <summary>The filesystem whose node paths we record (set once it exists; the two refer to each other).</summary>
    public void Attach(PassthroughFileSystem fs) => _fs = fs;

    private string PathOf(Node node, ReadOnlySpan<byte> child = default) => _fs!.RelativePath(node, child);
    private Agent AgentOf(in RequestContext ctx) => agents.Resolve(new Caller(ctx.Pid, ctx.Uid, ctx.Gid));
    /// <summary>The agent of an open or a change, counted as one operation of it.</summary>
    private Agent OperationBy(in RequestContext ctx)
    {
        var agent = AgentOf(ctx);
        activity?.Operation(agent);
        return agent;
    }
    private static FileKey KeyOf(Node node) => new(node.Dev, node.Ino);

    private static FileFacts Facts(in NodeStat st) =>
        new(st.Mode, st.Size, st.MtimeNs, st.Ino, st.Uid, st.Gid, Libc.MakeDev(st.Rdev >> 32, st.Rdev & 0xffffffff));

    /// <summary>A directory's modification time right after a change of its entries, which history shows: the kernel keeps the
    /// directory locked until we reply, so no other change through the mount comes between. Null if it cannot be stat'ed.</summary>
    private long? MtimeOf(Node dir) => _fs!.TryStat(dir, out var st) ? st.MtimeNs : null;

    private static void Remember(Node node, ContentKnowledge known) =>
        Volatile.Write(ref node.UserState, known == ContentKnowledge.Safe ? ContentSafe : 0);

    public void BeforeModify(in RequestContext ctx, Node node, bool inPlace)
    {
        if (!inPlace) CaptureUnrecordedWrites(ctx, node); // it loses a name: a capture point
        if (Volatile.Read(ref node.UserState) == ContentSafe) return;
        switch (recorder.Known(KeyOf(node)))
        {
            case ContentKnowledge.Safe:
                Remember(node, ContentKnowledge.Safe);
                return;
            case ContentKnowledge.WritePending:
                // The queued capture of the last write reads the file through a descriptor of its own: only a change
                // in place destroys what it is to read.
                if (!inPlace) return;
                recorder.ReadQueuedCapture(KeyOf(node)); // it reads the bytes now if it has not yet
                Remember(node, ContentKnowledge.Safe);
                return;
            default:
                // The name first: a file that has none any more was unlinked (or replaced) by another process meanwhile,
                // and that unlink kept its bytes before it went (BeforeModify of a removal): nothing left to keep here.
                string path;
                try { path = PathOf(node); }
                catch (IOException) { return; }
                int fd = _fs!.OpenToRead(node);
                if (fd < 0) throw new IOException($"cannot open '{path}' to keep its content: {Marshal.GetPInvokeErrorMessage(-fd)}");
                using (var content = new SafeFileHandle(fd, ownsHandle: true))
                    recorder.CaptureBeforeModify(AgentOf(ctx), KeyOf(node), path, content, WriterNow(node));
                Remember(node, ContentKnowledge.Safe);
                return;
        }
    }

    /// <summary>Whoever writes to <paramref name="node"/> through us now or did a moment ago (open for writing, or changed
    /// in the last seconds): bytes that moved since the record without reaching us (kernel passthrough, mmap) are theirs.</summary>
    private Agent? WriterNow(Node node) =>
        (node.OpenForWriting || recorder.InodeMayBeOurs((long)node.Ino)) && LastWriterOpen(node) is { } w ? w.Agent : null;

    public void BeforeRename(in RequestContext ctx, Node node) => CaptureUnrecordedWrites(ctx, node);

    /// <summary>
    /// A file still open for writing is renamed, replaced or removed: what was written to it and not recorded yet is a
    /// version under the name it has until then. (The kernel sends RELEASE after close() has returned, so `write; close;
    /// mv tmp file` can reach us as the rename first: the capture at release would come after it, under the new name.)
    /// </summary>
    private void CaptureUnrecordedWrites(in RequestContext ctx, Node node)
    {
        if (!node.OpenForWriting || !_fs!.TryStat(node, out var st) || !Claim(node, StampOf(st.MtimeNs, st.Size))) return;
        Capture(LastWriterOpen(node) is { } w ? w.Agent : AgentOf(ctx), node, -1, readNow: true); // the writer goes on
    }

    /// <summary>Takes the change to modification time <paramref name="mtimeNs"/> for recording; false if it is recorded already.</summary>
    private static bool Claim(Node node, long stamp) => Interlocked.Exchange(ref node.UserStamp, stamp) != stamp || stamp == Untrusted;

    /// <summary>
    /// What says a file's bytes may have changed since a record: its modification time and size. A write within the
    /// clock's granularity of the stat the stamp came from (a few ms: timestamps are coarse) can leave both as they were,
    /// so a stamp of a file with bytes modified that recently is <see cref="Untrusted"/>, which nothing equals: its next
    /// capture point captures whatever it reads then (an unchanged file gives no new version). Writes by kernel
    /// passthrough never reach us; this is how a close tells whether there were any.
    /// </summary>
    private static long StampOf(long mtimeNs, long size)
    {
        if (size > 0 && DateTime.UtcNow.Ticks * 100 - UnixEpochNs - mtimeNs < AmbiguousNs) return Untrusted;
        return mtimeNs ^ (size * unchecked((long)0x9E3779B97F4A7C15));
    }

    private const long Untrusted = long.MinValue, AmbiguousNs = 50_000_000;
    private static readonly long UnixEpochNs = DateTime.UnixEpoch.Ticks * 100;

    private static bool StampSays(Node node, long stamp) => stamp != Untrusted && Volatile.Read(ref node.UserStamp) == stamp;

    /// <summary>Queues the capture of <paramref name="node"/>'s bytes, read through a descriptor of its own (through
    /// <paramref name="fd"/> when given), under its name now; <paramref name="readNow"/>: read before returning, as
    /// other handles may go on writing (kernel passthrough writes never reach us) once we reply.</summary>
    private void Capture(Agent agent, Node node, int fd, bool readNow = false)
    {
        int content = _fs!.OpenToRead(node, fd);
        if (content < 0)
        {
            string name;
            try { name = PathOf(node); }
            catch (IOException) { return; } // unlinked while open: its last content has no name to record under
            throw new IOException($"cannot open '{name}' to capture it: {Marshal.GetPInvokeErrorMessage(-content)}");
        }
        var handle = new SafeFileHandle(content, ownsHandle: true);
        lock (_fs.NamespaceOrder)
        {
            string path;
            try { path = PathOf(node); }
            catch (IOException) { handle.Dispose(); return; } // unlinked while open: no name to record under
            Remember(node, ContentKnowledge.WritePending);
            recorder.Written(agent, path, KeyOf(node), handle, readNow);
        }
    }

    /// <summary>What an open for writing remembers: who opened it (identity is bound to the handle, so what the
    /// kernel writes back later is the opener's) and under which name, to say when it ends.</summary>
    private sealed record WriterOpen(Agent Agent, string Path);

    // The last open for writing of each file with one: whose bytes a capture point before its release records.
    // Kept on the node itself (a ConditionalWeakTable entry cost a GC handle per open: 2.6% of a FUSE thread's time under create).
    private static WriterOpen? LastWriterOpen(Node node) => Volatile.Read(ref node.UserObject) as WriterOpen;

    /// <summary>The agent an open handle is bound to (what <see cref="Opened"/> returned for it).</summary>
    internal static Agent? OpenerOf(object? openedBy) => openedBy switch { WriterOpen w => w.Agent, Agent a => a, _ => null };

    public void Closed(Node node, object? openedBy, long bytesRead, long bytesWritten)
    {
        if (activity is not null && OpenerOf(openedBy) is { } agent) activity.Bytes(agent, bytesRead, bytesWritten);
    }

    public object? Opened(in RequestContext ctx, Node node, bool forWriting, bool created)
    {
        var agent = OperationBy(ctx);
        if (!forWriting)
        {
            if (reads is not null && node.FileType == 0x8000)
                try { reads.Read(agent, PathOf(node)); } catch (IOException) { } // no name: nothing to note
            return agent;
        }
        // A capture still queued from its last close reads its bytes before this handle can change them.
        recorder.BeforeOpenForWriting(KeyOf(node));
        // Writes through the mount reach the project directory too (kernel passthrough: without us seeing
        // them): while it is open, changes the watcher sees at this path are ours, not external.
        string path;
        lock (_fs!.NamespaceOrder)
        {
            try { path = PathOf(node); }
            catch (IOException) { return agent; } // no name (O_TMPFILE): nothing the watcher could see
            recorder.OpenedForWriting(path, KeyOf(node));
        }
        var open = new WriterOpen(agent, path);
        Volatile.Write(ref node.UserObject, open);
        return open;
    }

    public void Released(in RequestContext ctx, Node node, object? openedBy)
    {
        if (openedBy is not WriterOpen w) return;
        // Under the name it has now: a rename while open moved the mark along (unlinked: the name it was opened by).
        lock (_fs!.NamespaceOrder)
        {
            string path;
            try { path = PathOf(node); }
            catch (IOException) { path = w.Path; }
            recorder.ClosedForWriting(path, KeyOf(node));
        }
    }

    public void Created(in RequestContext ctx, Node parent, ReadOnlySpan<byte> name, Node node, in NodeStat st, ReadOnlySpan<byte> symlinkTarget)
    {
        var facts = Facts(st);
        Volatile.Write(ref node.UserStamp, StampOf(facts.MtimeNs, facts.Size));
        // A file born with bytes (an O_TMPFILE linked in): read them through a descriptor of its own, as the name
        // may be renamed or removed before the record is made.
        SafeFileHandle? content = null;
        if ((facts.Mode & 0xF000) == 0x8000 && facts.Size > 0 && _fs!.OpenToRead(node) is var fd and >= 0)
            content = new SafeFileHandle(fd, ownsHandle: true);
        var agent = OperationBy(ctx);
        long? dirMtime = MtimeOf(parent);
        // Paths are taken and records queued in one order with the node table's renames (see NamespaceOrder).
        lock (_fs!.NamespaceOrder)
            Remember(node, recorder.Created(agent, PathOf(parent, name), KeyOf(node), facts, symlinkTarget, dirMtime, content));
    }

    // The passthrough calls this (and Renamed) holding NamespaceOrder, with the node table already changed.
    public void Removed(in RequestContext ctx, Node parent, ReadOnlySpan<byte> name, Node? node, bool lastLink, bool directory) =>
        recorder.Removed(OperationBy(ctx), PathOf(parent, name), node is null ? null : KeyOf(node), lastLink, MtimeOf(parent));

    public void Renamed(in RequestContext ctx, Node fromParent, ReadOnlySpan<byte> fromName, Node toParent, ReadOnlySpan<byte> toName, uint flags)
    {
        const uint RenameExchange = 2, RenameWhiteout = 4;
        string from = PathOf(fromParent, fromName), to = PathOf(toParent, toName);
        var agent = OperationBy(ctx);
        long? fromDir = MtimeOf(fromParent), toDir = toParent == fromParent ? fromDir : MtimeOf(toParent);
        if ((flags & RenameExchange) != 0) recorder.Exchanged(agent, from, to, fromDir, toDir);
        else recorder.Renamed(agent, from, to, fromDir, toDir);
        // RENAME_WHITEOUT left a whiteout (a character device 0:0) at the source name: a new node, recorded as the disk has it.
        if ((flags & RenameWhiteout) != 0 && _fs!.TryStat(fromParent, fromName, out var whiteout))
            recorder.Created(agent, from, new FileKey(whiteout.Dev, whiteout.Ino), Facts(whiteout), dirMtimeNs: fromDir);
    }

    public void Linked(in RequestContext ctx, Node node, Node newParent, ReadOnlySpan<byte> newName)
    {
        var agent = OperationBy(ctx);
        long? dirMtime = MtimeOf(newParent);
        lock (_fs!.NamespaceOrder) recorder.Linked(agent, PathOf(node), PathOf(newParent, newName), dirMtime);
    }

    public void AttributesChanged(in RequestContext ctx, Node node, in NodeStat st, SetAttrValid changed)
    {
        var facts = Facts(st);
        // A new size or modification time: the store records new bytes, without them (they are captured now).
        // Mode, owner, access time: the bytes, and what we know of them, are as they were.
        bool bytesChanged = (changed & (SetAttrValid.Size | SetAttrValid.Mtime | SetAttrValid.MtimeNow)) != 0;
        if (bytesChanged && (facts.Mode & 0xF000) == 0x8000) Remember(node, ContentKnowledge.Unknown);
        Volatile.Write(ref node.UserStamp, StampOf(facts.MtimeNs, facts.Size));
        // New bytes of a file nobody writes to are captured now, through a descriptor of their own like a write's (tar sets
        // the time after the last write). A file still open for writing (its writer goes on once we reply, or tar's
        // RELEASE has not reached us yet) is captured at its next capture point instead: its close, or an fsync.
        SafeFileHandle? content = null;
        if (bytesChanged && (facts.Mode & 0xF000) == 0x8000 && !node.OpenForWriting && _fs!.OpenToRead(node) is var fd and >= 0)
            content = new SafeFileHandle(fd, ownsHandle: true);
        var agent = OperationBy(ctx);
        lock (_fs!.NamespaceOrder)
        {
            string path;
            try { path = PathOf(node); }
            catch (IOException) when (st.Nlink <= 1)
            {
                // No name any more: an fchmod/ftruncate of an unlinked open file, or a change racing its last unlink (the two
                // overlapped, so it is ordered after it). Either way it changed no file of the tree: nothing to record.
                // (With more links, another name shows the change: that stays a recording failure, reported.)
                content?.Dispose();
                return;
            }
            if (content is not null) Remember(node, ContentKnowledge.WritePending);
            recorder.AttributesChanged(agent, path, KeyOf(node), facts, bytesChanged, content);
        }
    }

    public void Written(in RequestContext ctx, Node node, object? openedBy, int fd, bool closing)
    {
        // Opened for writing but not written (the modification time did not move): no new version, unless a change of
        // its bytes was recorded without them meanwhile (tar sets the time before the kernel's RELEASE reaches us).
        // Checked first, on the descriptor: most files opened for writing by tools are closed unchanged or just created.
        if (_fs!.TryStat(node, fd, out var st))
        {
            // A change of its bytes recorded without them (tar sets the time before RELEASE): captured whatever the stamp.
            bool unrecorded = recorder.Known(KeyOf(node)) == ContentKnowledge.Changed;
            long stamp = StampOf(st.MtimeNs, st.Size);
            if (!unrecorded && StampSays(node, stamp)) return;
            // An fsync soon after this file's last capture: its change stays unrecorded (the stamp is left behind), so
            // the next capture point takes it — an fsync after the interval, a rename, or the close.
            if (!closing && !recorder.CaptureDue(KeyOf(node))) return;
            // Closed while another handle writes on: the bytes may be past what this close saw (RELEASE comes after
            // close() returned; the file may have been opened again and written since). Left for that handle's close.
            if (closing && node.OpenForWriting) // (the handle being released no longer counts)
            {
                recorder.LeftForLater(KeyOf(node));
                Remember(node, ContentKnowledge.Unknown);
                return;
            }
            if (!Claim(node, stamp) && !unrecorded) return;
        }
        // RELEASE comes from the kernel (pid 0): the write belongs to whoever opened the file. An fsync's caller goes on
        // writing once we reply: its bytes are read before.
        Capture(ctx.Pid != 0 ? AgentOf(ctx) : OpenerOf(openedBy) ?? Agent.Kernel, node, fd, readNow: !closing);
    }
}
