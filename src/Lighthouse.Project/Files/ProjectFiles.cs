using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Lighthouse.Interop;
using Lighthouse.Project.Agents;
using Lighthouse.Project.Policy;
using Lighthouse.Project.Recording;
using Lighthouse.Project.Restore;
using Lighthouse.Store;
using Microsoft.Win32.SafeHandles;

namespace Lighthouse.Project.Files;

/// <summary>
/// What an agent does to a project without FUSE (the HTTP API, the MCP server): read, write, delete and list files
/// (now or as of a point), search, history, the log, diffs, snapshots and restores — recorded and checked exactly as
/// the mount's <c>current/</c> does: the same <see cref="ChangeRecorder"/> calls in the same order (so a write here is
/// the same events, by the caller's agent, and history/ reproduces it), the same policy decisions (a refusal is a
/// <c>deny</c> event). Runs in the process that holds the <see cref="ProjectHost"/>, so a running mount hears of each
/// change (<see cref="ProjectHost.ChangedByService"/>) and drops what the kernel cached of those paths.
/// <para>
/// Paths resolve beneath the project directory's descriptor with openat2 (RESOLVE_BENEATH, no magic links): a symbolic
/// link can never lead a request out of the project or into <c>.lighthouse/</c>. Changes resolve with no symbolic link
/// at all (RESOLVE_NO_SYMLINKS, O_NOFOLLOW), so the path recorded is the path changed.
/// </para>
/// <para>
/// POSIX: callers act as the project directory's owner. Files and directories made here are given the owner's uid and
/// gid (fchown right after creation when the server runs as root), and permission bits are not checked beyond what the
/// server process itself may do: the access policy is what decides who may do what.
/// </para>
/// </summary>
public sealed class ProjectFiles : IDisposable
{
    /// <summary>Bytes of a file a search reads at most (larger ones are skipped).</summary>
    public const long SearchMaxFileBytes = 8 << 20;
    private const int SearchMaxFiles = 20_000, SearchMaxLineChars = 400;
    private static readonly TimeSpan SearchRegexTimeout = TimeSpan.FromSeconds(2);

    private readonly ProjectHost _host;
    private readonly SafeFileHandle _root;
    private readonly uint _ownerUid, _ownerGid;
    private readonly bool _asRoot;
    // Changes through the service are made one at a time: a compare-and-swap (If-Match) holds from the check to the record.
    private readonly Lock _changes = new();
    // Files created here with bytes whose create record may not have read them yet (see SaveBeforeChange).

    internal ProjectFiles(ProjectHost host)
    {
        _host = host;
        int fd = Libc.Open(host.ProjectDir, Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0);
        if (fd < 0) throw new IOException($"cannot open the project directory {host.ProjectDir}: {Libc.ErrorText(Libc.Errno)}");
        _root = new SafeFileHandle(fd, ownsHandle: true);
        var st = StatAt(fd, "", Libc.AT_EMPTY_PATH) ?? throw new IOException($"cannot stat {host.ProjectDir}");
        (_ownerUid, _ownerGid) = (st.Uid, st.Gid);
        _asRoot = Libc.GetEuid() == 0;
    }

    public ProjectHost Host => _host;
    private IProjectStore Store => _host.Store;
    private ChangeRecorder Recorder => _host.Recorder;
    private int RootFd => (int)_root.DangerousGetHandle();

    // ================================================================== reading

    /// <summary>
    /// Opens a file for reading: the live file (<paramref name="at"/> null), or its version as of a point ("@N", a UTC
    /// time, a snapshot name). The hash is that version's content hash (SHA-256), the one its events carry.
    /// </summary>
    public FileRead Read(FileCaller caller, string path, string? at = null)
    {
        path = ProjectPaths.Parse(path);
        if (at is not null) return ReadAt(caller, path, at);
        using var opened = OpenBeneath(path, Libc.O_RDONLY | Libc.O_NOCTTY | Libc.O_NONBLOCK, out var realPath);
        var st = Fstat(opened);
        bool dir = (st.Mode & Libc.S_IFMT) == Libc.S_IFDIR;
        Authorize(caller, PolicyOperation.Read, path, dir);
        if (realPath != path) Authorize(caller, PolicyOperation.Read, realPath, dir);
        if (dir) throw new FileServiceException(FileProblem.Conflict, $"'{path}' is a directory; list it with the tree route");
        if ((st.Mode & Libc.S_IFMT) != Libc.S_IFREG) throw new FileServiceException(FileProblem.Conflict, $"'{path}' is not a regular file");
        var handle = opened.Take();
        try
        {
            string hash = CurrentHash(handle, realPath, st);
            _host.Reads.Read(caller.Agent, realPath);
            return new FileRead(path, FileKind.File, (long)st.Size, st.Mode & 0xFFF, MtimeNs(st), hash, null,
                new FileStream(handle, FileAccess.Read, bufferSize: 0));
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    private FileRead ReadAt(FileCaller caller, string path, string at)
    {
        long seq = ResolvePoint(at);
        var version = _host.History.Attributes(seq, path);
        if (version is null || !MayRead(caller, path, version.Kind == FileKind.Directory))
            throw new FileServiceException(FileProblem.NotFound, $"'{path}' did not exist as of @{seq}");
        Authorize(caller, PolicyOperation.Read, path, version.Kind == FileKind.Directory);
        if (version.Kind == FileKind.Directory) throw new FileServiceException(FileProblem.Conflict, $"'{path}' was a directory as of @{seq}; list it with the tree route");
        if (version.Kind is not (FileKind.File or FileKind.Symlink)) throw new FileServiceException(FileProblem.Conflict, $"'{path}' was a {version.Kind.ToString().ToLowerInvariant()} as of @{seq}, which has no content");
        var content = _host.History.Content(seq, path) ?? throw new FileServiceException(FileProblem.NotFound, $"'{path}' did not exist as of @{seq}");
        if (!content.IsAvailable || version.ContentHash is null)
            throw new FileServiceException(FileProblem.Unavailable, $"the content of '{path}' as of @{seq} was not kept: {content.Unavailable ?? "recorded by metadata only"}");
        Stream stream;
        try { stream = Lighthouse.Project.History.ProjectHistory.Open(Store, content, "@" + seq); }
        catch (StoreException e) { throw new FileServiceException(FileProblem.Unavailable, e.Message); }
        return new FileRead(path, version.Kind, version.Size, version.Attributes.Mode, version.Attributes.MtimeNs, version.ContentHash, seq, stream);
    }

    /// <summary>The entries of a directory the caller may see: now, or as of a point.</summary>
    public TreeListing List(FileCaller caller, string path, string? at = null)
    {
        path = ProjectPaths.Parse(path);
        if (at is not null)
        {
            long seq = ResolvePoint(at);
            var version = _host.History.Attributes(seq, path);
            if (version is null || !MayRead(caller, path, true)) throw new FileServiceException(FileProblem.NotFound, $"'{Show(path)}' did not exist as of @{seq}");
            if (version.Kind != FileKind.Directory) throw new FileServiceException(FileProblem.Conflict, $"'{Show(path)}' was not a directory as of @{seq}");
            Authorize(caller, PolicyOperation.List, path, true);
            var entries = new List<TreeEntry>();
            foreach (var e in _host.History.List(seq, path) ?? [])
            {
                var child = StorePath.Combine(path, e.Name);
                if (Hidden(caller, child, e.Kind == FileKind.Directory)) continue;
                var a = _host.History.Attributes(seq, child);
                entries.Add(new TreeEntry(e.Name, child, e.Kind, a?.Size ?? 0, a?.Attributes.Mode ?? 0, a?.Attributes.MtimeNs ?? 0));
            }
            return new TreeListing(path, seq, entries);
        }
        using var dir = OpenBeneath(path, Libc.O_RDONLY | Libc.O_DIRECTORY, out var realPath);
        Authorize(caller, PolicyOperation.List, path, true);
        if (realPath != path) Authorize(caller, PolicyOperation.List, realPath, true);
        var live = new List<TreeEntry>();
        foreach (var name in Names(dir.Fd))
        {
            if (realPath.Length == 0 && name == StoreConstants.StateDirName) continue;
            var st = StatAt(dir.Fd, name, Libc.AT_SYMLINK_NOFOLLOW);
            if (st is not { } s) continue; // gone meanwhile
            var kind = KindOf(s.Mode);
            var child = StorePath.Combine(path, name);
            if (Hidden(caller, StorePath.Combine(realPath, name), kind == FileKind.Directory)) continue;
            live.Add(new TreeEntry(name, child, kind, kind == FileKind.Directory ? 0 : (long)s.Size, s.Mode & 0xFFF, MtimeNs(s),
                kind == FileKind.Symlink ? ReadLinkAt(dir.Fd, name) : null));
        }
        live.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        return new TreeListing(path, null, live);
    }

    /// <summary>
    /// Lines of the live files under <paramref name="path"/> that match <paramref name="pattern"/> (a regular expression,
    /// or a plain string with <paramref name="literal"/>), like grep -rn: files the caller may read, text only (a file with
    /// a NUL in its first 8 KiB is skipped), at most <see cref="SearchMaxFileBytes"/> each, symbolic links not followed.
    /// Stops after <paramref name="maxMatches"/> matches or 20,000 files.
    /// </summary>
    public SearchResult Search(FileCaller caller, string pattern, string? path = null, bool literal = false, bool ignoreCase = false, int maxMatches = 200)
    {
        if (string.IsNullOrEmpty(pattern)) throw new FileServiceException(FileProblem.BadRequest, "the search pattern is empty");
        if (maxMatches is < 1 or > 10_000) throw new FileServiceException(FileProblem.BadRequest, "the number of matches must be between 1 and 10000");
        Regex regex;
        try
        {
            var options = RegexOptions.CultureInvariant | (ignoreCase ? RegexOptions.IgnoreCase : 0);
            regex = new Regex(literal ? Regex.Escape(pattern) : pattern, options, SearchRegexTimeout);
        }
        catch (ArgumentException e) { throw new FileServiceException(FileProblem.BadRequest, $"invalid regular expression: {e.Message}"); }
        var start = ProjectPaths.Parse(path);
        using var dir = OpenBeneath(start, Libc.O_RDONLY | Libc.O_DIRECTORY, out var realStart);
        Authorize(caller, PolicyOperation.List, start, true);
        var matches = new List<SearchMatch>();
        int files = 0;
        bool truncated = false;
        var pending = new Stack<(SafeFileHandle Dir, string Path, string Real)>();
        pending.Push((dir.Take(), start, realStart));
        try
        {
            while (pending.TryPop(out var current))
            {
                using var handle = current.Dir;
                int fd = (int)handle.DangerousGetHandle();
                var names = Names(fd);
                names.Sort(StringComparer.Ordinal);
                foreach (var name in names)
                {
                    if (truncated) break;
                    if (current.Real.Length == 0 && name == StoreConstants.StateDirName) continue;
                    var st = StatAt(fd, name, Libc.AT_SYMLINK_NOFOLLOW);
                    if (st is not { } s) continue;
                    var child = StorePath.Combine(current.Path, name);
                    var real = StorePath.Combine(current.Real, name);
                    var kind = KindOf(s.Mode);
                    if (kind == FileKind.Directory)
                    {
                        if (!MayRead(caller, real, true)) continue;
                        int sub = Libc.OpenAt(fd, name, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0);
                        if (sub >= 0) pending.Push((new SafeFileHandle(sub, true), child, real));
                        continue;
                    }
                    if (kind != FileKind.File || (long)s.Size > SearchMaxFileBytes || !MayRead(caller, real, false)) continue;
                    if (++files > SearchMaxFiles) { truncated = true; break; }
                    int f = Libc.OpenAt(fd, name, Libc.O_RDONLY | Libc.O_NOFOLLOW | Libc.O_NONBLOCK | Libc.O_CLOEXEC, 0);
                    if (f < 0) continue;
                    using var file = new SafeFileHandle(f, true);
                    truncated = SearchFile(file, child, regex, matches, maxMatches);
                }
            }
        }
        finally
        {
            while (pending.TryPop(out var left)) left.Dir.Dispose();
        }
        return new SearchResult(matches, Math.Min(files, SearchMaxFiles), truncated);
    }

    /// <summary>Adds the file's matching lines; true when the bound on matches was reached.</summary>
    private static bool SearchFile(SafeFileHandle file, string path, Regex regex, List<SearchMatch> matches, int maxMatches)
    {
        long length = RandomAccess.GetLength(file);
        if (length > SearchMaxFileBytes) return false;
        var bytes = new byte[length];
        int read = 0;
        while (read < bytes.Length)
        {
            int n = RandomAccess.Read(file, bytes.AsSpan(read), read);
            if (n <= 0) break;
            read += n;
        }
        var data = bytes.AsSpan(0, read);
        if (data[..Math.Min(data.Length, 8192)].Contains((byte)0)) return false; // binary
        var text = Encoding.UTF8.GetString(data);
        int line = 0;
        foreach (var l in text.AsSpan().EnumerateLines())
        {
            line++;
            bool hit;
            try { hit = regex.IsMatch(l); }
            catch (RegexMatchTimeoutException) { throw new FileServiceException(FileProblem.BadRequest, "the regular expression took too long; simplify it"); }
            if (!hit) continue;
            var shown = l.Length > SearchMaxLineChars ? l[..SearchMaxLineChars].ToString() + "..." : l.ToString();
            matches.Add(new SearchMatch(path, line, shown));
            if (matches.Count >= maxMatches) return true;
        }
        return false;
    }

    // ================================================================== history, log, diff

    /// <summary>The versions the name <paramref name="path"/> held (followed across atomic saves and renames, newest
    /// first), up to <paramref name="at"/> (default now); only versions under names the caller may read.</summary>
    public IReadOnlyList<FileVersion> History(FileCaller caller, string path, string? at = null)
    {
        path = ProjectPaths.Parse(path);
        var point = at is null ? StorePoint.Latest : StorePoint.AtEvent(ResolvePoint(at));
        if (at is null) Recorder.Flush(); // what was just written through us is in the answer
        Authorize(caller, PolicyOperation.Read, path, false);
        try
        {
            var versions = Store.PathHistory(path, point).Where(v => MayRead(caller, v.Path, v.Attributes.Kind == FileKind.Directory)).ToList();
            if (versions.Count == 0) throw new FileServiceException(FileProblem.NotFound, $"'{Show(path)}' has no recorded version");
            return versions;
        }
        catch (StorePathNotFoundException) { throw new FileServiceException(FileProblem.NotFound, $"'{Show(path)}' never existed in this project's history"); }
    }

    /// <summary>
    /// Events after <paramref name="afterSeq"/>, oldest first, that pass <paramref name="filter"/> and that the caller may
    /// see (the paths they name readable by its agent); at most <paramref name="limit"/>, looking at most 20,000 events per call.
    /// </summary>
    public EventPage Events(FileCaller caller, long afterSeq, Feed.FeedFilter? filter = null, int limit = 100)
    {
        if (limit is < 1 or > 1000) throw new FileServiceException(FileProblem.BadRequest, "limit must be between 1 and 1000");
        if (afterSeq < 0) throw new FileServiceException(FileProblem.BadRequest, "the cursor must not be negative");
        const int ScanBound = 20_000;
        Recorder.Flush(); // a caller reads its own writes: what it changed a moment ago is in the log it reads
        var events = new List<StoreEvent>();
        long next = afterSeq;
        int scanned = 0;
        while (events.Count < limit && scanned < ScanBound)
        {
            var page = Store.EventsAfter(next, 1000);
            if (page.Count == 0) break;
            foreach (var e in page)
            {
                next = e.Seq;
                scanned++;
                if ((filter is null || filter.Matches(e)) && MaySee(caller, e)) events.Add(e);
                if (events.Count == limit) break;
            }
        }
        return new EventPage(events, next, Store.LastSeq > next);
    }

    /// <summary>Whether the caller may see an event: every project path it names is one its agent may read.</summary>
    public bool MaySee(FileCaller caller, StoreEvent e)
    {
        if (e.Op is EventOp.Policy or EventOp.Agents) return MayRead(caller, "", true); // about the project, not a path in it
        return (e.Path.Length == 0 || MayReadEventPath(caller, e.Path, e.Attributes?.Kind))
               && (e.Path2 is null || MayReadEventPath(caller, e.Path2, e.Attributes?.Kind));
    }

    /// <summary>An event without attributes (a deny, an unlink) does not say whether its path is a directory: it must be
    /// readable as either (a rule on "secrets/" matches only the directory).</summary>
    private bool MayReadEventPath(FileCaller caller, string path, FileKind? kind) => kind switch
    {
        FileKind.Directory => MayRead(caller, path, true),
        null => MayRead(caller, path, true) && MayRead(caller, path, false),
        _ => MayRead(caller, path, false),
    };

    /// <summary>The paths that differ between two points (older first whatever the order given; <paramref name="to"/>
    /// default now), under <paramref name="path"/> if given, that the caller may read.</summary>
    public DiffResult Diff(FileCaller caller, string from, string? to = null, string? path = null)
    {
        var prefix = path is null ? null : ProjectPaths.Parse(path);
        long a = ResolvePoint(from);
        if (to is null) Recorder.Flush();
        long b = to is null ? Store.LastSeq : ResolvePoint(to);
        if (a > b) (a, b) = (b, a);
        var pa = StorePoint.AtEvent(a);
        var pb = StorePoint.AtEvent(b);
        var list = new List<DiffEntry>();
        foreach (var c in Store.Changed(pa, pb))
        {
            if (prefix is not null && !StorePath.IsSelfOrUnder(c.Path, prefix)) continue;
            var before = c.FileIdBefore is null ? null : _host.History.Attributes(a, c.Path);
            var after = c.FileIdAfter is null ? null : _host.History.Attributes(b, c.Path);
            if (!MayRead(caller, c.Path, (after ?? before)?.Kind == FileKind.Directory)) continue;
            list.Add(new DiffEntry(c.Path, c.Change, before?.Kind, after?.Kind, before?.ContentHash, after?.ContentHash));
        }
        return new DiffResult(a, b, list);
    }

    /// <summary>The event number a point names; Unavailable when it names none.</summary>
    public long ResolvePoint(string at)
    {
        if (string.Equals(at, "latest", StringComparison.OrdinalIgnoreCase) || string.Equals(at, "now", StringComparison.OrdinalIgnoreCase))
        {
            Recorder.Flush();
            return Store.LastSeq;
        }
        return _host.History.ResolvePoint(at)
               ?? throw new FileServiceException(FileProblem.Unavailable, $"'{at}' names no point of this project's history (give @N, a UTC time like 2026-11-25T10:30:00Z, or a snapshot name)");
    }

    // ================================================================== changing

    /// <summary>
    /// Writes <paramref name="content"/> as the whole content of the file at <paramref name="path"/>: creates it (and its
    /// missing directories) or replaces its bytes in place, recorded as the mount records `cat &gt; file`. A new file is
    /// made with O_TMPFILE and linked in once written, so nobody sees it half written and it is one <c>create</c> event
    /// with its bytes; an existing one is truncated and written in place (one <c>write</c> event; readers may see it
    /// part-written meanwhile, as with any in-place write).
    /// </summary>
    public WriteResult Write(FileCaller caller, string path, Stream content, WritePrecondition expect = default)
    {
        path = ProjectPaths.Parse(path);
        if (path.Length == 0) throw new FileServiceException(FileProblem.Conflict, "the project root is a directory");
        lock (_changes)
        {
            var created = new List<string>();
            using var parent = OpenParentForChange(caller, path, create: !expect.IsMatchOnly(), created);
            string name = StorePath.Name(path);
            var existing = StatAt(parent.Fd, name, Libc.AT_SYMLINK_NOFOLLOW);
            WriteResult result;
            if (existing is { } st)
            {
                if (expect.CreateOnly) throw new FileServiceException(FileProblem.PreconditionFailed, $"'{path}' exists (If-None-Match: *)");
                if ((st.Mode & Libc.S_IFMT) == Libc.S_IFLNK) throw new FileServiceException(FileProblem.Conflict, $"'{path}' is a symbolic link; write to the file it names instead");
                if ((st.Mode & Libc.S_IFMT) != Libc.S_IFREG) throw new FileServiceException(FileProblem.Conflict, $"'{path}' is not a regular file");
                result = Replace(caller, parent.Fd, path, content, expect);
            }
            else
            {
                if (expect.IfMatch is not null) throw new FileServiceException(FileProblem.PreconditionFailed, $"'{path}' does not exist (If-Match)");
                result = Create(caller, parent.Fd, path, content);
            }
            Changed([.. created, path]);
            return result with { DirectoriesCreated = created };
        }
    }

    private WriteResult Replace(FileCaller caller, int parentFd, string path, Stream content, WritePrecondition expect)
    {
        int fd = Libc.OpenAt(parentFd, StorePath.Name(path), Libc.O_RDWR | Libc.O_NOFOLLOW | Libc.O_NOCTTY | Libc.O_NONBLOCK | Libc.O_CLOEXEC, 0);
        if (fd < 0) throw Errno(Libc.Errno, path, "open");
        var handle = new SafeFileHandle(fd, ownsHandle: true);
        bool handed = false;
        try
        {
            var st = Fstat(fd);
            if ((st.Mode & Libc.S_IFMT) != Libc.S_IFREG) throw new FileServiceException(FileProblem.Conflict, $"'{path}' is not a regular file");
            Authorize(caller, PolicyOperation.Write, path, false);
            if (expect.IfMatch is { } wanted)
            {
                var now = CurrentHash(handle, path, st);
                if (!string.Equals(now, wanted, StringComparison.OrdinalIgnoreCase))
                    throw new FileServiceException(FileProblem.PreconditionFailed, $"'{path}' changed: its content hash is {now}, not {wanted}");
            }
            var key = new FileKey(st.Dev, st.Ino);
            // As the mount does for an open for writing: a queued capture reads its bytes first; until the close, changes
            // at this path are ours (the watcher of the directory must not record them as external).
            Recorder.BeforeOpenForWriting(key);
            Recorder.OpenedForWriting(path, key);
            try
            {
                SaveBeforeChange(caller.Agent, key, path, handle, inPlace: true);
                if (Libc.Ftruncate(fd, 0) < 0) throw Errno(Libc.Errno, path, "truncate");
                var (hash, size) = CopyHashing(content, handle);
                // The close: the new bytes are a version of the caller's agent, read through this descriptor.
                Recorder.Written(caller.Agent, path, key, handle);
                handed = true;
                return new WriteResult(path, false, hash, size, []);
            }
            finally { Recorder.ClosedForWriting(path, key); }
        }
        finally
        {
            if (!handed) handle.Dispose();
        }
    }

    private WriteResult Create(FileCaller caller, int parentFd, string path, Stream content)
    {
        Authorize(caller, PolicyOperation.Create, path, false);
        string name = StorePath.Name(path);
        // Written under no name first (O_TMPFILE), then linked in: born whole.
        int fd = Libc.OpenAt(parentFd, ".", Libc.O_TMPFILE | Libc.O_RDWR | Libc.O_CLOEXEC, 0b110_110_110 & ~Umask);
        if (fd < 0) throw Errno(Libc.Errno, path, "create");
        var handle = new SafeFileHandle(fd, ownsHandle: true);
        bool handed = false;
        try
        {
            var (hash, size) = CopyHashing(content, handle);
            GiveToOwner(fd);
            if (Libc.LinkAt(Libc.AT_FDCWD, $"/proc/self/fd/{fd}", parentFd, name, Libc.AT_SYMLINK_FOLLOW) < 0)
            {
                int err = Libc.Errno;
                if (err == Libc.EEXIST) throw new FileServiceException(FileProblem.Conflict, $"'{path}' was created by someone else meanwhile; read it and try again");
                throw Errno(err, path, "link");
            }
            var st = Fstat(fd);
            var dirMtime = StatAt(parentFd, "", Libc.AT_EMPTY_PATH) is { } d ? MtimeNs(d) : (long?)null;
            var key = new FileKey(st.Dev, st.Ino);
            Recorder.Created(caller.Agent, path, key, Facts(st), dirMtimeNs: dirMtime, content: size > 0 ? handle : null);
            handed = size > 0;
            return new WriteResult(path, true, hash, size, []);
        }
        finally
        {
            if (!handed) handle.Dispose();
        }
    }

    /// <summary>Removes a file, a symbolic link or an empty directory, recorded as the mount records rm/rmdir.</summary>
    public void Delete(FileCaller caller, string path, string? ifMatch = null)
    {
        path = ProjectPaths.Parse(path);
        if (path.Length == 0) throw new FileServiceException(FileProblem.Conflict, "the project root cannot be removed");
        lock (_changes)
        {
            using var parent = OpenParentForChange(caller, path, create: false, null);
            string name = StorePath.Name(path);
            var st = StatAt(parent.Fd, name, Libc.AT_SYMLINK_NOFOLLOW) ?? throw NotFound(path);
            bool directory = (st.Mode & Libc.S_IFMT) == Libc.S_IFDIR;
            Authorize(caller, PolicyOperation.Delete, path, directory);
            var key = new FileKey(st.Dev, st.Ino);
            if ((st.Mode & Libc.S_IFMT) == Libc.S_IFREG)
            {
                int fd = Libc.OpenAt(parent.Fd, name, Libc.O_RDONLY | Libc.O_NOFOLLOW | Libc.O_NONBLOCK | Libc.O_CLOEXEC, 0);
                if (fd < 0) throw Errno(Libc.Errno, path, "open");
                using var handle = new SafeFileHandle(fd, ownsHandle: true);
                if (ifMatch is not null && !string.Equals(CurrentHash(handle, path, st), ifMatch, StringComparison.OrdinalIgnoreCase))
                    throw new FileServiceException(FileProblem.PreconditionFailed, $"'{path}' changed: its content hash is not {ifMatch}");
                SaveBeforeChange(caller.Agent, key, path, handle, inPlace: false);
            }
            else if (ifMatch is not null)
                throw new FileServiceException(FileProblem.PreconditionFailed, $"'{path}' is not a regular file: it has no content hash to match");
            if (Libc.UnlinkAt(parent.Fd, name, directory ? Libc.AT_REMOVEDIR : 0) < 0)
            {
                int err = Libc.Errno;
                if (err is Libc.ENOTEMPTY or Libc.EEXIST) throw new FileServiceException(FileProblem.Conflict, $"'{path}' is a directory that is not empty");
                throw Errno(err, path, "remove");
            }
            var dirMtime = StatAt(parent.Fd, "", Libc.AT_EMPTY_PATH) is { } d ? MtimeNs(d) : (long?)null;
            Recorder.Removed(caller.Agent, path, key, lastLink: directory || st.Nlink <= 1, dirMtime);
            Changed([path]);
        }
    }

    /// <summary>Names a point (default: now, everything written so far included) as a snapshot, by the caller's agent.</summary>
    public Snapshot CreateSnapshot(FileCaller caller, string name, string? at = null)
    {
        if (string.IsNullOrWhiteSpace(name)) throw new FileServiceException(FileProblem.BadRequest, "a snapshot needs a name");
        if (name.StartsWith('@') || name.Contains('/') || name.Contains('\0') || name.Length > 128)
            throw new FileServiceException(FileProblem.BadRequest, $"'{ProjectPaths.Shorten(name)}' cannot name a snapshot: no '@' first, no '/', at most 128 characters");
        if (DateTime.TryParse(name, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.None, out _) || name is "latest")
            throw new FileServiceException(FileProblem.BadRequest, $"'{name}' would be read as a point in time, not a snapshot name");
        StorePoint? point = at is null ? null : StorePoint.AtEvent(ResolvePoint(at));
        try { return _host.CreateSnapshot(caller.Agent, name, point); }
        catch (SnapshotExistsException e) { throw new FileServiceException(FileProblem.Conflict, e.Message); }
        catch (PointNotFoundException e) { throw new FileServiceException(FileProblem.Unavailable, e.Message); }
    }

    /// <summary>
    /// Brings <paramref name="path"/> ("" for the whole project) back to what it was at a point, as new events of the
    /// caller's agent (an undo that can itself be undone): every step is checked against the policy first (one refused
    /// step refuses the restore, nothing is changed), and no step may go through a symbolic link.
    /// </summary>
    public RestoreOutcome Restore(FileCaller caller, string path, string at, bool dryRun = false)
    {
        path = ProjectPaths.Parse(path);
        long seq = ResolvePoint(at);
        lock (_changes)
        {
            RestorePlan plan;
            try
            {
                plan = RestorePlanner.Plan(Store, _host.ProjectDir, path, seq)
                       ?? throw new FileServiceException(FileProblem.NotFound, $"'{Show(path)}' did not exist as of @{seq}; nothing to restore");
            }
            catch (InvalidStorePathException e) { throw new FileServiceException(FileProblem.BadPath, e.Message); }
            if (!MayRead(caller, path, true)) throw new FileServiceException(FileProblem.NotFound, $"'{Show(path)}' did not exist as of @{seq}; nothing to restore");
            foreach (var step in plan.Changes)
            {
                var op = step.Action switch
                {
                    RestoreAction.Mkdir or RestoreAction.Create => PolicyOperation.Create,
                    RestoreAction.Overwrite => PolicyOperation.Write,
                    RestoreAction.Chmod => PolicyOperation.Meta,
                    _ => PolicyOperation.Delete,
                };
                Authorize(caller, PolicyOperation.Read, step.Path, step.Kind == FileKind.Directory);
                Authorize(caller, op, step.Path, step.Kind == FileKind.Directory);
                // The restore writes by path: every directory it goes through must be a real one inside the project.
                var parentPath = StorePath.Parent(step.Path);
                int fd = Libc.OpenAt2(RootFd, parentPath.Length == 0 ? "." : parentPath, Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0,
                    Libc.RESOLVE_BENEATH | Libc.RESOLVE_NO_SYMLINKS | Libc.RESOLVE_NO_MAGICLINKS);
                if (fd >= 0) Libc.Close(fd);
                else if (Libc.Errno is not Libc.ENOENT)
                    throw new FileServiceException(FileProblem.Forbidden, $"cannot restore '{step.Path}': '{Show(parentPath)}' is not a directory inside the project ({Libc.ErrorText(Libc.Errno)})");
            }
            var steps = plan.Changes.Select(s => (s.Action.ToString().ToLowerInvariant(), s.Path)).ToList();
            if (dryRun) return new RestoreOutcome(path, seq, true, steps, []);
            var result = new RestoreRunner(Store, new ServiceRestoreRecorder(this, caller.Agent)).Apply(plan, _host.ProjectDir);
            Changed([.. plan.Changes.Select(s => s.Path)]);
            return new RestoreOutcome(path, seq, false, steps, [.. result.Failures.Select(f => (f.Path, f.Message))]);
        }
    }

    /// <summary>Records a restore's changes through the recorder, as the caller's agent (RestoreRunner reports each after it made it).</summary>
    private sealed class ServiceRestoreRecorder(ProjectFiles files, Agent agent) : IRestoreRecorder
    {
        public void CaptureBefore(string path)
        {
            int fd = files.OpenNoFollow(path, Libc.O_RDONLY | Libc.O_NONBLOCK);
            if (fd < 0) return;
            using var handle = new SafeFileHandle(fd, true);
            var st = Fstat(fd);
            files.SaveBeforeChange(agent, new FileKey(st.Dev, st.Ino), path, handle, inPlace: false);
        }

        public void Created(string path)
        {
            int fd = files.OpenNoFollow(path, Libc.O_PATH);
            if (fd < 0) return;
            var st = Fstat(fd);
            Libc.Close(fd);
            files.GiveToOwner(path);
            st = files.StatPath(path) ?? st;
            SafeFileHandle? content = null;
            if ((st.Mode & Libc.S_IFMT) == Libc.S_IFREG && st.Size > 0 && files.OpenNoFollow(path, Libc.O_RDONLY | Libc.O_NONBLOCK) is var r and >= 0)
                content = new SafeFileHandle(r, true);
            byte[] target = (st.Mode & Libc.S_IFMT) == Libc.S_IFLNK ? Encoding.UTF8.GetBytes(files.ReadLinkAt(files.RootFd, path) ?? "") : [];
            files.Recorder.Created(agent, path, new FileKey(st.Dev, st.Ino), Facts(st), target, content: content);
        }

        public void Written(string path)
        {
            files.GiveToOwner(path);
            int fd = files.OpenNoFollow(path, Libc.O_RDONLY | Libc.O_NONBLOCK);
            if (fd < 0) return;
            var st = Fstat(fd);
            files.Recorder.Written(agent, path, new FileKey(st.Dev, st.Ino), new SafeFileHandle(fd, true));
        }

        public void ModeChanged(string path)
        {
            if (files.StatPath(path) is not { } st) return;
            files.Recorder.AttributesChanged(agent, path, new FileKey(st.Dev, st.Ino), Facts(st), bytesChanged: false);
        }

        public void Removed(string path) => files.Recorder.Removed(agent, path, null, lastLink: true);
    }

    // ================================================================== policy

    /// <summary>Throws unless the policy lets the caller do <paramref name="operation"/> on <paramref name="path"/>; a refusal is
    /// a <c>deny</c> event (as in the mount). A path under a directory hidden from the caller is not found.</summary>
    private void Authorize(FileCaller caller, PolicyOperation operation, string path, bool isDirectory)
    {
        var policy = _host.Access.Policy;
        if (policy.IsPermissive) return;
        var subject = new PolicySubject(caller.Agent.Name, caller.Agent.Role, caller.Channel);
        // A directory above that is hidden hides everything in it, as a lookup through the mount would find.
        for (var dir = StorePath.Parent(path); path.Length > 0; dir = StorePath.Parent(dir))
        {
            if (dir.Length > 0 && policy.Decide(subject, PolicyOperation.List, dir, true) is { Effect: PolicyEffect.Hide, Allowed: false })
            {
                _host.Access.Decide(subject, caller.Agent, PolicyOperation.List, dir, true);
                throw NotFound(path);
            }
            if (dir.Length == 0) break;
        }
        var decision = _host.Access.Decide(subject, caller.Agent, operation, path, isDirectory);
        if (decision.Allowed) return;
        throw decision.Errno switch
        {
            PolicyErrno.ENOENT => NotFound(path),
            PolicyErrno.EROFS => new FileServiceException(FileProblem.Forbidden, $"'{path}' is read-only for {caller.Agent.Name} by the access policy ({decision.Explain()})"),
            _ => new FileServiceException(FileProblem.Forbidden, $"{PolicyNames.Of(operation)} of '{Show(path)}' is refused to {caller.Agent.Name} by the access policy ({decision.Explain()})"),
        };
    }

    /// <summary>Whether the caller's agent may read the path (and every directory above is visible): decided, never recorded.</summary>
    public bool MayRead(FileCaller caller, string path, bool isDirectory)
    {
        var policy = _host.Access.Policy;
        if (policy.IsPermissive) return true;
        var subject = new PolicySubject(caller.Agent.Name, caller.Agent.Role, caller.Channel);
        for (var dir = StorePath.Parent(path); path.Length > 0 && dir.Length > 0; dir = StorePath.Parent(dir))
            if (!policy.Decide(subject, PolicyOperation.List, dir, true).Allowed) return false;
        return policy.Decide(subject, isDirectory ? PolicyOperation.List : PolicyOperation.Read, path, isDirectory).Allowed;
    }

    /// <summary>Whether a listing leaves the name out (hidden from the caller).</summary>
    private bool Hidden(FileCaller caller, string path, bool isDirectory)
    {
        var policy = _host.Access.Policy;
        if (!policy.CanHide) return false;
        var subject = new PolicySubject(caller.Agent.Name, caller.Agent.Role, caller.Channel);
        return policy.Decide(subject, isDirectory ? PolicyOperation.List : PolicyOperation.Read, path, isDirectory) is { Effect: PolicyEffect.Hide, Allowed: false };
    }

    // ================================================================== recording helpers

    /// <summary>
    /// Before a file's bytes change in place (<paramref name="inPlace"/>) or it loses a name: what the mount's observer does
    /// (BeforeModify) — bytes the store may not hold yet are saved now; a queued capture of its last write reads them first.
    /// </summary>
    private void SaveBeforeChange(Agent agent, FileKey key, string path, SafeFileHandle content, bool inPlace)
    {
        // A file created here with its bytes is WritePending until its create record has read them: read them now, first.
        switch (Recorder.Known(key))
        {
            case ContentKnowledge.Safe:
                return;
            case ContentKnowledge.WritePending:
                if (inPlace) Recorder.ReadQueuedCapture(key);
                return;
            default:
                Recorder.CaptureBeforeModify(agent, key, path, content);
                return;
        }
    }

    /// <summary>Tells a running mount (and anyone else listening) which paths changed, so it drops what the kernel cached.</summary>
    private void Changed(IReadOnlyList<string> paths) => _host.RaiseChangedByService(paths);

    /// <summary>The content hash of a live file: the store's, when its current version is this file as it is now and was
    /// captured; otherwise SHA-256 of the bytes, read through <paramref name="handle"/>.</summary>
    private string CurrentHash(SafeFileHandle handle, string path, in StatxBuf st)
    {
        try
        {
            var v = Store.Attributes(path, StorePoint.Latest);
            if (v.ContentState == ContentState.Captured && v.ContentHash is not null && v.Attributes.Inode == (long)st.Ino
                && v.Attributes.Size == (long)st.Size && v.Attributes.MtimeNs == MtimeNs(st))
                return v.ContentHash;
        }
        catch (StoreException) { } // not recorded (yet): hash the bytes
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = ArrayPool<byte>.Shared.Rent(1 << 16);
        try
        {
            long offset = 0;
            int n;
            while ((n = RandomAccess.Read(handle, buffer, offset)) > 0)
            {
                sha.AppendData(buffer, 0, n);
                offset += n;
            }
        }
        finally { ArrayPool<byte>.Shared.Return(buffer); }
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    /// <summary>Copies the body into the file from offset 0, hashing it on the way.</summary>
    private static (string Hash, long Size) CopyHashing(Stream content, SafeFileHandle file)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = ArrayPool<byte>.Shared.Rent(1 << 16);
        long offset = 0;
        try
        {
            int n;
            while ((n = content.Read(buffer, 0, buffer.Length)) > 0)
            {
                RandomAccess.Write(file, buffer.AsSpan(0, n), offset);
                sha.AppendData(buffer, 0, n);
                offset += n;
            }
        }
        finally { ArrayPool<byte>.Shared.Return(buffer); }
        return (Convert.ToHexStringLower(sha.GetHashAndReset()), offset);
    }

    // ================================================================== resolving paths

    private static readonly uint Umask = ReadUmask();

    private static uint ReadUmask()
    {
        // umask(2) sets as it reads: read it from /proc instead (another thread may create files meanwhile).
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith("Umask:", StringComparison.Ordinal)) return Convert.ToUInt32(line[6..].Trim(), 8);
        }
        catch (IOException) { }
        return 0b000_010_010;
    }

    /// <summary>A descriptor that closes itself; <see cref="Take"/> hands it over as a SafeFileHandle.</summary>
    private sealed class OwnedFd(int fd) : IDisposable
    {
        public int Fd { get; private set; } = fd;
        public SafeFileHandle Take()
        {
            var h = new SafeFileHandle(Fd, ownsHandle: true);
            Fd = -1;
            return h;
        }
        public void Dispose()
        {
            if (Fd >= 0) Libc.Close(Fd);
            Fd = -1;
        }
    }

    /// <summary>Opens a path beneath the project, following symbolic links that stay inside it; the path it really
    /// reached (project-relative) comes back, and may not be inside .lighthouse/.</summary>
    private OwnedFd OpenBeneath(string path, int flags, out string realPath)
    {
        int fd = Libc.OpenAt2(RootFd, path.Length == 0 ? "." : path, flags | Libc.O_CLOEXEC, 0, Libc.RESOLVE_BENEATH | Libc.RESOLVE_NO_MAGICLINKS);
        if (fd < 0) throw Errno(Libc.Errno, path, "open");
        var opened = new OwnedFd(fd);
        try
        {
            var real = ReadLinkAt(Libc.AT_FDCWD, $"/proc/self/fd/{fd}") ?? throw new IOException("cannot tell where a descriptor leads");
            if (real == _host.ProjectDir) realPath = "";
            else if (real.StartsWith(_host.ProjectDir + "/", StringComparison.Ordinal)) realPath = real[(_host.ProjectDir.Length + 1)..];
            else throw new FileServiceException(FileProblem.Forbidden, $"'{path}' leads outside the project");
            if (realPath == StoreConstants.StateDirName || realPath.StartsWith(StoreConstants.StateDirName + "/", StringComparison.Ordinal))
                throw new FileServiceException(FileProblem.Forbidden, $"'{path}' leads into {StoreConstants.StateDirName}/, which is not part of the project");
            return opened;
        }
        catch
        {
            opened.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Opens the directory that holds <paramref name="path"/>, with no symbolic link on the way; with <paramref name="create"/>
    /// missing directories are made (recorded as mkdir, each checked against the policy) and listed in <paramref name="created"/>.
    /// </summary>
    private OwnedFd OpenParentForChange(FileCaller caller, string path, bool create, List<string>? created)
    {
        const ulong Resolve = Libc.RESOLVE_BENEATH | Libc.RESOLVE_NO_SYMLINKS | Libc.RESOLVE_NO_MAGICLINKS;
        var parent = StorePath.Parent(path);
        int fd = Libc.OpenAt2(RootFd, parent.Length == 0 ? "." : parent, Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0, Resolve);
        if (fd >= 0) return new OwnedFd(fd);
        int err = Libc.Errno;
        if (err != Libc.ENOENT || !create) throw Errno(err, parent, "open");
        // The file itself must be allowed before any directory is made for it.
        Authorize(caller, PolicyOperation.Create, path, false);
        // Walk down from the root, making what is missing.
        var current = new OwnedFd(Libc.OpenAt2(RootFd, ".", Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0, Resolve));
        string done = "";
        try
        {
            foreach (var name in parent.Split('/'))
            {
                var dirPath = StorePath.Combine(done, name);
                int next = Libc.OpenAt(current.Fd, name, Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0);
                if (next < 0 && Libc.Errno == Libc.ENOENT)
                {
                    Authorize(caller, PolicyOperation.Create, dirPath, true);
                    if (Libc.MkdirAt(current.Fd, name, 0b111_111_111 & ~Umask) < 0 && Libc.Errno != Libc.EEXIST) throw Errno(Libc.Errno, dirPath, "mkdir");
                    next = Libc.OpenAt(current.Fd, name, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0);
                    if (next < 0) throw Errno(Libc.Errno, dirPath, "open");
                    GiveToOwner(next);
                    var st = Fstat(next);
                    var dirMtime = StatAt(current.Fd, "", Libc.AT_EMPTY_PATH) is { } d ? MtimeNs(d) : (long?)null;
                    Recorder.Created(caller.Agent, dirPath, new FileKey(st.Dev, st.Ino), Facts(st), dirMtimeNs: dirMtime);
                    created?.Add(dirPath);
                }
                else if (next < 0) throw Errno(Libc.Errno, dirPath, "open");
                current.Dispose();
                current = new OwnedFd(next);
                done = dirPath;
            }
            return current;
        }
        catch
        {
            current.Dispose();
            throw;
        }
    }

    /// <summary>openat2 of a project path with no symbolic link anywhere; -1 if it fails.</summary>
    private int OpenNoFollow(string path, int flags) =>
        Libc.OpenAt2(RootFd, path.Length == 0 ? "." : path, flags | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0,
            Libc.RESOLVE_BENEATH | Libc.RESOLVE_NO_SYMLINKS | Libc.RESOLVE_NO_MAGICLINKS);

    private StatxBuf? StatPath(string path)
    {
        int fd = Libc.OpenAt2(RootFd, path, Libc.O_PATH | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0,
            Libc.RESOLVE_BENEATH | Libc.RESOLVE_NO_SYMLINKS | Libc.RESOLVE_NO_MAGICLINKS);
        if (fd < 0) return null;
        try { return StatAt(fd, "", Libc.AT_EMPTY_PATH | Libc.AT_SYMLINK_NOFOLLOW); }
        finally { Libc.Close(fd); }
    }

    /// <summary>Gives what we just made to the project directory's owner (the server may run as root).</summary>
    private void GiveToOwner(int fd)
    {
        if (_asRoot) Libc.Fchown(fd, (int)_ownerUid, (int)_ownerGid);
    }

    private unsafe void GiveToOwner(string path)
    {
        if (!_asRoot) return;
        var bytes = Encoding.UTF8.GetBytes(path + "\0");
        fixed (byte* p = bytes) Libc.FchownAt(RootFd, p, _ownerUid, _ownerGid, Libc.AT_SYMLINK_NOFOLLOW);
    }

    private static unsafe StatxBuf? StatAt(int dirfd, string name, int flags)
    {
        StatxBuf st;
        if (Libc.Statx(dirfd, name, flags, Libc.STATX_BASIC_STATS, &st) < 0) return null;
        return st;
    }

    private static StatxBuf Fstat(int fd) =>
        StatAt(fd, "", Libc.AT_EMPTY_PATH) ?? throw new IOException($"cannot stat an open file: {Libc.ErrorText(Libc.Errno)}");

    private static StatxBuf Fstat(OwnedFd fd) => Fstat(fd.Fd);

    private unsafe string? ReadLinkAt(int dirfd, string name)
    {
        var path = Encoding.UTF8.GetBytes(name + "\0");
        byte* buffer = stackalloc byte[4097];
        nint n;
        fixed (byte* p = path) n = Libc.ReadlinkAt(dirfd, p, buffer, 4096);
        return n < 0 ? null : Encoding.UTF8.GetString(buffer, (int)n);
    }

    /// <summary>The names in an open directory (not "." or ".."), read through /proc/self/fd so no path is resolved again.</summary>
    private static List<string> Names(int dirFd)
    {
        var names = new List<string>();
        foreach (var entry in Directory.EnumerateFileSystemEntries($"/proc/self/fd/{dirFd}", "*",
                     new EnumerationOptions { AttributesToSkip = 0, IgnoreInaccessible = true, RecurseSubdirectories = false }))
            names.Add(System.IO.Path.GetFileName(entry));
        return names;
    }

    private static FileFacts Facts(in StatxBuf st) =>
        new(st.Mode, (long)st.Size, MtimeNs(st), st.Ino, st.Uid, st.Gid, Libc.MakeDev(st.RdevMajor, st.RdevMinor));

    private static long MtimeNs(in StatxBuf st) => st.MtimeSec * 1_000_000_000L + st.MtimeNsec;

    private static FileKind KindOf(ushort mode) => (mode & Libc.S_IFMT) switch
    {
        Libc.S_IFDIR => FileKind.Directory, Libc.S_IFREG => FileKind.File, Libc.S_IFLNK => FileKind.Symlink, Libc.S_IFIFO => FileKind.Fifo,
        Libc.S_IFSOCK => FileKind.Socket, Libc.S_IFCHR => FileKind.CharDevice, Libc.S_IFBLK => FileKind.BlockDevice, _ => FileKind.Other,
    };

    private static string Show(string path) => path.Length == 0 ? "." : path;

    private static FileServiceException NotFound(string path) => new(FileProblem.NotFound, $"'{Show(path)}' does not exist");

    /// <summary>An errno from resolving or changing a path, as the problem a caller understands.</summary>
    private static FileServiceException Errno(int errno, string path, string what) => errno switch
    {
        Libc.ENOENT or Libc.ENOTDIR => NotFound(path),
        Libc.EXDEV => new(FileProblem.Forbidden, $"'{Show(path)}' leads outside the project (through a symbolic link or '..')"),
        Libc.ELOOP => new(FileProblem.Conflict, $"'{Show(path)}' goes through a symbolic link, which changes through this service do not follow"),
        Libc.EACCES or Libc.EPERM => new(FileProblem.Forbidden, $"{what} '{Show(path)}': permission denied"),
        Libc.EISDIR => new(FileProblem.Conflict, $"'{Show(path)}' is a directory"),
        Libc.ENAMETOOLONG => new(FileProblem.BadPath, $"'{ProjectPaths.Shorten(path)}' is too long"),
        Libc.ENOSPC => new(FileProblem.Conflict, $"{what} '{Show(path)}': no space left on the device"),
        _ => new(FileProblem.Conflict, $"{what} '{Show(path)}': {Libc.ErrorText(errno)}"),
    };

    public void Dispose() => _root.Dispose();
}

internal static class WritePreconditionExtensions
{
    /// <summary>An If-Match write replaces an existing file: it never makes directories.</summary>
    public static bool IsMatchOnly(this WritePrecondition p) => p.IfMatch is not null;
}
