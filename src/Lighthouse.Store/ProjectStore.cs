using System.Diagnostics;
using System.Security.Cryptography;
using Lighthouse.Store.Capture;
using Lighthouse.Store.Events;
using Lighthouse.Store.Native;
using Lighthouse.Store.Objects;
using Lighthouse.Store.Queries;
using Lighthouse.Store.Reconciliation;
using Lighthouse.Store.Sqlite;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

namespace Lighthouse.Store;

/// <summary>
/// The store of one project: event log, temporal index and objects under <c>&lt;project&gt;/.lighthouse/</c>.
/// Thread-safe. Mutations are recorded after the filesystem operation succeeded (the store lstat's
/// the result unless attributes are given); see README.md for the capture contract.
/// </summary>
public sealed partial class ProjectStore : IProjectStore
{
    public const string SystemAgent = "lighthouse";

    private readonly Database _db;
    private readonly EventWriter? _writerOrNull;
    private readonly FileStream? _lock;
    private readonly ContentCapture _capture;
    private readonly SafeFileHandle? _root; // the project directory: where captures and scans without a descriptor start
    private int _disposed;

    private ProjectStore(string projectDir, StoreOptions options, Database db, EventWriter? writer, FileStream? lockFile, ObjectStore objects)
    {
        ProjectDir = projectDir;
        Options = options;
        _db = db;
        _writerOrNull = writer;
        _lock = lockFile;
        Objects = objects;
        EmptyHash = writer is null ? Convert.ToHexStringLower(SHA256.HashData([])) : objects.StoreBytes([]);
        _capture = new ContentCapture(this);
        Chunks = new ChunkStore(db, writer is null ? null : work => writer.Submit(ctx => work(ctx.Connection)));
        if (writer is not null) _root = ProjectTree.OpenRoot(projectDir);
        if (writer is not null) writer.Committed += events => Committed?.Invoke(events);
    }

    private EventWriter _writer => _writerOrNull ?? throw new StoreReadOnlyException(ProjectDir);

    /// <summary>True for a store opened with <see cref="OpenReadOnly"/>.</summary>
    public bool IsReadOnly => _writerOrNull is null;

    public string ProjectDir { get; }
    public string StateDir => Path.Combine(ProjectDir, StoreConstants.StateDirName);
    public string DatabasePath => _db.FilePath;
    public StoreOptions Options { get; }
    public ObjectStore Objects { get; }
    /// <summary>File versions as compressed, de-duplicated chunks in the database (versions captured since schema 4).</summary>
    internal ChunkStore Chunks { get; }
    internal string EmptyHash { get; }
    internal Database Db => _db;
    /// <summary>A descriptor of the project directory (writers only): paths are reached from it, never absolute.</summary>
    internal int RootFd => (int)(_root ?? throw new StoreReadOnlyException(ProjectDir)).DangerousGetHandle();
    internal EventWriter Writer => _writer;

    /// <summary>The last committed event.</summary>
    public long LastSeq
    {
        get
        {
            if (_writerOrNull is { } writer) return writer.LastSeq;
            using var s = Read();
            return s.MaxSeq;
        }
    }

    /// <summary>Group-commit statistics: transactions and events committed since open.</summary>
    public CommitStats CommitStats
    {
        get
        {
            if (_writerOrNull is not { } writer) return default;
            var (batches, events) = writer.Stats;
            return new CommitStats(batches, events);
        }
    }

    /// <summary>Counts the stored versions' bytes: whole object files under <c>objects/ab/…</c> (<c>tmp/</c> excluded) and blobs
    /// of chunks; their size on disk (object files, and chunks as stored, compressed).</summary>
    public ObjectStats ObjectStatistics()
    {
        var files = Objects.Statistics();
        using var s = Read();
        using var cmd = s.Command("SELECT (SELECT count(*) FROM blobs), (SELECT coalesce(sum(length(data)), 0) FROM chunks)");
        using var r = cmd.ExecuteReader();
        r.Read();
        return new ObjectStats(files.Count + r.GetInt64(0), files.Bytes + r.GetInt64(1));
    }

    /// <summary>Raised on the writer thread after each commit, with its events in order. Keep handlers short.</summary>
    public event Action<IReadOnlyList<StoreEvent>>? Committed;

    /// <summary>The report of the reconciliation (or baseline) run by <see cref="Open"/>.</summary>
    public ReconcileReport? OpenReport { get; private set; }

    /// <summary>
    /// Opens (or creates) the store of <paramref name="projectDir"/>. A new store records a metadata-only
    /// baseline of the tree; an existing one is checked and reconciled with what the directory holds.
    /// </summary>
    public static ProjectStore Open(string projectDir, StoreOptions? options = null)
    {
        options ??= new StoreOptions();
        projectDir = Path.TrimEndingDirectorySeparator(Path.GetFullPath(projectDir));
        if (!Directory.Exists(projectDir))
            throw new StoreException($"project directory {projectDir} does not exist");
        var stateDir = Path.Combine(projectDir, StoreConstants.StateDirName);
        FileStream lockFile;
        try
        {
            // The owner's alone (0700/0600 whatever the umask; a store made before is tightened here).
            StateDirectory.Ensure(projectDir);
            // .NET takes flock(LOCK_EX) for FileShare.None: one process owns the store at a time.
            lockFile = StateDirectory.OpenPrivate(Path.Combine(stateDir, "lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e) when (ObjectStore.IsDiskFull(e))
        {
            throw new StoreFullException($"creating {stateDir}", e);
        }
        catch (IOException e)
        {
            throw new StoreLockedException(projectDir, e);
        }

        var db = new Database(DatabaseFile(projectDir));
        SqliteConnection? writerConnection = null;
        try
        {
            var existed = File.Exists(db.FilePath) && new FileInfo(db.FilePath).Length > 0;
            StateDirectory.PrepareDatabaseFile(db.FilePath);
            long lastSeq = 0, lastTicks = 0;
            var lastHash = EventCodec.GenesisHash;
            try
            {
                writerConnection = db.OpenWriter(options.Durability == Durability.Full);
                if (existed && options.CheckIntegrityOnOpen) QuickCheck(db, writerConnection);
                Schema.CreateOrUpgrade(writerConnection, db.FilePath, projectDir);
                db.LegacyOwner = Schema.LegacyOwner(writerConnection);
                using var cmd = writerConnection.CreateCommand();
                cmd.CommandText = "SELECT seq, hash, time_ticks FROM events ORDER BY seq DESC LIMIT 1";
                using var r = cmd.ExecuteReader();
                if (r.Read())
                {
                    lastSeq = r.GetInt64(0);
                    lastHash = (byte[])r.GetValue(1);
                    lastTicks = r.GetInt64(2);
                }
            }
            catch (SqliteException e) when (Database.IsCorruption(e))
            {
                writerConnection?.Dispose();
                throw new StoreCorruptException(db.FilePath, db.FindLastGoodEvent(), e.Message, e);
            }
            catch (SqliteException e)
            {
                writerConnection?.Dispose();
                throw db.Translate(e, "opening the database");
            }
            catch
            {
                writerConnection?.Dispose();
                throw;
            }

            EventWriter? writer = null;
            ProjectStore store;
            try
            {
                var objects = new ObjectStore(Path.Combine(stateDir, "objects"), options.FsyncObjects);
                writer = new EventWriter(db, writerConnection, lastSeq, lastHash, lastTicks, options.MaxBatch, options.Logger,
                    options.Durability == Durability.Full ? options.CommitDelay : TimeSpan.Zero, options.BatchWindow, objects.SyncPending);
                store = new ProjectStore(projectDir, options, db, writer, lockFile, objects);
            }
            catch (Exception e)
            {
                if (writer is not null) writer.Dispose(); // also closes the connection
                else writerConnection.Dispose();
                var translated = db.Translate(e, "preparing the object store");
                if (ReferenceEquals(translated, e)) throw;
                throw translated;
            }
            try
            {
                if (lastSeq == 0) store.OpenReport = store.InitAndBaseline();
                else if (options.ReconcileOnOpen) store.OpenReport = store.Reconcile();
            }
            catch
            {
                store.Dispose();
                throw;
            }
            return store;
        }
        catch
        {
            lockFile.Dispose();
            db.ClearReaderPool();
            throw;
        }
    }

    /// <summary>
    /// Opens an existing store for queries only, alongside the process that has it open for writing
    /// (no lock, no baseline, no reconciliation; WAL readers see every committed event). Mutations,
    /// <see cref="Reconcile"/>, <see cref="RebuildIndex"/> and <see cref="Watch"/> throw <see cref="StoreReadOnlyException"/>.
    /// </summary>
    public static ProjectStore OpenReadOnly(string projectDir, StoreOptions? options = null)
    {
        options ??= new StoreOptions();
        projectDir = Path.TrimEndingDirectorySeparator(Path.GetFullPath(projectDir));
        var stateDir = Path.Combine(projectDir, StoreConstants.StateDirName);
        var db = new Database(DatabaseFile(projectDir));
        try
        {
            File.GetUnixFileMode(db.FilePath);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new StorePrivateException(stateDir, StateDirectory.OwnerOf(projectDir), e);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new StoreException($"{projectDir} has no Lighthouse store ({db.FilePath} does not exist)");
        }
        try
        {
            using var c = db.OpenReader();
            Schema.CheckReadable(c, db.FilePath);
            db.LegacyOwner = Schema.LegacyOwner(c);
        }
        catch (SqliteException e)
        {
            db.ClearReaderPool();
            throw db.Translate(e, "opening the database read-only");
        }
        catch (StoreException)
        {
            db.ClearReaderPool();
            throw;
        }
        return new ProjectStore(projectDir, options, db, null, null, new ObjectStore(Path.Combine(stateDir, "objects"), fsync: false, readOnly: true));
    }

    internal static string DatabaseFile(string projectDir) => Path.Combine(projectDir, StoreConstants.StateDirName, "lighthouse.db");

    /// <summary>
    /// Whether <paramref name="projectDir"/> holds an initialised store: its database exists and has data, in the main
    /// file or (a new store before its first checkpoint) in the write-ahead log.
    /// </summary>
    public static bool Exists(string projectDir)
    {
        var db = DatabaseFile(Path.TrimEndingDirectorySeparator(Path.GetFullPath(projectDir)));
        static bool HasData(string f) => new FileInfo(f) is { Exists: true, Length: > 0 };
        return File.Exists(db) && (HasData(db) || HasData(db + "-wal"));
    }

    private static void QuickCheck(Database db, SqliteConnection c)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = "PRAGMA quick_check(5)";
        var problems = new List<string>();
        using (var r = cmd.ExecuteReader())
            while (r.Read()) problems.Add(r.GetString(0));
        if (problems is ["ok"]) return;
        throw new StoreCorruptException(db.FilePath, db.FindLastGoodEvent(), "integrity check failed: " + string.Join("; ", problems));
    }

    private ReconcileReport InitAndBaseline()
    {
        var sw = Stopwatch.StartNew();
        var rootAttrs = FileStat.Lstat(ProjectDir)!;
        var scan = DirectoryScanner.Scan(RootFd, "");
        var events = _writer.Submit(ctx =>
        {
            ctx.Append(new EventDraft(new Actor(SystemAgent, AgentVia.System), EventOp.Init, "", NewVersion: true, Attributes: rootAttrs));
            var first = ctx.Appended.Count;
            new Reconciler(ctx, new Actor(StoreConstants.ExternalAgent, AgentVia.External), baseline: true, InitialContentOnDisk).Run("", scan.Scope, scan.Nodes, null);
            return ctx.Appended.GetRange(first, ctx.Appended.Count - first);
        });
        return new ReconcileReport(events, scan.Skipped, scan.Nodes.Count, sw.Elapsed);
    }

    /// <summary>How a node recorded by metadata only starts out: empty files are trivially captured.</summary>
    internal (ContentState, string?) InitialContent(NodeAttributes a) => a.Kind switch
    {
        FileKind.File when a.Size == 0 => (ContentState.Captured, EmptyHash),
        FileKind.File when a.Size > Options.MaxCaptureBytes => (ContentState.TooLarge, null),
        FileKind.File or FileKind.Symlink => (ContentState.NotCaptured, null),
        _ => (ContentState.None, null),
    };

    /// <summary>As <see cref="InitialContent(NodeAttributes)"/> for a node found on disk at <paramref name="path"/>:
    /// a symlink's target is read now (a few bytes), so history never has to ask the live tree for it.</summary>
    private (ContentState, string?) InitialContentOnDisk(string path, NodeAttributes a)
    {
        if (a.Kind == FileKind.Symlink && ProjectTree.ReadLink(RootFd, path) is { } target)
            return (ContentState.Captured, Objects.StoreBytes(target));
        return InitialContent(a);
    }

    internal string AbsolutePath(string storePath) => storePath.Length == 0 ? ProjectDir : Path.Combine(ProjectDir, storePath);

    internal ReadSession Read()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        return new ReadSession(_db);
    }

    // ---------------------------------------------------------------- reconciliation

    /// <summary>
    /// Records, as events of the identity <c>external</c>, every difference between the directory
    /// (or the subtree <paramref name="scope"/>) and the current tree of the index.
    /// </summary>
    public ReconcileReport Reconcile(IProgress<ReconcileProgress>? progress = null, string scope = "", Func<string, bool>? leaveAlone = null,
        Func<long, bool>? leaveAloneInode = null, Actor? agent = null)
    {
        var who = agent ?? new Actor(StoreConstants.ExternalAgent, AgentVia.External);
        CheckAgent(who);
        scope = StorePath.Normalize(scope);
        _ = _writer; // fail before scanning if read-only
        var sw = Stopwatch.StartNew();
        progress?.Report(new ReconcileProgress("scan", 0, 0));
        var scan = DirectoryScanner.Scan(RootFd, scope, n => progress?.Report(new ReconcileProgress("scan", n, 0)));
        var events = _writer.Submit(ctx =>
        {
            var first = ctx.Appended.Count;
            new Reconciler(ctx, who, baseline: false, InitialContentOnDisk, path => IsBusy(path) || leaveAlone?.Invoke(path) == true, leaveAloneInode).Run(scope, scan.Scope, scan.Nodes, progress);
            return ctx.Appended.GetRange(first, ctx.Appended.Count - first);
        });
        foreach (var skipped in scan.Skipped)
            Options.Logger.LogWarning("reconcile skipped {Skipped}", skipped);
        return new ReconcileReport(events, scan.Skipped, scan.Nodes.Count, sw.Elapsed);
    }

    private readonly Dictionary<string, int> _busy = new(StringComparer.Ordinal);

    /// <summary>
    /// Marks paths as being changed by the caller until the returned handle is disposed: take it before
    /// the syscall and dispose it after the Record* call, so a reconciliation (the watcher's) that runs in
    /// between leaves those paths (and what is under them) to the caller instead of recording them as
    /// <c>external</c>.
    /// </summary>
    public IDisposable BeginMutation(params string[] paths)
    {
        var normalized = paths.Select(StorePath.Normalize).ToArray();
        lock (_busy)
            foreach (var p in normalized)
                _busy[p] = _busy.GetValueOrDefault(p) + 1;
        return new MutationScope(this, normalized);
    }

    private bool IsBusy(string path)
    {
        lock (_busy)
        {
            if (_busy.Count == 0) return false;
            for (var p = path; ; p = StorePath.Parent(p))
            {
                if (_busy.ContainsKey(p)) return true;
                if (p.Length == 0) return false;
            }
        }
    }

    private sealed class MutationScope(ProjectStore store, string[] paths) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
            lock (store._busy)
                foreach (var p in paths)
                    if (--store._busy[p] == 0) store._busy.Remove(p);
        }
    }

    /// <summary>Starts a live watcher (inotify) that reconciles the parts of the tree that change.</summary>
    public ProjectWatcher Watch(TimeSpan? debounce = null)
    {
        _ = _writer; // read-only stores cannot record what the watcher sees
        return new ProjectWatcher(this, debounce ?? TimeSpan.FromMilliseconds(200), Options.Logger);
    }

    // ---------------------------------------------------------------- integrity

    /// <summary>Walks the hash chain from the first event and reports the first broken link.</summary>
    public VerifyResult Verify()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        return ChainVerifier.Verify(_db);
    }

    /// <summary>Checks the last <paramref name="count"/> events of the chain and their link to the one before (see <see cref="IProjectStore.VerifyTail"/>).</summary>
    public VerifyResult VerifyTail(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        return ChainVerifier.Verify(_db, count);
    }

    /// <summary>
    /// Rebuilds the temporal index from the event log alone, in one transaction, and says whether
    /// the rebuilt index is identical to the one it replaced.
    /// </summary>
    public IndexRebuildResult RebuildIndex()
    {
        var sw = Stopwatch.StartNew();
        var (before, after, events) = _writer.Submit(ctx =>
        {
            var fingerprintBefore = IndexFingerprint(ctx.Connection);
            Database.Exec(ctx.Connection, Schema.ClearIndex);
            ctx.Index.ClearCaches();
            long count = 0;
            using (var cmd = ctx.Connection.CreateCommand())
            {
                cmd.CommandText = $"SELECT {EventCodec.Columns} FROM events ORDER BY seq";
                using var r = cmd.ExecuteReader();
                while (r.Read())
                {
                    ctx.Index.Apply(EventCodec.Read(r, _db.LegacyOwner));
                    count++;
                }
            }
            ctx.Index.ClearCaches();
            // Versions the retention policy thinned are not in the events (those stay whole): their marks are.
            Database.Exec(ctx.Connection, "UPDATE versions SET content_state = 4 WHERE content_state = 1 AND from_seq IN (SELECT version_seq FROM pruned)");
            return (fingerprintBefore, IndexFingerprint(ctx.Connection), count);
        });
        return new IndexRebuildResult(before == after, events, sw.Elapsed);
    }

    /// <summary>A digest of every index row, for comparing two indexes.</summary>
    internal string IndexFingerprint() => _writer.Submit(ctx => IndexFingerprint(ctx.Connection));

    private static string IndexFingerprint(SqliteConnection c)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var sql in new[]
                 {
                     "SELECT parent_id, name, from_seq, to_seq, file_id, kind FROM entries ORDER BY parent_id, name, from_seq",
                     "SELECT file_id, from_seq, to_seq, kind, size, mode, mtime_ns, inode, content_state, content_hash, captured_seq, uid, gid, rdev FROM versions ORDER BY file_id, from_seq",
                     "SELECT name, seq, created_seq FROM snapshots ORDER BY name",
                 })
        {
            using var cmd = c.CreateCommand();
            cmd.CommandText = sql;
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                for (var i = 0; i < r.FieldCount; i++)
                    hash.AppendData(System.Text.Encoding.UTF8.GetBytes((r.IsDBNull(i) ? "∅" : Convert.ToString(r.GetValue(i), System.Globalization.CultureInfo.InvariantCulture)) + "\u001f"));
                hash.AppendData("\n"u8);
            }
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _writerOrNull?.Dispose();
        _db.ClearReaderPool();
        _root?.Dispose();
        _lock?.Dispose();
    }
}

public sealed record IndexRebuildResult(bool AgreedWithPrevious, long EventsReplayed, TimeSpan Elapsed);
