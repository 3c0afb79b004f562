using Lighthouse.Project.Agents;
using Lighthouse.Project.External;
using Lighthouse.Project.History;
using Lighthouse.Project.Recording;
using Lighthouse.Project.Retention;
using Lighthouse.Store;

namespace Lighthouse.Project;

public sealed class ProjectOptions
{
    /// <summary>Opens the project's store: the composition root names the implementation.</summary>
    public required IProjectStoreFactory Stores { get; init; }
    public StoreOptions Store { get; init; } = new();
    /// <summary>Names the agent behind each caller (default: <see cref="ProcessAgentResolver"/> over the project's
    /// <see cref="AgentRegistry"/>: registered runs, tokens, uid mappings, then user and command).</summary>
    public IAgentResolver? Agents { get; init; }
    /// <summary>Where the project says what it refused or could not do on its own (a refused token, an unreadable
    /// agent registry). Default: standard error.</summary>
    public Action<string>? Log { get; init; }
}

/// <summary>
/// A project opened to be served (by the mount today; the HTTP and MCP servers next): owns its store
/// (opened, so reconciled with the directory), the recorder every change goes through, the follower
/// of changes made beside it, and its history. One process serves a project at a time (the store's lock).
/// </summary>
public sealed class ProjectHost : IDisposable
{
    private ProjectHost(string projectDir, IProjectStore store, AgentRegistry registry, IAgentResolver agents, Action<string> log)
    {
        ProjectDir = projectDir;
        Store = store;
        Registry = registry;
        Agents = agents;
        Access = new Policy.AccessControl(projectDir, store, log);
        Reads = new Reads.ReadTracker(store, log);
        if (!store.IsReadOnly)
        {
            // Changes of the named agents (by the owner's CLI, or a run's token issued here) go into the log as they are seen.
            registry.Changed += changes => RecordAgentChanges(changes, log);
            registry.Unreadable += e => log($"the agent registry was not reloaded: {e.Message}; the previous one stays in force");
            _registryWatch = new Timer(_ =>
            {
                try { registry.Refresh(); }
                catch (AgentRegistryException) { } // said through Unreadable
            }, null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
        }
        Recorder = new ChangeRecorder(store);
        History = new ProjectHistory(store);
        Feed = new Feed.EventFeed(store);
    }

    public string ProjectDir { get; }
    public IProjectStore Store { get; }
    public IAgentResolver Agents { get; }
    /// <summary>The project's named agents, tokens and uid mappings (.lighthouse/agents.json).</summary>
    public AgentRegistry Registry { get; }
    private readonly Timer? _registryWatch;

    private void RecordAgentChanges(IReadOnlyList<string> changes, Action<string> log)
    {
        var detail = new System.Text.Json.Nodes.JsonObject { ["changes"] = new System.Text.Json.Nodes.JsonArray([.. changes.Select(c => (System.Text.Json.Nodes.JsonNode)c)]) }
            .ToJsonString(new System.Text.Json.JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        Store.RecordAuditAsync(new Actor("lighthouse", AgentVia.System), EventOp.Agents, AgentRegistry.FileName, null, detail)
            .ContinueWith(t => log($"a change of the named agents could not be recorded: {t.Exception!.GetBaseException().Message}"),
                TaskContinuationOptions.OnlyOnFaulted);
    }

    /// <summary>The access policy in force (.lighthouse/policy.yaml) and the audit of its refusals.</summary>
    public Policy.AccessControl Access { get; }
    /// <summary>The version of each file each agent last read.</summary>
    public Reads.ReadTracker Reads { get; }
    public ChangeRecorder Recorder { get; }
    public ProjectHistory History { get; }
    /// <summary>The live event feed (replay from any event, then follow) that streams/ and server-sent events read.</summary>
    public Feed.EventFeed Feed { get; }
    /// <summary>Reading and changing the project without FUSE (the HTTP API, the MCP server), recorded and checked as the mount is.</summary>
    public Files.ProjectFiles Files
    {
        get
        {
            lock (_filesGate) return _files ??= new Files.ProjectFiles(this);
        }
    }
    private Files.ProjectFiles? _files;
    private readonly Lock _filesGate = new();

    /// <summary>Raised (on the caller's thread, after the change is recorded) with the paths <see cref="Files"/> changed: a
    /// running mount drops what the kernel cached of them, so current/ shows the new bytes at once.</summary>
    public event Action<IReadOnlyList<string>>? ChangedByService;

    internal void RaiseChangedByService(IReadOnlyList<string> paths)
    {
        try { ChangedByService?.Invoke(paths); }
        catch (Exception e) { Console.Error.WriteLine($"lighthouse: passing on changes made through the file service: {e.Message}"); }
    }

    /// <summary>Set once <see cref="FollowExternalChanges"/> was called.</summary>
    public ExternalChangeFollower? External { get; private set; }
    /// <summary>Set once <see cref="CollectGarbageInBackground"/> was called.</summary>
    public BackgroundGc? Gc { get; private set; }

    /// <summary>What the opening found: changes made while nobody was looking, or the first baseline.</summary>
    public ReconcileReport? OpenReport => Store.OpenReport;

    /// <summary>Whether background work of the project (recording, reconciling) has work in hand: servers that
    /// would otherwise yield the CPU to their callers (the mount's idle-priority replies) should not then.</summary>
    public static bool BackgroundWorkPending => BackgroundThread.AnyBusy;

    /// <summary>Opens <paramref name="projectDir"/> (initialising its store on first use) and reconciles it with
    /// the log: what changed while nobody was looking is recorded as <c>external</c>.</summary>
    /// <exception cref="StoreException">the store cannot be opened (locked by another process, corrupt, …).</exception>
    public static ProjectHost Open(string projectDir, ProjectOptions options)
    {
        projectDir = Path.TrimEndingDirectorySeparator(Path.GetFullPath(projectDir));
        var store = options.Stores.Open(projectDir, options.Store);
        try
        {
            var registry = new AgentRegistry(projectDir);
            var log = options.Log ?? (line => Console.Error.WriteLine("lighthouse: " + line));
            return new ProjectHost(projectDir, store, registry, options.Agents ?? new ProcessAgentResolver(registry: registry) { Refusals = log }, log);
        }
        catch
        {
            store.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Makes the running process <paramref name="pid"/> and its descendants the agent <paramref name="agent"/> (with
    /// <paramref name="role"/>): <c>lighthouse run</c> asks this for itself before it runs the command. False if the
    /// process is gone.
    /// </summary>
    /// <exception cref="NotSupportedException">the project was opened with an agent resolver of its own (tests).</exception>
    public bool RegisterRun(uint pid, string agent, string? role) => Agents is ProcessAgentResolver resolver
        ? resolver.Register(pid, agent, role)
        : throw new NotSupportedException("this project names its callers with a resolver that takes no registrations");

    /// <summary>The processes registered by <c>lighthouse run</c> that are still running.</summary>
    public IReadOnlyList<ProcessAgentResolver.Registration> Runs => (Agents as ProcessAgentResolver)?.Runs ?? [];

    /// <summary>Starts following changes made to the project directory beside the servers.</summary>
    public ExternalChangeFollower FollowExternalChanges() => External ??= new ExternalChangeFollower(ProjectDir, Store, Recorder);

    /// <summary>Starts thinning versions and removing unreferenced content by the project's retention policy, in the background.</summary>
    public BackgroundGc CollectGarbageInBackground(Action<string> log) => Gc ??= new BackgroundGc(Store, log);

    /// <summary>Names a point: <paramref name="at"/>, or — without one — the project as it is now, including every
    /// change queued for recording (so a snapshot taken right after a write has it).</summary>
    /// <exception cref="SnapshotExistsException">the name is taken.</exception>
    /// <exception cref="PointNotFoundException"><paramref name="at"/> names no recorded point.</exception>
    public Snapshot CreateSnapshot(Agent agent, string name, StorePoint? at = null)
    {
        if (at is null) Recorder.Flush();
        return Store.CreateSnapshot(agent, name, at);
    }

    /// <summary>Deletes a snapshot's name (the history it named stays); the deletion is an event.</summary>
    /// <exception cref="PointNotFoundException">there is no such snapshot.</exception>
    public void DeleteSnapshot(Agent agent, string name) => Store.DeleteSnapshot(agent, name);

    /// <summary>What a status report shows of the served project.</summary>
    public ProjectStatus Status()
    {
        var (commits, events) = Store.CommitStats;
        return new ProjectStatus(ProjectDir, Store.LastSeq, Recorder.Recorded, Recorder.Backlog, Recorder.Failed, Recorder.LastError,
            Recorder.Repairs, Recorder.RepairEvents, External?.ExternalEvents ?? 0, commits, events,
            Gc?.Runs ?? 0, Gc?.LastRunUtc, Gc?.LastReport?.BytesFreed ?? 0, Gc?.LastError);
    }

    /// <summary>Stops following, records everything queued, then closes the store.</summary>
    public void Dispose()
    {
        Gc?.Dispose();
        _registryWatch?.Dispose();
        _files?.Dispose();
        Access.Dispose();
        External?.Dispose();
        Recorder.Dispose();
        Reads.Dispose(); // after the recorder: its last records are the versions the last reads saw
        Feed.Dispose(); // after the last commit: every reader has been handed everything recorded
        Store.Dispose();
    }
}

/// <summary>The state of a served project.</summary>
/// <param name="RecordsDone">Records the recorder handed to the store; <paramref name="Backlog"/> still queued.</param>
/// <param name="Commits">Group commits of this session, holding <paramref name="CommittedEvents"/> events.</param>
/// <param name="GcRuns">Background garbage collections this session; the last one's time, bytes freed, and the last error.</param>
public sealed record ProjectStatus(string ProjectDir, long LastSeq, long RecordsDone, int Backlog, long RecordingFailures, string? LastRecordingError,
    long Repairs, long RepairEvents, long ExternalEvents, long Commits, long CommittedEvents,
    long GcRuns = 0, DateTime? LastGcUtc = null, long LastGcBytesFreed = 0, string? LastGcError = null);
