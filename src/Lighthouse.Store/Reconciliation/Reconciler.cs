using Lighthouse.Store.Events;
using Microsoft.Data.Sqlite;

namespace Lighthouse.Store.Reconciliation;

/// <summary>
/// Compares what is on disk with the current tree of the index and appends the differences as
/// events (inside the writer, so the comparison and the events are one consistent transaction).
/// Renames are recognised by inode; a path whose inode changed but whose old inode is gone
/// (an editor's "write new file, rename over") is a modification of the same file, not a new file.
/// </summary>
internal sealed class Reconciler
{
    private sealed class IdxNode(string path, long fileId, NodeAttributes attrs, long version, ContentState state, string? hash)
    {
        public string Path = path;
        public readonly long FileId = fileId;
        public NodeAttributes Attrs = attrs;
        public long Version = version;
        public ContentState State = state;
        public string? Hash = hash;
        public FileKind Kind => Attrs.Kind;
    }

    private readonly WriteContext _ctx;
    private readonly Actor _agent;
    private readonly EventOp _createOp;
    private readonly Func<string, NodeAttributes, (ContentState, string?)> _initialContent;
    private readonly Dictionary<string, IdxNode> _index = new(StringComparer.Ordinal);
    private readonly Dictionary<long, IdxNode> _byInode = new();
    // Every name of a file (hard links): a new version made through one name is the version of all of them.
    private readonly Dictionary<long, List<IdxNode>> _byFile = new();

    private void Track(IdxNode node)
    {
        if (!_byFile.TryGetValue(node.FileId, out var names)) _byFile[node.FileId] = names = [];
        names.Add(node);
    }

    private readonly Func<string, bool> _busy;
    private readonly Func<long, bool> _busyInode;
    // What the scan found: the scope directory itself and everything under it (for the directories' mtimes).
    private string _scope = "";
    private NodeAttributes? _scopeDir;
    private IReadOnlyDictionary<string, NodeAttributes> _disk = new Dictionary<string, NodeAttributes>();

    public Reconciler(WriteContext ctx, Actor agent, bool baseline, Func<string, NodeAttributes, (ContentState, string?)> initialContent, Func<string, bool>? busy = null,
        Func<long, bool>? busyInode = null)
    {
        _busy = busy ?? (_ => false);
        _busyInode = busyInode ?? (_ => false);
        _ctx = ctx;
        _agent = agent;
        _createOp = baseline ? EventOp.Baseline : EventOp.Create;
        _initialContent = initialContent;
    }

    /// <param name="scopeDir">The attributes of the directory <paramref name="scope"/> itself, as the scan found it.</param>
    public void Run(string scope, NodeAttributes? scopeDir, IReadOnlyDictionary<string, NodeAttributes> disk, IProgress<ReconcileProgress>? progress)
    {
        (_scope, _scopeDir, _disk) = (scope, scopeDir, disk);
        LoadIndex(scope);
        var diskPaths = disk.Keys.OrderBy(StorePath.Depth).ThenBy(p => p, StringComparer.Ordinal).ToList();
        var done = 0;
        // Paths the mount is changing right now (between its syscall and its Record* call) are left
        // for it to record; so is everything under a new directory that was left alone.
        var skipped = new HashSet<string>(StringComparer.Ordinal);
        foreach (var path in diskPaths)
        {
            if (++done % 4096 == 0) progress?.Report(new ReconcileProgress("compare", done, diskPaths.Count));
            if (_busy(path) || _busyInode(disk[path].Inode) || skipped.Contains(StorePath.Parent(path)))
            {
                skipped.Add(path);
                continue;
            }
            var d = disk[path];
            if (_index.TryGetValue(path, out var here) && here.Attrs.Inode == d.Inode && here.Kind == d.Kind)
            {
                UpdateIfChanged(here, d);
                continue;
            }
            if (_byInode.TryGetValue(d.Inode, out var moved) && moved.Kind == d.Kind && moved.Path != path
                && !StillThere(moved, disk) && !StorePath.IsSelfOrUnder(path, moved.Path) && !_busy(moved.Path)
                // A node cannot be renamed over a directory that contains it (that directory's removal takes it along).
                && !(_index.TryGetValue(path, out var container) && container.Kind == FileKind.Directory && StorePath.IsSelfOrUnder(moved.Path, path)))
            {
                long? replaced = null;
                if (_index.TryGetValue(path, out var occupant))
                {
                    if (occupant.Kind == FileKind.Directory) RemoveSubtree(occupant.Path);
                    else { replaced = occupant.FileId; Forget(occupant); }
                }
                _ctx.Append(new EventDraft(_agent, EventOp.Rename, moved.Path, path, FileId: moved.FileId, OtherFileId: replaced,
                    DirMtimeNs: DirMtime(moved.Path), Dir2MtimeNs: StorePath.Parent(moved.Path) == StorePath.Parent(path) ? null : DirMtime(path)));
                MoveSubtree(moved.Path, path);
                UpdateIfChanged(moved, d);
                continue;
            }
            if (_index.TryGetValue(path, out var other))
            {
                if (other.Kind == d.Kind && other.Kind != FileKind.Directory)
                {
                    // Same path, new inode, old inode not seen elsewhere: the file was rewritten in place.
                    _byInode.Remove(other.Attrs.Inode);
                    UpdateIfChanged(other, d);
                    _byInode[d.Inode] = other;
                    continue;
                }
                RemoveSubtree(other.Path);
            }
            var (state, hash) = _initialContent(path, d);
            var op = d.Kind switch
            {
                FileKind.Directory when _createOp == EventOp.Create => EventOp.Mkdir,
                FileKind.Symlink when _createOp == EventOp.Create => EventOp.Symlink,
                _ => _createOp,
            };
            var e = _ctx.Append(new EventDraft(_agent, op, path, NewVersion: true, Attributes: d, ContentState: state, ContentHash: hash,
                DirMtimeNs: DirMtime(path)));
            var node = new IdxNode(path, e.FileId, d, e.Seq, state, hash);
            _index[path] = node;
            Track(node);
            _byInode[d.Inode] = node;
        }

        // What the index still has but the disk does not: deepest first, so directories are empty when removed.
        var kept = new HashSet<string>(StringComparer.Ordinal);
        foreach (var path in _index.Keys.Where(p => !disk.ContainsKey(p)).OrderByDescending(StorePath.Depth).ThenBy(p => p, StringComparer.Ordinal).ToList())
        {
            if (!_index.TryGetValue(path, out var gone)) continue;
            if (_busy(path) || _busyInode(gone.Attrs.Inode) || kept.Contains(path))
            {
                // Keep its directories too, so no live entry is left under a removed one.
                for (var up = StorePath.Parent(path); up.Length > 0; up = StorePath.Parent(up)) kept.Add(up);
                continue;
            }
            Remove(gone);
        }
    }

    private static bool StillThere(IdxNode node, IReadOnlyDictionary<string, NodeAttributes> disk) =>
        disk.TryGetValue(node.Path, out var d) && d.Inode == node.Attrs.Inode && d.Kind == node.Kind;

    private void UpdateIfChanged(IdxNode node, NodeAttributes d)
    {
        var old = node.Attrs;
        var directory = node.Kind == FileKind.Directory;
        if (directory)
        {
            // A directory's size and mtime change with every entry (the events changing its entries carry its mtime): only its
            // mode and owner make a new version, which keeps the mtime it has now.
            if (old == d with { Size = old.Size, MtimeNs = old.MtimeNs }) return;
            d = d with { Size = old.Size };
        }
        var contentChanged = !directory && (old.Size != d.Size || old.MtimeNs != d.MtimeNs || old.Inode != d.Inode);
        if (!contentChanged && old == d) return;
        var (state, hash) = contentChanged ? _initialContent(node.Path, d) : (node.State, node.Hash);
        var e = _ctx.Append(new EventDraft(_agent, contentChanged ? EventOp.Write : EventOp.SetAttributes, node.Path,
            FileId: node.FileId, BeforeVersion: node.Version, NewVersion: true, Attributes: d, ContentState: state, ContentHash: hash));
        // All names of the file see the new version (the next one changed through another name starts from it,
        // and one found unchanged makes none: a hard-linked file changed beside the mount made two writes, the
        // second closing a version the first had closed, and the whole reconciliation failed).
        foreach (var name in _byFile.TryGetValue(node.FileId, out var names) ? names : [node])
        {
            name.Attrs = d;
            name.Version = e.Seq;
            name.State = state;
            name.Hash = hash;
        }
    }

    private void RemoveSubtree(string root)
    {
        foreach (var path in _index.Keys.Where(p => StorePath.IsSelfOrUnder(p, root)).OrderByDescending(StorePath.Depth).ToList())
            Remove(_index[path]);
    }

    private void Remove(IdxNode n)
    {
        _ctx.Append(new EventDraft(_agent, n.Kind == FileKind.Directory ? EventOp.Rmdir : EventOp.Unlink, n.Path, FileId: n.FileId,
            BeforeVersion: n.Version, DirMtimeNs: DirMtime(n.Path)));
        Forget(n);
    }

    /// <summary>The modification time the scan found for the directory holding <paramref name="path"/>: what an event
    /// changing its entries carries (null when that directory is gone from the disk).</summary>
    private long? DirMtime(string path)
    {
        var dir = StorePath.Parent(path);
        if (dir == _scope) return _scopeDir?.MtimeNs;
        return _disk.TryGetValue(dir, out var d) && d.Kind == FileKind.Directory ? d.MtimeNs : null;
    }

    private void Forget(IdxNode n)
    {
        _index.Remove(n.Path);
        if (_byInode.TryGetValue(n.Attrs.Inode, out var same) && same == n) _byInode.Remove(n.Attrs.Inode);
    }

    private void MoveSubtree(string from, string to)
    {
        foreach (var path in _index.Keys.Where(p => StorePath.IsSelfOrUnder(p, from)).ToList())
        {
            var n = _index[path];
            _index.Remove(path);
            n.Path = to + path[from.Length..];
            _index[n.Path] = n;
        }
    }

    /// <summary>The current (live) tree under <paramref name="scope"/>, from one scan of the live entries.</summary>
    private void LoadIndex(string scope)
    {
        var children = new Dictionary<long, List<(string Name, long FileId)>>();
        var nodes = new Dictionary<long, (NodeAttributes Attrs, long Version, ContentState State, string? Hash)>();
        using (var cmd = _ctx.Connection.CreateCommand())
        {
            cmd.CommandText = """
                SELECT e.parent_id, e.name, e.file_id, v.kind, v.size, v.mode, v.mtime_ns, v.inode, v.from_seq, v.content_state, v.content_hash,
                       v.uid, v.gid, v.rdev
                FROM entries e JOIN versions v ON v.file_id = e.file_id AND v.to_seq = $open
                WHERE e.to_seq = $open
                """;
            cmd.Parameters.Add(new SqliteParameter("$open", StoreConstants.Open));
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                var parent = r.GetInt64(0);
                if (!children.TryGetValue(parent, out var list)) children[parent] = list = [];
                var fileId = r.GetInt64(2);
                list.Add((r.GetString(1), fileId));
                nodes[fileId] = (Sqlite.Schema.ReadAttributes(r, 3, 11),
                    r.GetInt64(8), (ContentState)r.GetInt32(9), r.IsDBNull(10) ? null : r.GetString(10));
            }
        }
        var scopeId = _ctx.Index.ResolveDirCurrent(scope, throwIfMissing: false);
        if (scopeId is null) return;
        var stack = new Stack<(long Id, string Path)>();
        stack.Push((scopeId.Value, scope));
        while (stack.Count > 0)
        {
            var (id, path) = stack.Pop();
            if (!children.TryGetValue(id, out var list)) continue;
            foreach (var (name, fileId) in list)
            {
                var childPath = StorePath.Combine(path, name);
                var (attrs, version, state, hash) = nodes[fileId];
                var node = new IdxNode(childPath, fileId, attrs, version, state, hash);
                _index[childPath] = node;
                Track(node);
                _byInode.TryAdd(attrs.Inode, node);
                if (attrs.Kind == FileKind.Directory) stack.Push((fileId, childPath));
            }
        }
    }
}
