using Microsoft.Win32.SafeHandles;
using Lighthouse.Store.Native;
using Lighthouse.Store.Queries;

namespace Lighthouse.Store;

// As-of queries: each is a handful of index seeks, independent of the length of the log.
public sealed partial class ProjectStore
{
    /// <summary>The event number a point stands for (latest, @N, a UTC time, a snapshot name).</summary>
    public long Resolve(StorePoint point)
    {
        using var s = Read();
        return s.ResolvePoint(point);
    }

    /// <summary>The entry <paramref name="name"/> in directory <paramref name="dir"/> as of a point, or null.</summary>
    public DirEntry? Lookup(string dir, string name, StorePoint point)
    {
        dir = StorePath.Normalize(dir);
        StorePath.ValidateName(name, StorePath.Combine(dir, name));
        using var s = Read();
        var seq = s.ResolvePoint(point);
        var d = s.Resolve(dir, seq);
        if (d is null || d.Kind != FileKind.Directory) return null;
        return s.LookupEntry(d.FileId, name, seq);
    }

    /// <summary>The entry at a path as of a point, or null.</summary>
    public DirEntry? LookupPath(string path, StorePoint point)
    {
        path = StorePath.Normalize(path);
        using var s = Read();
        return s.Resolve(path, s.ResolvePoint(point));
    }

    /// <summary>The entries of a directory as of a point, sorted by name.</summary>
    public IReadOnlyList<DirEntry> List(string dir, StorePoint point)
    {
        dir = StorePath.Normalize(dir);
        using var s = Read();
        var seq = s.ResolvePoint(point);
        var d = s.Resolve(dir, seq) ?? throw new StorePathNotFoundException(dir, point.ToString());
        if (d.Kind != FileKind.Directory) throw new StoreException($"'{dir}' is not a directory as of {point}");
        return s.List(d.FileId, seq);
    }

    /// <summary>The version (attributes, content state) of the node at a path as of a point.</summary>
    public NodeVersion Attributes(string path, StorePoint point)
    {
        path = StorePath.Normalize(path);
        using var s = Read();
        var seq = s.ResolvePoint(point);
        var e = s.Resolve(path, seq) ?? throw new StorePathNotFoundException(path, point.ToString());
        return s.VersionAt(e.FileId, seq) ?? throw new StoreException($"the index has no version of '{path}' (file #{e.FileId}) as of @{seq}; rebuild the index");
    }

    /// <summary>The version of a file (by stable id) as of a point, or null if it did not exist then.</summary>
    public NodeVersion? AttributesOf(long fileId, StorePoint point)
    {
        using var s = Read();
        return s.VersionAt(fileId, s.ResolvePoint(point));
    }

    /// <summary>How many links a node had as of a point (see <see cref="IProjectStore.LinkCount"/>).</summary>
    public long LinkCount(long fileId, StorePoint point)
    {
        using var s = Read();
        var seq = s.ResolvePoint(point);
        return s.VersionAt(fileId, seq) is { } v ? s.LinkCount(fileId, v.Kind, seq) : 0;
    }

    /// <summary>A directory's modification time as of a point (see <see cref="IProjectStore.DirectoryMtime"/>).</summary>
    public long? DirectoryMtime(long fileId, StorePoint point)
    {
        using var s = Read();
        return s.DirectoryMtime(fileId, s.ResolvePoint(point));
    }

    /// <summary>Where the bytes of a path as of a point can be read, or why they cannot.</summary>
    public FileContent Content(string path, StorePoint point)
    {
        path = StorePath.Normalize(path);
        using var s = Read();
        var seq = s.ResolvePoint(point);
        var e = s.Resolve(path, seq) ?? throw new StorePathNotFoundException(path, point.ToString());
        var v = s.VersionAt(e.FileId, seq) ?? throw new StorePathNotFoundException(path, point.ToString());
        switch (v.ContentState)
        {
            case ContentState.Captured:
                return Stored(s, path, v, v);
            case ContentState.NotCaptured when !v.IsCurrent && ContentEquivalentSuccessor(s, v) is { } later:
            {
                // Only metadata changed after this version: a later version with the same bytes has them.
                if (later.ContentState == ContentState.Captured) return Stored(s, path, v, later);
                var livePath = CurrentPathOf(s, e.FileId);
                var live = livePath is null ? null : LiveStat(livePath);
                if (live is not null && SameBytes(live, v.Attributes))
                    return new FileContent(path, v, v.ContentState, null, AbsolutePath(livePath!), null);
                return new FileContent(path, v, v.ContentState, null, null,
                    "the file changed outside Lighthouse after this version was recorded by metadata only; run a reconciliation");
            }
            case ContentState.NotCaptured when v.IsCurrent:
            {
                // Never modified through Lighthouse: the live file still holds these bytes, if it is unchanged.
                var livePath = CurrentPathOf(s, e.FileId);
                var live = livePath is null ? null : LiveStat(livePath);
                var a = v.Attributes;
                if (live is not null && live.Inode == a.Inode && live.Size == a.Size && live.MtimeNs == a.MtimeNs)
                    return new FileContent(path, v, v.ContentState, null, AbsolutePath(livePath!), null);
                return new FileContent(path, v, v.ContentState, null, null,
                    "the file changed outside Lighthouse after this version was recorded by metadata only; run a reconciliation");
            }
            case ContentState.NotCaptured:
                return new FileContent(path, v, v.ContentState, null, null,
                    $"version @{v.VersionSeq} was recorded by metadata only (baseline or external change) and replaced before its bytes were captured");
            case ContentState.Pruned:
                return new FileContent(path, v, v.ContentState, null, null,
                    $"the retention policy no longer keeps the bytes of version @{v.VersionSeq} (its event, and the hash of its bytes, {v.ContentHash?[..12]}…, remain in the log)");
            case ContentState.TooLarge:
                return new FileContent(path, v, v.ContentState, null, null,
                    $"the file ({v.Size} bytes) is larger than the capture limit ({Options.MaxCaptureBytes} bytes): its history keeps metadata only");
            default:
                return new FileContent(path, v, v.ContentState, null, null, $"'{path}' is a {v.Kind.ToString().ToLowerInvariant()}, which has no content");
        }
    }

    /// <summary>Where the stored bytes of <paramref name="holder"/> (the version itself, or a later one with the same bytes) are:
    /// chunks in the database (captured since schema 4) or a whole object file (before, and reflink clones).</summary>
    private FileContent Stored(Queries.ReadSession s, string path, NodeVersion v, NodeVersion holder)
    {
        var hash = holder.ContentHash!;
        if (Lighthouse.Store.Objects.ChunkStore.HasBlob(s, hash)) return new FileContent(path, v, v.ContentState, null, null, null) { ChunkedHash = hash };
        var objectPath = Objects.PathOf(hash);
        if (!File.Exists(objectPath))
            throw new ObjectMissingException(hash, objectPath, $"'{path}' version @{holder.VersionSeq}");
        return new FileContent(path, v, v.ContentState, objectPath, null, null);
    }

    /// <summary>The current version of the file at <paramref name="path"/>, if its bytes are stored as chunks: what a new
    /// version's chunks are stored against (null otherwise, or if it cannot be read: the capture then stores them whole).</summary>
    internal Lighthouse.Store.Objects.ChunkedContent? PreviousChunks(string path)
    {
        try
        {
            // Asked once per capture that has a new chunk (every new file): prepared statements, no read transaction (a
            // hint: any stored version will do as the base, and a base is pinned before it is used).
            using var r = _db.Prepared.Rent();
            long file = StoreConstants.RootFileId;
            foreach (var name in path.Split('/'))
            {
                var next = r.First<long?>("SELECT file_id, to_seq FROM entries WHERE parent_id=?1 AND name=?2 ORDER BY from_seq DESC LIMIT 1",
                    st => st.Bind(1, file).Bind(2, name), st => st.Int64(1) == StoreConstants.Open ? st.Int64(0) : null);
                if (next is null) return null;
                file = next.Value;
            }
            var hash = r.First("SELECT content_hash FROM versions WHERE file_id=?1 ORDER BY from_seq DESC LIMIT 1",
                st => st.Bind(1, file), st => st.Text(0));
            return hash is null || hash == EmptyHash ? null : Chunks.Open(r, hash, $"'{path}' (its version before this one)");
        }
        catch (Exception e) when (e is StoreException or Microsoft.Data.Sqlite.SqliteException)
        {
            return null;
        }
    }

    /// <summary>Opens the stored bytes of a <see cref="FileContent"/> for positional reads: a whole object or chunks.
    /// Null when they are not in the store (live file, or not kept).</summary>
    public Lighthouse.Store.Objects.ChunkedContent? OpenChunked(FileContent content) =>
        content.ChunkedHash is { } hash ? Chunks.Open(hash, $"'{content.Path}' version @{content.Version.VersionSeq}") : null;

    /// <summary>lstat of a node of the project directory, descriptor-relative where the store has the project's descriptor
    /// (at any depth), else by absolute path.</summary>
    private NodeAttributes? LiveStat(string rel) => _root is not null ? ProjectTree.Lstat(RootFd, rel) : FileStat.Lstat(AbsolutePath(rel));

    /// <summary>Opens the live file that holds a version's bytes (<see cref="FileContent.LivePath"/>), descriptor-relative
    /// where the store has the project's descriptor (paths longer than PATH_MAX).</summary>
    public SafeFileHandle OpenLive(FileContent content)
    {
        if (content.LivePath is null) throw new ContentUnavailableException(content.Path, $"@{content.Version.VersionSeq}", content.Unavailable ?? "its bytes are not in the live file");
        if (_root is null) return File.OpenHandle(content.LivePath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        return ProjectTree.OpenToRead(RootFd, StorePath.Normalize(Path.GetRelativePath(ProjectDir, content.LivePath)))
            ?? throw new ContentUnavailableException(content.Path, $"@{content.Version.VersionSeq}", "the file is gone from the project directory");
    }

    private byte[]? ReadLiveLink(string absolutePath) => _root is not null
        ? ProjectTree.ReadLink(RootFd, StorePath.Normalize(Path.GetRelativePath(ProjectDir, absolutePath)))
        : new FileInfo(absolutePath).LinkTarget is { } target ? System.Text.Encoding.UTF8.GetBytes(target) : null; // read-only: no project descriptor

    /// <summary>Opens the bytes of a path as of a point, or throws <see cref="ContentUnavailableException"/> saying why not.</summary>
    public Stream OpenContent(string path, StorePoint point)
    {
        var c = Content(path, point);
        return OpenStored(c, point.ToString());
    }

    /// <summary>Opens the bytes a <see cref="Content"/> answer names (stored chunks, a whole object, or the live file), or
    /// throws <see cref="ContentUnavailableException"/> saying why not; <paramref name="point"/> names the point in messages.</summary>
    public Stream OpenStored(FileContent c, string point)
    {
        if (OpenChunked(c) is { } chunked) return chunked.AsStream();
        if (c.ObjectPath is not null) return Objects.OpenRead(c.Version.ContentHash!, $"'{c.Path}' version @{c.Version.VersionSeq}");
        // A symlink's bytes are its target: read the link, never open what it points to.
        if (c.LivePath is not null && c.Version.Kind == FileKind.Symlink)
            return new MemoryStream(ReadLiveLink(c.LivePath)
                ?? throw new ContentUnavailableException(c.Path, point.ToString(), "the symlink is gone from the project directory and its target was not recorded"));
        if (c.LivePath is not null) return new FileStream(OpenLive(c), FileAccess.Read);
        throw new ContentUnavailableException(c.Path, point, c.Unavailable ?? "unknown reason");
    }

    /// <summary>The bytes of a path as of a point, read whole (see <see cref="OpenContent"/>).</summary>
    public byte[] ReadAllBytes(string path, StorePoint point)
    {
        using var stream = OpenContent(path, point);
        using var ms = new MemoryStream();
        stream.CopyTo(ms);
        return ms.ToArray();
    }

    private static bool SameBytes(NodeAttributes a, NodeAttributes b) => a.Inode == b.Inode && a.Size == b.Size && a.MtimeNs == b.MtimeNs;

    /// <summary>The last version in the run of versions after <paramref name="v"/> whose bytes are the same (same inode, size, mtime).</summary>
    private static NodeVersion? ContentEquivalentSuccessor(ReadSession s, NodeVersion v)
    {
        NodeVersion? found = null;
        var current = v;
        while (!current.IsCurrent)
        {
            var next = s.VersionAt(v.FileId, current.ToSeq);
            if (next is null || !SameBytes(next.Attributes, v.Attributes)) break;
            found = next;
            if (next.ContentState != ContentState.NotCaptured) break;
            current = next;
        }
        return found is { ContentState: ContentState.Captured } || found is { ContentState: ContentState.NotCaptured, IsCurrent: true } ? found : null;
    }

    private static string? CurrentPathOf(ReadSession s, long fileId)
    {
        var names = new List<string>();
        var id = fileId;
        while (id != StoreConstants.RootFileId)
        {
            using var cmd = s.Command("SELECT parent_id, name FROM entries WHERE file_id=$a AND to_seq=$b LIMIT 1", id, StoreConstants.Open);
            using var r = cmd.ExecuteReader();
            if (!r.Read()) return null;
            names.Add(r.GetString(1));
            id = r.GetInt64(0);
        }
        names.Reverse();
        return string.Join('/', names);
    }

    // ---------------------------------------------------------------- log queries

    /// <summary>Events newest first, filtered and paged (continue with <see cref="LogPage.NextBefore"/>).</summary>
    public LogPage Log(LogQuery query)
    {
        using var s = Read();
        return LogQueries.Log(s, query);
    }

    /// <summary>Events after <paramref name="afterSeq"/>, oldest first, at most <paramref name="limit"/>.</summary>
    public IReadOnlyList<StoreEvent> EventsAfter(long afterSeq, int limit = 1000)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(limit, 10_000);
        using var s = Read();
        return s.Events("WHERE seq > $a ORDER BY seq LIMIT $b", afterSeq, limit).ToList();
    }

    /// <summary>Every version of the file at <paramref name="path"/> (as of <paramref name="point"/>), across renames, oldest first.</summary>
    public IReadOnlyList<FileVersion> Versions(string path, StorePoint? point = null)
    {
        path = StorePath.Normalize(path);
        using var s = Read();
        var seq = s.ResolvePoint(point ?? StorePoint.Latest);
        var e = s.Resolve(path, seq) ?? throw new StorePathNotFoundException(path, (point ?? StorePoint.Latest).ToString());
        return LogQueries.Versions(s, e.FileId);
    }

    public IReadOnlyList<FileVersion> Versions(long fileId)
    {
        using var s = Read();
        return LogQueries.Versions(s, fileId);
    }

    /// <summary>The versions of every file that held <paramref name="path"/> up to a point, newest first (see <see cref="IProjectStore.PathHistory"/>).</summary>
    public IReadOnlyList<FileVersion> PathHistory(string path, StorePoint? point = null)
    {
        path = StorePath.Normalize(path);
        using var s = Read();
        var history = LogQueries.PathHistory(s, path, s.ResolvePoint(point ?? StorePoint.Latest));
        return history.Count > 0 ? history : throw new StorePathNotFoundException(path, (point ?? StorePoint.Latest).ToString());
    }

    /// <summary>The paths whose node differs between two points, and how.</summary>
    public IReadOnlyList<ChangedPath> Changed(StorePoint from, StorePoint to)
    {
        using var s = Read();
        return LogQueries.Changed(s, s.ResolvePoint(from), s.ResolvePoint(to));
    }

    public IReadOnlyList<AgentRead> LastReads(string? agent = null, int limit = 1000)
    {
        using var s = Read();
        var list = new List<AgentRead>();
        using (var cmd = s.Command("SELECT agent, file_id, version_seq, time_ticks FROM reads WHERE $a IS NULL OR agent = $a ORDER BY time_ticks DESC LIMIT $b",
            agent, limit))
        using (var r = cmd.ExecuteReader())
            while (r.Read()) list.Add(new AgentRead(r.GetString(0), r.GetInt64(1), null, r.GetInt64(2), new DateTime(r.GetInt64(3), DateTimeKind.Utc)));
        return [.. list.Select(x => x with { Path = CurrentPathOf(s, x.FileId) })];
    }

    public IReadOnlyList<Snapshot> Snapshots()
    {
        using var s = Read();
        return LogQueries.Snapshots(s);
    }
}
