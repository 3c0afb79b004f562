using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Lighthouse.Project;
using Lighthouse.Cli.Commands;
using Lighthouse.Project.Agents;
using Lighthouse.Project.History;
using Lighthouse.Store;

namespace Lighthouse.Cli.Control;

/// <summary>
/// The mount process's control channel: a Unix domain socket (normally <c>&lt;project&gt;/.lighthouse/control.sock</c>,
/// named in mount.json) through which the <c>lighthouse</c> verbs ask the process that owns the store to make
/// changes while the project is mounted. One JSON request per line, one JSON response per line, any number of
/// requests per connection:
/// <code>
/// → {"op":"snapshot-create","name":"v1","agent":"root/lighthouse","at":"@40"}   ("agent" and "at" optional)
/// ← {"ok":true,"seq":42,"snapshot":{"name":"v1","seq":40,"createdAtSeq":42,"createdBy":"root/lighthouse","createdUtc":"..."}}
/// → {"op":"snapshot-delete","name":"v1"}            ← {"ok":true,"seq":43}
/// → {"op":"status"}                                 ← {"ok":true,"pid":1234,"lastSeq":43,"controlRequests":7,"mount":{...liveStatus()...}}
/// → {"op":"verify"}                                 ← {"ok":true,"verify":{"ok":true,"eventsChecked":43,...}}
/// → {"op":"ping"}                                   ← {"ok":true,"pid":1234}
/// → {"op":"http-start","listen":"127.0.0.1:7411","allowRemote":false,"maxBody":67108864}   ← {"ok":true,"addresses":["http://127.0.0.1:7411"]}   (owner or root only)
/// → {"op":"gc","dryRun":false,"policy":{"keepAll":"1d"}}   ← {"ok":true,"gc":{...GcReport...}}   (owner or root only)
/// ← {"ok":false,"error":"there is no snapshot named 'v9'","kind":"usage"}      on any failure
/// </code>
/// Changes are attributed to the agent named in the request only if it belongs to the connecting user
/// (checked with SO_PEERCRED; root may name any agent); without one, to "&lt;peer user&gt;/lighthouse".
/// <para>
/// The read verbs of other users: the state directory is the owner's alone, so their CLI connects to the mount's
/// public socket (<see cref="MountRegistry"/>, 0666, the same server) and the mount runs the verb for them, answering
/// only what the peer (uid, gid, and the supplementary groups of its process) could read as of each point
/// (<see cref="HistoryAccess"/>): the verb's output comes back whole.
/// <code>
/// → {"op":"log","path":"src","agent":null,"ops":["write"],"since":"2h","until":null,"limit":50,"json":false,"after":null}
/// ← {"ok":true,"exit":0,"out":"@12 ...\n","err":"","lastSeq":40}     ("after": only events after it, for --follow)
/// → {"op":"history","path":"src/a.c","at":null,"json":false,"follow":true}
/// → {"op":"diff","from":"@3","to":null,"patch":true,"path":null,"json":false}
/// → {"op":"snapshot-list","json":false}    → {"op":"status-report","json":false,"verify":false}
/// </code>
/// <code>
/// → {"op":"agent-register","agent":"builder","role":"builder","token":null}
/// ← {"ok":true,"agent":"builder","role":"builder","token":"lh1.builder.…","expiresUtc":"…"}
/// </code>
/// agent-register makes the connected process (its pid from SO_PEERCRED, never one named in the request) and everything
/// it starts the agent: <c>lighthouse run</c> asks it for itself, then runs the command in its place. The owner (and
/// root) may name any agent (one not known yet is added, with the role given); others must present a valid token of
/// that agent. A process that already runs as a named agent cannot become another one.
/// snapshot-create and snapshot-delete are the owner's (the mount's user) and root's: others get an error. There is
/// no restore op: restore writes old content, and the mount does not check every file of an old tree for others.
/// </para>
/// </summary>
public sealed class ControlServer : IDisposable
{
    public const int MaxLineBytes = 64 * 1024;

    private readonly string _socketPath;
    private readonly ProjectHost _project;
    private readonly Func<object> _liveStatus;
    private readonly CancellationTokenSource _cts = new();
    private readonly Lock _lock = new();
    private readonly HashSet<Socket> _clients = [];
    private Socket? _listener;
    private Task? _acceptLoop;
    private long _requests;
    private int _disposed;

    public ControlServer(string socketPath, ProjectHost project, Func<object> liveStatus)
    {
        ArgumentException.ThrowIfNullOrEmpty(socketPath);
        _socketPath = Path.GetFullPath(socketPath);
        _project = project ?? throw new ArgumentNullException(nameof(project));
        _liveStatus = liveStatus ?? throw new ArgumentNullException(nameof(liveStatus));
    }

    public string SocketPath => _socketPath;

    /// <summary>Permissions of the socket file (default 0600: only the mount's user may connect).</summary>
    public UnixFileMode SocketMode { get; init; } = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>The user the mount runs as: its peers may do everything; others only read what they may (default: this process's euid).</summary>
    public long OwnerUid { get; init; } = Commands.Native.Geteuid();

    /// <summary>The mount's mount.json, for the status it reports to other users (null in tests).</summary>
    public Commands.MountState? Mount { get; set; }

    /// <summary>Starts the HTTP API in this process (the mount's), returning where it listens; null: this server cannot.
    /// Asked for by <c>lighthouse serve</c> on a mounted project (op "http-start", owner or root only).</summary>
    public Func<Lighthouse.Server.ServerOptions, IReadOnlyList<string>>? StartHttp { get; set; }

    /// <summary>Requests answered so far.</summary>
    public long RequestsServed => Interlocked.Read(ref _requests);

    /// <summary>Called with a line describing a failure of the server itself (not of a request). Default: none.</summary>
    public Action<string>? Log { get; init; }

    /// <summary>Binds the socket (removing a stale one left by a crashed process) and starts accepting clients.</summary>
    public void Start()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (_listener is not null) throw new InvalidOperationException("the control server is already started");
        RemoveStaleSocket(_socketPath);
        Directory.CreateDirectory(Path.GetDirectoryName(_socketPath)!);
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            listener.Bind(new UnixDomainSocketEndPoint(_socketPath));
            File.SetUnixFileMode(_socketPath, SocketMode);
            listener.Listen(16);
        }
        catch
        {
            listener.Dispose();
            throw;
        }
        _listener = listener;
        _acceptLoop = Task.Run(AcceptLoop);
    }

    /// <summary>Removes a socket file nobody listens on; refuses to touch a live one or a file that is not a socket.</summary>
    private static void RemoveStaleSocket(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists && info.LinkTarget is null) return;
        if (!Lighthouse.Cli.Commands.Native.IsSocket(path))
            throw new IOException($"{path} exists and is not a socket; refusing to replace it");
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(path));
            throw new IOException($"another process already serves the control socket {path}");
        }
        catch (SocketException)
        {
            File.Delete(path);
        }
    }

    private async Task AcceptLoop()
    {
        var listener = _listener!;
        while (!_cts.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync(_cts.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e)
            {
                Log?.Invoke($"control socket: accept failed: {e.Message}");
                await Task.Delay(100).ConfigureAwait(false);
                continue;
            }
            lock (_lock)
            {
                if (_cts.IsCancellationRequested) { client.Dispose(); return; }
                _clients.Add(client);
            }
            _ = Task.Run(() => Serve(client));
        }
    }

    private async Task Serve(Socket client)
    {
        try
        {
            var peer = PeerCredentials.Of(client);
            await using var stream = new NetworkStream(client, ownsSocket: false);
            using var reader = new StreamReader(stream, new UTF8Encoding(false), false, 4096);
            await using var writer = new StreamWriter(stream, new UTF8Encoding(false)) { AutoFlush = true, NewLine = "\n" };
            while (!_cts.IsCancellationRequested)
            {
                var line = await ReadLineBounded(reader, _cts.Token).ConfigureAwait(false);
                if (line is null) return;
                if (line.Length == 0) continue;
                if (McpRequest(line) is { } mcp)
                {
                    // The connection becomes an MCP session: the request's answer, then JSON-RPC both ways until it closes.
                    await ServeMcp(mcp, stream, writer).ConfigureAwait(false);
                    return;
                }
                var response = Handle(line, peer);
                Interlocked.Increment(ref _requests);
                await writer.WriteLineAsync(response.ToJsonString()).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // Client went away or the server is stopping.
        }
        catch (Exception e)
        {
            Log?.Invoke($"control socket: {e.GetType().Name}: {e.Message}");
        }
        finally
        {
            lock (_lock) _clients.Remove(client);
            client.Dispose();
        }
    }

    /// <summary>The request if it is <c>{"op":"mcp",...}</c>, which takes over its connection.</summary>
    private static JsonObject? McpRequest(string line)
    {
        try { return JsonNode.Parse(line) is JsonObject o && Str(o, "op") == "mcp" ? o : null; }
        catch (JsonException) { return null; }
    }

    /// <summary>
    /// <c>{"op":"mcp","token":"lh1…"}</c>: the rest of the connection is an MCP session (newline-delimited JSON-RPC) of the
    /// token's agent, served by this process, which holds the store (<c>lighthouse mcp</c> relays its stdio here). The
    /// token decides who acts, whoever the peer is: an agent's token is the owner's delegation to it.
    /// </summary>
    private async Task ServeMcp(JsonObject request, NetworkStream stream, StreamWriter writer)
    {
        Lighthouse.Project.Files.FileCaller caller;
        try { caller = Lighthouse.Server.AgentCallers.FromToken(_project, Str(request, "token"), "mcp"); }
        catch (UnauthorizedAccessException e)
        {
            await writer.WriteLineAsync(Error(e.Message, "failure").ToJsonString()).ConfigureAwait(false);
            return;
        }
        Interlocked.Increment(ref _requests);
        await writer.WriteLineAsync(Ok(new JsonObject { ["agent"] = caller.Agent.Name, ["role"] = caller.Agent.Role }).ToJsonString()).ConfigureAwait(false);
        await Lighthouse.Server.Mcp.AgentMcpSession.RunAsync(_project, caller, stream, stream, _cts.Token).ConfigureAwait(false);
    }

    private static async Task<string?> ReadLineBounded(StreamReader reader, CancellationToken ct)
    {
        var sb = new StringBuilder();
        var buffer = new char[1];
        while (true)
        {
            var n = await reader.ReadAsync(buffer.AsMemory(), ct).ConfigureAwait(false);
            if (n == 0) return sb.Length > 0 ? sb.ToString() : null;
            if (buffer[0] == '\n') return sb.ToString().TrimEnd('\r');
            sb.Append(buffer[0]);
            if (sb.Length > MaxLineBytes) throw new IOException("request line too long");
        }
    }

    /// <summary>Answers one request line. Public for tests and for in-process callers.</summary>
    public JsonObject Handle(string line, PeerCredentials? peer = null)
    {
        JsonObject request;
        try
        {
            request = JsonNode.Parse(line) as JsonObject ?? throw new JsonException("the request is not a JSON object");
        }
        catch (JsonException e)
        {
            return Error($"bad request: {e.Message}", "usage");
        }
        var op = Str(request, "op");
        try
        {
            switch (op)
            {
                case "ping":
                    return Ok(new JsonObject { ["pid"] = Environment.ProcessId });
                case "status":
                    var live = _liveStatus();
                    return Ok(new JsonObject
                    {
                        ["pid"] = Environment.ProcessId,
                        ["lastSeq"] = _project.Store.LastSeq,
                        ["controlRequests"] = RequestsServed + 1,
                        ["mount"] = live is null ? null : JsonSerializer.SerializeToNode(live, live.GetType(), ControlJson.Options),
                    });
                case "verify":
                    return Ok(new JsonObject { ["verify"] = JsonSerializer.SerializeToNode(_project.Store.Verify(), ControlJson.Options) });
                case "log":
                {
                    var options = new LogCommand.Options(null, Str(request, "agent"), null,
                        (request["ops"] as JsonArray)?.Select(x => x?.GetValue<string>() ?? "").ToArray() ?? [],
                        Str(request, "since"), Str(request, "until"), Int(request, "limit") ?? 50, Follow: false, Bool(request, "json"));
                    if (options.Limit < 0) throw new ControlRequestException("--limit must be 0 or more");
                    var upTo = _project.Store.LastSeq;
                    var answer = RunVerb(peer, (ctx, access) =>
                    {
                        LogCommand.Page(ctx, _project.Store, access, options, StorePathOf(request), Long(request, "after"), upTo, Bool(request, "quiet"));
                        return Commands.ExitCodes.Ok;
                    });
                    answer["lastSeq"] = upTo;
                    return answer;
                }
                case "history":
                    return RunVerb(peer, (ctx, access) => HistoryCommand.Print(ctx, _project.Store, access,
                        StorePathOf(request) ?? throw new ControlRequestException("history needs \"path\""), Str(request, "at"), Bool(request, "json"),
                        request["follow"] is null || Bool(request, "follow")));
                case "diff":
                    return RunVerb(peer, (ctx, access) => DiffCommand.Print(ctx, _project.Store, access,
                        Str(request, "from") ?? throw new ControlRequestException("diff needs \"from\""), Str(request, "to"), Bool(request, "patch"),
                        StorePathOf(request), Bool(request, "json")));
                case "snapshot-list":
                    return RunVerb(peer, (ctx, _) => SnapshotCommand.List(ctx, _project.Store, Bool(request, "json")));
                case "status-report":
                {
                    var liveAnswer = Handle("{\"op\":\"status\"}", peer);
                    return RunVerb(peer, (ctx, _) => StatusCommand.Report(ctx, _project.Store.ProjectDir, Mount, liveAnswer, null, _project.Store,
                        Bool(request, "json"), Bool(request, "verify"), () => null));
                }
                case "snapshot-create":
                {
                    RequireOwner(peer, "create snapshots");
                    var name = Str(request, "name") ?? throw new ControlRequestException("snapshot-create needs \"name\"");
                    var at = Str(request, "at");
                    var point = at is null ? (StorePoint?)null : StorePoint.Parse(at);
                    var snapshot = _project.CreateSnapshot(AgentFor(request, peer), name, point);
                    return Ok(new JsonObject
                    {
                        ["seq"] = snapshot.CreatedAtSeq,
                        ["snapshot"] = JsonSerializer.SerializeToNode(snapshot, ControlJson.Options),
                    });
                }
                case "snapshot-delete":
                {
                    RequireOwner(peer, "delete snapshots");
                    var name = Str(request, "name") ?? throw new ControlRequestException("snapshot-delete needs \"name\"");
                    _project.DeleteSnapshot(AgentFor(request, peer), name);
                    return Ok(new JsonObject { ["seq"] = _project.Store.LastSeq });
                }
                case "gc":
                {
                    // Thinning and removal change what everyone's history keeps: the owner of the mount's store only.
                    RequireOwner(peer, "collect garbage (thin versions)");
                    var policy = Commands.GcCommand.WithOverrides(_project.Store.Retention, request["policy"] as JsonObject);
                    var report = _project.Store.CollectGarbage(policy, request["dryRun"]?.GetValue<bool>() ?? false);
                    return Ok(new JsonObject { ["gc"] = JsonSerializer.SerializeToNode(report, ControlJson.Options) });
                }
                case "agent-register":
                    return RegisterAgent(request, peer);
                case "http-start":
                {
                    RequireOwner(peer, "start the HTTP API");
                    var start = StartHttp ?? throw new ControlRequestException("this process cannot serve the HTTP API");
                    var addresses = start(new Lighthouse.Server.ServerOptions
                    {
                        Listen = Str(request, "listen") ?? Lighthouse.Server.ServerOptions.DefaultListen,
                        AllowNonLoopback = Bool(request, "allowRemote"),
                        MaxBodyBytes = Long(request, "maxBody") ?? 64L << 20,
                    });
                    return Ok(new JsonObject { ["addresses"] = new JsonArray([.. addresses.Select(a => (JsonNode)a)]) });
                }
                case null:
                    return Error("bad request: no \"op\"", "usage");
                default:
                    return Error($"unknown op '{op}'; known: ping, status, verify, log, history, diff, snapshot-list, status-report, snapshot-create, snapshot-delete, gc, agent-register, http-start, mcp", "usage");
            }
        }
        catch (ControlRequestException e) { return Error(e.Message, "usage"); }
        catch (NotTheOwnerException e) { return Error(e.Message, "failure"); }
        catch (Commands.CliException e) { return Error(e.Message, "usage"); }
        catch (FormatException e) { return Error(e.Message, "usage"); }
        catch (PointNotFoundException e) { return Error(e.Message, "usage"); }
        catch (SnapshotExistsException e) { return Error(e.Message, "usage"); }
        catch (AgentRegistryException e) { return Error(e.Message, "usage"); }
        catch (StoreException e) { return Error(e.Message, "failure"); }
        catch (ArgumentException e) { return Error(e.Message, "usage"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return Error(e.Message, "failure"); }
    }

    /// <summary>Lifetime of the token a run of the owner's gets (descendants that leave the process tree keep it).</summary>
    public static readonly TimeSpan RunTokenLifetime = TimeSpan.FromDays(7);

    private JsonObject RegisterAgent(JsonObject request, PeerCredentials? peer)
    {
        if (peer is null || peer.Pid <= 0) throw new ControlRequestException("agent-register needs a connected process (it registers the caller itself)");
        var name = Str(request, "agent") ?? throw new ControlRequestException("agent-register needs \"agent\"");
        var role = Str(request, "role");
        var token = Str(request, "token");
        AgentRegistry.CheckName(name);
        if (role is not null) AgentRegistry.CheckName(role, "role");
        var registry = _project.Registry;
        registry.Refresh();
        // A process already working as a named agent stays that agent: one agent cannot start another.
        var already = _project.Agents.Resolve(new Caller((uint)peer.Pid, (uint)peer.Uid, (uint)peer.Gid));
        if (already.Source is AgentSource.Ancestor or AgentSource.Token && already.Name != name)
            throw new NotTheOwnerException($"this process already runs as agent '{already.Name}' (identified by {already.Via}); an agent cannot start another agent");
        NamedAgent known;
        string? runToken = null;
        DateTime? expires = null;
        if (IsOwner(peer))
        {
            known = registry.Find(name) ?? registry.Add(name, role);
            var (issued, text) = registry.IssueToken(name, RunTokenLifetime, $"lighthouse run, pid {peer.Pid}");
            (runToken, expires) = (text, issued.ExpiresUtc);
        }
        else
        {
            if (token is null)
                throw new NotTheOwnerException($"only the mount's owner (uid {OwnerUid}) may run agents without a token; pass agent '{name}''s token (--token or LIGHTHOUSE_TOKEN)");
            var (result, agent, issued) = registry.Check(token);
            if (result != TokenCheck.Valid) throw new NotTheOwnerException($"the token was refused: {ProcessAgentResolver.Describe(result)}");
            if (agent!.Name != name) throw new NotTheOwnerException($"the token is agent '{agent.Name}''s, not '{name}''s");
            if (role is not null && role != agent.Role) throw new NotTheOwnerException($"agent '{name}' has role '{agent.Role ?? "(none)"}'; only the mount's owner may run it with another");
            known = agent;
            (runToken, expires) = (token, issued!.ExpiresUtc);
        }
        var runRole = role ?? known.Role;
        if (!_project.RegisterRun((uint)peer.Pid, name, runRole))
            throw new ControlRequestException($"process {peer.Pid} is gone");
        return Ok(new JsonObject { ["agent"] = name, ["role"] = runRole, ["token"] = runToken, ["expiresUtc"] = expires });
    }

    /// <summary>
    /// The mount's owner (the user it runs as) and root: everything, as with the store itself. A request made in-process
    /// (no peer) is the owner's.
    /// </summary>
    public bool IsOwner(PeerCredentials? peer) => peer is null || peer.Uid == 0 || peer.Uid == OwnerUid;

    private void RequireOwner(PeerCredentials? peer, string what)
    {
        if (!IsOwner(peer))
            throw new NotTheOwnerException($"only the mount's owner (uid {OwnerUid}) and root may {what}; you are uid {peer!.Uid}");
    }

    /// <summary>
    /// Runs a read verb for the peer, its output captured: with no restriction for the owner, and for anyone else with
    /// a <see cref="HistoryAccess"/> of the peer's uid, gid and groups (from /proc/&lt;pid&gt;/status of the connected
    /// process), so the verb shows only what that user could read as of each point.
    /// </summary>
    private JsonObject RunVerb(PeerCredentials? peer, Func<CliContext, HistoryAccess?, int> verb)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var ctx = new CliContext(output, error);
        var access = IsOwner(peer) ? null : new HistoryAccess(_project.Store, HistoryReader.OfProcess(peer!.Pid, peer.Uid, peer.Gid));
        int code;
        try
        {
            code = verb(ctx, access);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            code = CliRunner.Report(ctx, e);
        }
        return Ok(new JsonObject { ["exit"] = code, ["out"] = output.ToString(), ["err"] = error.ToString() });
    }

    /// <summary>A request's "path", normalised as a store path (the client sends one).</summary>
    private static string? StorePathOf(JsonObject request) => Str(request, "path") is { } p ? StorePath.Normalize(p) : null;

    private static bool Bool(JsonObject o, string key) =>
        o.TryGetPropertyValue(key, out var v) && v is JsonValue jv && jv.TryGetValue<bool>(out var b) && b;

    private static long? Long(JsonObject o, string key) =>
        o.TryGetPropertyValue(key, out var v) && v is JsonValue jv && jv.TryGetValue<long>(out var n) ? n : null;

    private static int? Int(JsonObject o, string key) => Long(o, key) is { } n ? (int)Math.Clamp(n, int.MinValue, int.MaxValue) : null;

    private static Agent AgentFor(JsonObject request, PeerCredentials? peer)
    {
        var requested = Str(request, "agent");
        if (peer is null) return new Agent(requested ?? $"{Environment.UserName}/lighthouse", AgentSource.Fallback);
        if (requested is null) return new Agent($"{peer.UserName}/lighthouse", AgentSource.Fallback);
        if (peer.Uid == 0 || requested.StartsWith(peer.UserName + "/", StringComparison.Ordinal)) return new Agent(requested, AgentSource.Fallback);
        throw new ControlRequestException($"agent '{requested}' does not belong to the calling user '{peer.UserName}'");
    }

    private static string? Str(JsonObject o, string key) =>
        o.TryGetPropertyValue(key, out var v) && v is JsonValue jv && jv.TryGetValue<string>(out var s) ? s : null;

    private static JsonObject Ok(JsonObject body)
    {
        var o = new JsonObject { ["ok"] = true };
        foreach (var (k, v) in body.ToList())
        {
            body.Remove(k);
            o[k] = v;
        }
        return o;
    }

    private static JsonObject Error(string message, string kind) => new() { ["ok"] = false, ["error"] = message, ["kind"] = kind };

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _cts.Cancel();
        var listener = _listener;
        listener?.Dispose();
        lock (_lock)
        {
            foreach (var c in _clients)
            {
                try { c.Shutdown(SocketShutdown.Both); } catch (SocketException) { } catch (ObjectDisposedException) { }
                c.Dispose();
            }
            _clients.Clear();
        }
        try { _acceptLoop?.Wait(TimeSpan.FromSeconds(2)); } catch (AggregateException) { }
        if (listener is not null)
        {
            try { File.Delete(_socketPath); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
        _cts.Dispose();
    }

    private sealed class ControlRequestException(string message) : Exception(message);

    private sealed class NotTheOwnerException(string message) : Exception(message);
}

/// <summary>JSON conventions of the control channel: camelCase, enums as kebab-case strings.</summary>
public static class ControlJson
{
    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower) },
    };
}

/// <summary>Who is on the other end of a Unix socket (SO_PEERCRED).</summary>
public sealed record PeerCredentials(int Pid, int Uid, int Gid, string UserName)
{
    private const int SOL_SOCKET = 1;
    private const int SO_PEERCRED = 17;

    public static PeerCredentials? Of(Socket s)
    {
        try
        {
            Span<byte> buf = stackalloc byte[12];
            var n = s.GetRawSocketOption(SOL_SOCKET, SO_PEERCRED, buf);
            if (n < 12) return null;
            var pid = BitConverter.ToInt32(buf[..4]);
            var uid = BitConverter.ToInt32(buf[4..8]);
            var gid = BitConverter.ToInt32(buf[8..12]);
            return new PeerCredentials(pid, uid, gid, UserNameOf(uid));
        }
        catch (SocketException)
        {
            return null;
        }
    }

    /// <summary>The user name of a uid from /etc/passwd, or "uid&lt;N&gt;".</summary>
    public static string UserNameOf(int uid)
    {
        try
        {
            foreach (var line in File.ReadLines("/etc/passwd"))
            {
                var f = line.Split(':');
                if (f.Length > 2 && int.TryParse(f[2], out var u) && u == uid) return f[0];
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        return uid == 0 ? "root" : "uid" + uid;
    }
}
