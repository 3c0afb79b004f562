using Lighthouse.FileSystem.Agents;
using Lighthouse.FileSystem.Current;
using Lighthouse.FileSystem.Debug;
using Lighthouse.FileSystem.History;
using Lighthouse.FileSystem.Sections;
using Lighthouse.FileSystem.Streams;
using Lighthouse.Fuse.Hosting;
using Lighthouse.Fuse.Mounting;
using Lighthouse.Interop;
using Lighthouse.Fuse.Session;
using Lighthouse.Project;
using Lighthouse.Store;

namespace Lighthouse.FileSystem;

public sealed class LighthouseMountOptions
{
    /// <summary>Opens the project's store (the composition root names the implementation).</summary>
    public required IProjectStoreFactory Stores { get; init; }
    public StoreOptions Store { get; init; } = new();
    public bool KernelPassthrough { get; init; } = true;
    /// <summary>Ask the kernel for <c>allow_other</c>, so users other than the mount's owner (agents running as other users)
    /// may enter the mount. Default: when running as root. A normal user's mount without it serves that user alone (the
    /// kernel refuses everyone else, root included); with it, the fusermount3 helper needs <c>user_allow_other</c> in
    /// <c>/etc/fuse.conf</c>.</summary>
    public bool AllowOther { get; init; } = Environment.IsPrivilegedProcess;
    /// <summary>How long the kernel may cache names and attributes of current/. Changes made outside
    /// the mount are pushed to the kernel by invalidation, so this can be long.</summary>
    public TimeSpan CacheTimeout { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>Follow changes made to the project directory beside the mount (record them as external, drop
    /// them from the kernel's caches); otherwise they are only seen at the next mount.</summary>
    public bool FollowExternalChanges { get; init; } = true;
    /// <summary>Thin versions and remove unreferenced content by the project's retention policy, in the background.</summary>
    public bool CollectGarbage { get; init; } = true;
    /// <summary>How requests are served (threads, io_uring, caller-CPU keeping). Replies wait at normal priority
    /// while the project's background work is pending, whatever is set here.</summary>
    public SessionOptions Session { get; init; } = new();
    /// <summary>How many events a streams/ reader may fall behind the live log before its backlog becomes one gap line.</summary>
    public int StreamBacklog { get; init; } = 10_000;
}

/// <summary>
/// The whole Lighthouse tree over one project, and its hosting: opens the project (store,
/// reconciliation, recorder), builds the mount root from its sections — current/ (the project
/// directory, every change recorded), history/ and agents/ — and serves it until unmounted.
/// </summary>
public sealed class LighthouseMount : IDisposable
{
    private readonly LighthouseMountOptions _options;

    private LighthouseMount(ProjectHost project, LighthouseMountOptions options, CurrentSection current, HistorySection history, MountRoot root)
    {
        Project = project; _options = options; Current = current; History = history; Root = root;
    }

    public ProjectHost Project { get; }
    public string ProjectDir => Project.ProjectDir;
    public CurrentSection Current { get; }
    public HistorySection History { get; }
    public MountRoot Root { get; }
    /// <summary>The serving session, once mounted.</summary>
    public FuseSession? Session { get; private set; }
    public string? MountPoint { get; private set; }

    /// <summary>Opens <paramref name="projectDir"/> (reconciling it with its log) and builds the mount tree.</summary>
    /// <exception cref="StoreException">the project's store cannot be opened.</exception>
    public static LighthouseMount Open(string projectDir, LighthouseMountOptions options)
    {
        var project = ProjectHost.Open(projectDir, new ProjectOptions { Stores = options.Stores, Store = options.Store });
        try
        {
            var (uid, gid) = OwnerOf(project.ProjectDir);
            var current = new CurrentSection(project, SectionIds.Tag(1), options.KernelPassthrough, options.CacheTimeout);
            var history = new HistorySection(project.History, SectionIds.Tag(2), uid, gid) { Gate = current.Gate };
            LighthouseMount? mount = null; // debug/ shows the session the mount serves with, once it has one
            // The mount's top-level directories, in listing order: a new section is one line here.
            var root = new MountRoot([current, history, new AgentsSection(project, SectionIds.Tag(3), uid, gid),
                new StreamsSection(project, SectionIds.Tag(4), uid, gid) { Backlog = options.StreamBacklog },
                new DebugSection(new DebugReports(project, current, () => mount?.Session), DebugTag, uid, gid)], uid, gid);
            return mount = new LighthouseMount(project, options, current, history, root);
        }
        catch
        {
            project.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Why <paramref name="mountPoint"/> cannot serve <paramref name="projectDir"/>, or null if it can. A mount point
    /// inside the project (or a project inside the mount point) would make the daemon use its own mount — its
    /// watcher and recorder read the project directory — and wait on itself beyond the reach of SIGKILL.
    /// </summary>
    public static string? MountPointProblem(string projectDir, string mountPoint)
    {
        string project = RealPath(projectDir), mnt = RealPath(mountPoint);
        static bool Within(string path, string dir) =>
            path == dir || path.StartsWith(dir.EndsWith('/') ? dir : dir + "/", StringComparison.Ordinal);
        if (Within(mnt, project))
            return $"the mount point {mountPoint} is inside the project {projectDir}: the mount would serve itself and hang; choose a mount point outside it";
        if (Within(project, mnt))
            return $"the project {projectDir} is inside the mount point {mountPoint}: mounting would hide it from Lighthouse itself; choose a mount point outside it";
        return null;
    }

    /// <summary>The path with every symlink of its existing part resolved (the rest, not created yet, appended).</summary>
    private static string RealPath(string path)
    {
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
        var missing = new Stack<string>();
        var existing = full;
        while (!Directory.Exists(existing) && Path.GetDirectoryName(existing) is { } parent)
        {
            missing.Push(Path.GetFileName(existing));
            existing = parent;
        }
        // Resolve component by component from the root: a symlink may sit anywhere on the way.
        var real = "/";
        foreach (var part in existing.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            var next = Path.Combine(real, part);
            real = new DirectoryInfo(next).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? next;
        }
        while (missing.Count > 0) real = Path.Combine(real, missing.Pop());
        return Path.TrimEndingDirectorySeparator(real);
    }

    /// <summary>Owner and group of the project directory: the mount root and history/ show them.</summary>
    private static unsafe (uint Uid, uint Gid) OwnerOf(string dir)
    {
        StatxBuf st;
        var bytes = System.Text.Encoding.UTF8.GetBytes(dir + "\0");
        fixed (byte* p = bytes)
            return Libc.Statx(Libc.AT_FDCWD, p, 0, Libc.STATX_BASIC_STATS, &st) == 0 ? (st.Uid, st.Gid) : (0, 0);
    }

    /// <summary>
    /// Mounts at <paramref name="mountPoint"/> and serves in the foreground until SIGINT/SIGTERM, an unmount
    /// from outside or <paramref name="cancel"/>; then unmounts. <paramref name="ready"/> runs once the mount
    /// answers. Returns the exit code (0: clean).
    /// </summary>
    /// <exception cref="FuseMountException">the mount point cannot be mounted.</exception>
    public int Serve(string mountPoint, Action<LighthouseMount>? ready = null, TextWriter? log = null, CancellationToken cancel = default)
    {
        if (MountPointProblem(ProjectDir, mountPoint) is { } problem) throw new FuseMountException(problem, 22 /* EINVAL */);
        var host = new FuseHost
        {
            FileSystem = Root,
            MountPoint = mountPoint,
            MountOptions = MountOptions(),
            SessionOptions = SessionOptions(),
            Log = log ?? Console.Error,
            Trim = Project.Recorder.Trim,
            Ready = server =>
            {
                Attach(server);
                ready?.Invoke(this);
            },
        };
        try { return host.Run(cancel); }
        finally { Session = null; }
    }

    /// <summary>
    /// Mounts at <paramref name="mountPoint"/> and returns once the mount answers, serving in the background
    /// (for hosts that serve more than the mount, and for tests). Disposing the server unmounts.
    /// </summary>
    /// <exception cref="FuseMountException">the mount point cannot be mounted (nothing is left mounted).</exception>
    public FuseServer Start(string mountPoint, TextWriter? log = null)
    {
        if (MountPointProblem(ProjectDir, mountPoint) is { } problem) throw new FuseMountException(problem, 22 /* EINVAL */);
        var server = FuseServer.Start(Root, mountPoint, new FuseServerOptions
        {
            Mount = MountOptions(), Session = SessionOptions(), Trim = Project.Recorder.Trim, Log = log ?? Console.Error,
        });
        Attach(server);
        return server;
    }

    private MountOptions MountOptions() => new()
    {
        FsName = $"lighthouse:{ProjectDir}", Subtype = "lighthouse",
        // Agents may run as other users: let them in where asked to, and let the kernel check permissions either way.
        AllowOther = _options.AllowOther, DefaultPermissions = true,
    };

    /// <summary>Whether users other than the mount's owner may enter it (allow_other was asked for).</summary>
    public bool AllowOther => _options.AllowOther;

    private static readonly ulong DebugTag = SectionIds.Tag(5);

    /// <summary>The user's session options, with replies at normal priority while the project's background work is pending,
    /// and debug/'s own requests left out of the statistics it shows.</summary>
    private SessionOptions SessionOptions()
    {
        var pending = _options.Session.BackgroundWorkPending;
        return _options.Session with
        {
            UnmeasuredNodeTag = DebugTag,
            BackgroundWorkPending = pending is null ? () => ProjectHost.BackgroundWorkPending : () => ProjectHost.BackgroundWorkPending || pending(),
        };
    }

    /// <summary>The mount answers: follow changes made beside it and let the sections talk to the kernel.</summary>
    private void Attach(FuseServer server)
    {
        Session = server.Session;
        MountPoint = server.MountPoint;
        if (_options.FollowExternalChanges) Project.FollowExternalChanges();
        if (_options.CollectGarbage) Project.CollectGarbageInBackground(message => Console.Error.WriteLine("lighthouse: " + message));
        foreach (var section in Root.Sections) section.Attach(server.Connection.Notifier);
    }

    /// <summary>What `lighthouse status` shows of a running mount.</summary>
    public MountStatus Status()
    {
        var session = Session;
        var project = Project.Status();
        return new MountStatus(
            Protocol: session?.Connection is { } c ? $"{c.KernelMajor}.{c.Minor}" : null,
            Features: session?.Connection?.Negotiated.ToString().Split(", ") ?? [],
            KernelPassthrough: Current.Passthrough.UsingKernelPassthrough,
            KernelPassthroughOff: Current.Passthrough.KernelPassthroughOff,
            AllowOther: _options.AllowOther,
            IoUringQueues: session?.RingQueues ?? 0,
            RequestsThroughIoUring: session?.RingRequests ?? 0,
            RequestsServed: session?.Stats.TotalRequests ?? 0,
            Workers: session?.WorkerCount ?? 0,
            EventsRecorded: project.RecordsDone,
            RecordingBacklog: project.Backlog,
            RecordingFailures: project.RecordingFailures,
            LastRecordingError: project.LastRecordingError,
            RecordRepairs: project.Repairs,
            RepairEvents: project.RepairEvents,
            ExternalEvents: project.ExternalEvents,
            NodesKnown: Current.Passthrough.Nodes.Count,
            OpenFiles: Current.Passthrough.OpenHandles,
            LastSeq: project.LastSeq);
    }

    /// <summary>Finishes recording everything queued, then closes the project.</summary>
    public void Dispose()
    {
        Current.Dispose();
        Project.Dispose();
    }
}

/// <summary>The state of a running mount (names as `lighthouse status --json` shows them).</summary>
public sealed record MountStatus(string? Protocol, string[] Features, bool KernelPassthrough, string? KernelPassthroughOff, bool AllowOther, int IoUringQueues, long RequestsThroughIoUring,
    long RequestsServed, int Workers, long EventsRecorded, int RecordingBacklog, long RecordingFailures, string? LastRecordingError,
    long RecordRepairs, long RepairEvents, long ExternalEvents, int NodesKnown,
    int OpenFiles, long LastSeq);
