using Lighthouse.Fuse.LowLevel;
using System.Collections.Concurrent;
using Lighthouse.Interop;
using Lighthouse.Fuse.Protocol;

namespace Lighthouse.Passthrough;

/// <summary>
/// One inode the kernel knows. It remembers where it is (parent + name) rather than holding a
/// descriptor, so the descriptor limit does not cap the tree size; paths are rebuilt relative to
/// the source root when needed. A node whose name is gone (unlinked, or an O_TMPFILE) is reached
/// through a descriptor of one of its open files instead.
/// </summary>
public sealed class Node
{
    public Node(ulong id, ulong dev, ulong ino, uint mode, Node? parent, byte[]? name)
    {
        Id = id; Dev = dev; Ino = ino; FileType = mode & 0xF000; Parent = parent; Name = name;
    }

    public ulong Id { get; }
    public ulong Dev { get; }
    public ulong Ino { get; }
    public uint FileType { get; }
    public bool IsDirectory => FileType == 0x4000;

    // Guarded by the NodeTable lock. Parent/Name is the name paths are built from; a file with
    // several hard links known to us keeps the others in OtherLinks, to fall back on when that name goes.
    internal Node? Parent;
    internal byte[]? Name;
    internal List<(Node Parent, byte[] Name)>? OtherLinks;
    internal long Lookups;

    // Guarded by lock(this): open files and the kernel passthrough backing file shared by all of them
    // (the kernel requires one backing file per inode).
    internal int OpenFiles;
    internal int WritableFiles; // how many of them were opened for writing
    internal List<int>? OpenFds; // descriptors of the open files of this node

    /// <summary>A descriptor of one of its open files, or -1. Read it under lock(node): RELEASE closes under it.</summary>
    internal int OpenFd => OpenFds is { Count: > 0 } fds ? fds[0] : -1;
    internal BackingFile Backing;

    /// <summary>Free for the owner of the filesystem (e.g. a recorder's per-file state); updated with Interlocked.</summary>
    public int UserState;
    /// <summary>Free for the owner too (e.g. the modification time of the last recorded version).</summary>
    public long UserStamp;
    /// <summary>Free for the owner too (e.g. who last opened it for writing); read and written with Volatile.</summary>
    public object? UserObject;

    /// <summary>A descriptor of an open file of this node, or -1.</summary>
    public int AnyOpenFd { get { lock (this) return OpenFd; } }

    /// <summary>Whether a file handle opened for writing is still open (not released yet).</summary>
    public bool OpenForWriting { get { lock (this) return WritableFiles > 0; } }
}

/// <summary>Node ids ↔ nodes, and (device, inode) → node so hard links share one node id.</summary>
public sealed unsafe class NodeTable
{
    private readonly ConcurrentDictionary<ulong, Node> _byId = new();
    private readonly Dictionary<(ulong Dev, ulong Ino), Node> _byInode = new();
    private readonly object _lock = new();
    private long _nextId = (long)ProtocolConstants.RootId;

    private readonly ulong _idTag;

    /// <param name="rootId">The root's node id (1 when this tree is the whole mount).</param>
    /// <param name="idTag">High bits OR-ed into every other node id, so several trees can share one mount.</param>
    internal NodeTable(in StatxBuf rootStat, ulong rootId = ProtocolConstants.RootId, ulong idTag = 0)
    {
        _idTag = idTag;
        Root = new Node(rootId, rootStat.Dev, rootStat.Ino, rootStat.Mode, null, null) { Lookups = 1 };
        _byId[Root.Id] = Root;
        _byInode[(Root.Dev, Root.Ino)] = Root;
    }

    public Node Root { get; }
    public int Count => _byId.Count;

    /// <summary>The names the kernel may have cached, as (directory node id, name) pairs: a snapshot, for dropping them
    /// all from its cache (when what may be seen changed, e.g. a new access policy).</summary>
    public List<(ulong Parent, byte[] Name)> KnownNames()
    {
        var names = new List<(ulong, byte[])>();
        lock (_lock)
            foreach (var node in _byId.Values)
            {
                if (node.Parent is { } p && node.Name is { } n) names.Add((p.Id, n));
                if (node.OtherLinks is { } links)
                    foreach (var (lp, ln) in links) names.Add((lp.Id, ln));
            }
        return names;
    }

    public Node? Get(ulong id) => _byId.TryGetValue(id, out var node) ? node : null;

    public Node? FindByInode(ulong dev, ulong ino)
    {
        lock (_lock) return _byInode.TryGetValue((dev, ino), out var node) ? node : null;
    }

    /// <summary>Counts one kernel lookup of <paramref name="name"/> in <paramref name="parent"/>,
    /// described by <paramref name="st"/>; creates the node on first sight.</summary>
    internal Node Remember(Node parent, ReadOnlySpan<byte> name, in StatxBuf st)
    {
        lock (_lock)
        {
            var key = (st.Dev, st.Ino);
            if (_byInode.TryGetValue(key, out var node) && node.FileType == (st.Mode & 0xF000u))
            {
                node.Lookups++;
                if (node != Root && !name.IsEmpty && !Names(node, parent, name))
                {
                    // Another name of the same inode (a hard link, or a rename we did not see): build paths
                    // from the newest, keep the older one in case the newest goes first.
                    if (node.Name is not null && !node.IsDirectory) (node.OtherLinks ??= []).Add((node.Parent!, node.Name));
                    node.Parent = parent;
                    node.Name = name.ToArray();
                }
                return node;
            }
            // New inode, or the inode number was reused for a file of another type.
            var fresh = new Node(_idTag | (ulong)Interlocked.Increment(ref _nextId), st.Dev, st.Ino, st.Mode, parent,
                name.IsEmpty ? null : name.ToArray()) { Lookups = 1 };
            _byInode[key] = fresh;
            _byId[fresh.Id] = fresh;
            return fresh;
        }
    }

    public void Forget(ulong id, ulong count)
    {
        if (id == Root.Id) return;
        lock (_lock)
        {
            if (!_byId.TryGetValue(id, out var node)) return;
            node.Lookups -= (long)count;
            if (node.Lookups > 0) return;
            _byId.TryRemove(id, out _);
            if (_byInode.TryGetValue((node.Dev, node.Ino), out var current) && current == node)
                _byInode.Remove((node.Dev, node.Ino));
            node.Parent = null; // let the parent chain be collected
        }
    }

    private static bool Names(Node node, Node parent, ReadOnlySpan<byte> name)
    {
        if (node.Parent == parent && node.Name is not null && name.SequenceEqual(node.Name)) return true;
        if (node.OtherLinks is { } links)
            foreach (var (p, n) in links) if (p == parent && name.SequenceEqual(n)) return true;
        return false;
    }

    /// <summary>Removes <paramref name="name"/> in <paramref name="parent"/> from the names of <paramref name="node"/>;
    /// when it was the one paths are built from, another known link takes its place.</summary>
    private static void RemoveName(Node node, Node parent, ReadOnlySpan<byte> name)
    {
        if (node.OtherLinks is { } links)
            for (int i = links.Count - 1; i >= 0; i--)
                if (links[i].Parent == parent && name.SequenceEqual(links[i].Name)) links.RemoveAt(i);
        if (node.Parent == parent && node.Name is not null && name.SequenceEqual(node.Name))
        {
            node.Name = null;
            if (node.OtherLinks is { Count: > 0 } rest)
            {
                (node.Parent, node.Name) = rest[^1];
                rest.RemoveAt(rest.Count - 1);
            }
        }
    }

    /// <summary>Records that <paramref name="name"/> in <paramref name="parent"/> no longer names <paramref name="node"/>.</summary>
    public void Detach(Node node, Node parent, ReadOnlySpan<byte> name)
    {
        lock (_lock) RemoveName(node, parent, name);
    }

    /// <summary>Before removing an inode's last link: its number may be reused for a new file as soon as
    /// the removal is done (even before we record it), and must then not lead to this node.</summary>
    public void Unmap(Node node)
    {
        lock (_lock)
            if (_byInode.TryGetValue((node.Dev, node.Ino), out var current) && current == node)
                _byInode.Remove((node.Dev, node.Ino));
    }

    /// <summary>Undoes <see cref="Unmap"/> when the removal failed.</summary>
    public void Remap(Node node)
    {
        lock (_lock)
            if (_byId.ContainsKey(node.Id)) _byInode.TryAdd((node.Dev, node.Ino), node);
    }

    public void Move(Node node, Node oldParent, ReadOnlySpan<byte> oldName, Node newParent, ReadOnlySpan<byte> newName)
    {
        lock (_lock)
        {
            RemoveName(node, oldParent, oldName);
            if (node.Name is not null && !node.IsDirectory) (node.OtherLinks ??= []).Add((node.Parent!, node.Name));
            node.Parent = newParent;
            node.Name = newName.ToArray();
        }
    }

    /// <summary>Whether <paramref name="name"/> in <paramref name="parent"/> still leads from the root: no directory on
    /// the way was forgotten by the kernel (a forgotten node loses its parent).</summary>
    private bool Intact(Node? parent, byte[]? name)
    {
        if (name is null) return false;
        for (var n = parent; n != Root; n = n.Parent)
            if (n is null || n.Name is null) return false;
        return true;
    }

    /// <summary>
    /// A file's newest name can lie in a directory the kernel has since forgotten (it dropped that name's dentry,
    /// then the directory's) while it keeps the file through another link: build paths from a known link that
    /// still leads here, and drop the dead one (the kernel looks it up again if it needs it). False if none does.
    /// Under the lock.
    /// </summary>
    private bool UseIntactLink(Node node)
    {
        if (node.OtherLinks is not { Count: > 0 } links) return false;
        for (int i = links.Count - 1; i >= 0; i--)
        {
            if (!Intact(links[i].Parent, links[i].Name)) continue;
            (node.Parent, node.Name) = links[i];
            links.RemoveAt(i);
            return true;
        }
        return false;
    }

    /// <summary>The names from the root down to <paramref name="node"/>, or null if it has no name any more.</summary>
    public List<byte[]>? Components(Node node)
    {
        lock (_lock)
        {
            if (!Intact(node.Parent, node.Name)) UseIntactLink(node);
            var names = new List<byte[]>();
            for (var n = node; n != Root; n = n.Parent)
            {
                if (n is null || n.Name is null) return null;
                names.Add(n.Name);
            }
            names.Reverse();
            return names;
        }
    }

    /// <summary>Writes the NUL-terminated path of <paramref name="node"/> relative to the source root
    /// (the root itself is "."), optionally followed by "/child". Returns the length without the NUL,
    /// -ENOENT when the node has no name any more, -ENAMETOOLONG when it does not fit.</summary>
    public int BuildPath(Node node, ReadOnlySpan<byte> child, Span<byte> buffer)
    {
        lock (_lock)
        {
            int length = 0;
            for (var n = node; n != Root; n = n.Parent)
            {
                if (n is null || n.Name is null)
                {
                    if (!UseIntactLink(node)) return -2;
                    return BuildPath(node, child, buffer); // (re-entrant lock) with the link that still leads here
                }
                length += n.Name.Length + 1;
            }
            if (!child.IsEmpty) length += child.Length + 1;
            if (length == 0) { buffer[0] = (byte)'.'; buffer[1] = 0; return 1; }
            length -= 1; // no leading '/'
            if (length + 1 > buffer.Length) return -36;
            buffer[length] = 0;
            int end = length;
            if (!child.IsEmpty)
            {
                end -= child.Length;
                child.CopyTo(buffer[end..]);
                if (end > 0) buffer[--end] = (byte)'/';
            }
            for (var n = node; n != Root; n = n.Parent!)
            {
                end -= n.Name!.Length;
                n.Name.CopyTo(buffer[end..]);
                if (end > 0) buffer[--end] = (byte)'/';
            }
            return length;
        }
    }
}
