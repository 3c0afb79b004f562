using System.Text;
using Lighthouse.Project;
using Lighthouse.Project.Feed;
using Lighthouse.Project.Files;
using Lighthouse.Store;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace Lighthouse.Server.Mcp;

/// <summary>
/// One MCP session of one agent: its tools (<see cref="McpTools"/>), the project's files and event feed as resources,
/// and subscriptions that notify the client when a subscribed resource changes — whoever changed it (another agent
/// through the mount, the HTTP API, an editor beside the mount). Built per session, so every call is the agent whose
/// token opened it; the same code serves stdio (<c>lighthouse mcp</c>), a mount's control socket and HTTP's <c>/mcp</c>.
/// </summary>
/// <remarks>
/// Resources: <c>lighthouse://files/{+path}</c> (a file's current content; a URI ending in '/' subscribes to everything
/// under that directory) and <c>lighthouse://events</c> (the latest events as JSON lines, the form of
/// <c>streams/events.jsonl</c>). Subscriptions: the resources/subscribe request of protocol revisions up to 2025-11-25,
/// and the URIs of a subscriptions/listen request (2026-07-28 on; kept for the session). Notifications come from the project's <see cref="EventFeed"/>, filtered by what the agent may see
/// (<see cref="ProjectFiles.MaySee"/>): a subscriber never learns of changes to paths its agent may not read.
/// </remarks>
public sealed class AgentMcpSession : IAsyncDisposable
{
    public const string FileUriPrefix = "lighthouse://files/";
    public const string EventsUri = "lighthouse://events";
    /// <summary>Events the events resource shows when read.</summary>
    public const int EventsResourceCount = 100;

    private readonly ProjectHost _host;
    private readonly ProjectFiles _files;
    private readonly FileCaller _caller;
    private readonly Lock _gate = new();
    private readonly HashSet<string> _subscribed = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();
    private McpServer? _server;
    private FeedSubscription? _feed;
    private Task? _pump;

    public AgentMcpSession(ProjectHost host, FileCaller caller)
    {
        _host = host;
        _files = host.Files;
        _caller = caller;
    }

    public FileCaller Caller => _caller;

    /// <summary>Notifications sent so far (for tests and status).</summary>
    public long NotificationsSent => Interlocked.Read(ref _notifications);
    private long _notifications;

    /// <summary>Fills <paramref name="options"/> with this session's tools, resources and handlers.</summary>
    public void Configure(McpServerOptions options)
    {
        options.ServerInfo ??= new Implementation { Name = "lighthouse", Version = typeof(AgentMcpSession).Assembly.GetName().Version?.ToString() ?? "0" };
        options.ServerInstructions ??=
            $"Lighthouse project {_host.ProjectDir}. You act as agent '{_caller.Agent.Name}': every change you make is recorded under that name " +
            "and checked against the project's access policy. Use if_match with the version read_file returns to avoid overwriting another agent's change.";
        options.Capabilities ??= new ServerCapabilities();
        options.Capabilities.Resources = new ResourcesCapability { Subscribe = true, ListChanged = false };
        options.ToolCollection ??= [];
        foreach (var tool in new McpTools(_files, _caller).All()) options.ToolCollection.Add(tool);
        options.Handlers.ListResourcesHandler = (_, _) => ValueTask.FromResult(new ListResourcesResult
        {
            Resources = [new Resource { Uri = EventsUri, Name = "events", Description = "The latest events of the project's log, one JSON object per line", MimeType = "application/jsonl" }],
        });
        options.Handlers.ListResourceTemplatesHandler = (_, _) => ValueTask.FromResult(new ListResourceTemplatesResult
        {
            ResourceTemplates = [new ResourceTemplate { UriTemplate = FileUriPrefix + "{+path}", Name = "file", Description = "A file of the project, as it is now" }],
        });
        options.Handlers.ReadResourceHandler = (ctx, _) => ValueTask.FromResult(Read(ctx.Params?.Uri ?? throw new McpException("no uri")));
        options.Handlers.SubscribeToResourcesHandler = (ctx, _) =>
        {
            Subscribe(ctx.Server, ctx.Params?.Uri ?? throw new McpException("no uri"));
            return ValueTask.FromResult(new EmptyResult());
        };
        // Protocol revision 2026-07-28 replaces resources/subscribe with a long-lived subscriptions/listen naming the URIs;
        // the SDK answers it and carries what we send, but does not filter: its URIs become this session's subscriptions.
        options.Filters.Message.IncomingFilters.Add(next => async (context, cancellationToken) =>
        {
            if (context.JsonRpcMessage is JsonRpcRequest { Method: RequestMethods.SubscriptionsListen } listen
                && listen.Params?["notifications"]?["resourceSubscriptions"] is System.Text.Json.Nodes.JsonArray uris)
                foreach (var uri in uris)
                    if (uri?.GetValueKind() == System.Text.Json.JsonValueKind.String)
                        try { Subscribe(context.Server, uri.GetValue<string>()); }
                        catch (McpException) { } // a URI we do not serve: never notified, as the SDK acknowledges it
            await next(context, cancellationToken).ConfigureAwait(false);
        });
        options.Handlers.UnsubscribeFromResourcesHandler = (ctx, _) =>
        {
            var uri = Normalize(ctx.Params?.Uri ?? throw new McpException("no uri"));
            lock (_gate) _subscribed.Remove(uri);
            return ValueTask.FromResult(new EmptyResult());
        };
    }

    /// <summary>Runs the session over a pair of streams (stdio, a control-socket connection) until the client goes away.</summary>
    public static async Task RunAsync(ProjectHost host, FileCaller caller, Stream input, Stream output, CancellationToken cancellationToken = default)
    {
        await using var session = new AgentMcpSession(host, caller);
        var options = new McpServerOptions();
        session.Configure(options);
        await using var transport = new StreamServerTransport(input, output, "lighthouse");
        await using var server = McpServer.Create(transport, options);
        await server.RunAsync(cancellationToken).ConfigureAwait(false);
    }

    private ReadResourceResult Read(string uri)
    {
        if (uri == EventsUri)
        {
            long after = Math.Max(0, _host.Store.LastSeq - 10 * EventsResourceCount);
            var events = _files.Events(_caller, after, null, 1000).Events.TakeLast(EventsResourceCount);
            var text = new StringBuilder();
            foreach (var e in events) text.Append(FeedFormat.ToJsonLine(e));
            return new ReadResourceResult { Contents = [new TextResourceContents { Uri = uri, MimeType = "application/jsonl", Text = text.ToString() }] };
        }
        var path = FilePath(uri);
        try
        {
            using var read = _files.Read(_caller, path);
            using var buffer = new MemoryStream();
            read.Content.CopyTo(buffer);
            var bytes = buffer.ToArray();
            ResourceContents contents = bytes.AsSpan(0, Math.Min(bytes.Length, 8192)).Contains((byte)0)
                ? BlobResourceContents.FromBytes(bytes, uri, "application/octet-stream")
                : new TextResourceContents { Uri = uri, MimeType = "text/plain", Text = Encoding.UTF8.GetString(bytes) };
            return new ReadResourceResult { Contents = [contents] };
        }
        catch (FileServiceException e) { throw new McpException($"{McpTools.ProblemWord(e.Problem)}: {e.Message}"); }
    }

    private void Subscribe(McpServer server, string uri)
    {
        uri = Normalize(uri);
        if (uri != EventsUri) FilePath(uri); // a bad path is refused now, not silently never notified
        lock (_gate)
        {
            _server ??= server;
            _subscribed.Add(uri);
            if (_feed is not null) return;
            // From the next event on: a subscription is about changes from now.
            _feed = _host.Feed.Subscribe(_host.Store.LastSeq + 1);
            _pump = Task.Run(Pump);
        }
    }

    /// <summary>Reads the feed and sends resources/updated for every subscribed URI an event touches.</summary>
    private async Task Pump()
    {
        var token = _stop.Token;
        try
        {
            while (!token.IsCancellationRequested)
            {
                var item = await _feed!.ReadAsync(token).ConfigureAwait(false);
                List<string> due;
                lock (_gate)
                {
                    // A gap means events were skipped: every subscription may be stale.
                    due = item.Event is { } e ? (_files.MaySee(_caller, e) ? [.. _subscribed.Where(uri => Touches(uri, e))] : []) : [.. _subscribed];
                }
                foreach (var uri in due)
                {
                    await _server!.SendNotificationAsync(NotificationMethods.ResourceUpdatedNotification,
                        new ResourceUpdatedNotificationParams { Uri = uri }, cancellationToken: token).ConfigureAwait(false);
                    Interlocked.Increment(ref _notifications);
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException) { }
        catch (Exception e) when (e is IOException or InvalidOperationException)
        {
            // The client went away: nothing left to notify.
        }
    }

    private static bool Touches(string uri, StoreEvent e)
    {
        if (uri == EventsUri) return true;
        var path = uri[FileUriPrefix.Length..];
        return Matches(path, e.Path) || (e.Path2 is { } p2 && Matches(path, p2));

        static bool Matches(string subscribed, string changed) => subscribed.EndsWith('/')
            ? StorePath.IsSelfOrUnder(changed, subscribed.TrimEnd('/'))
            : changed == subscribed;
    }

    /// <summary>The project path a file URI names (percent-decoded, checked as every service path is).</summary>
    private static string FilePath(string uri)
    {
        if (!uri.StartsWith(FileUriPrefix, StringComparison.Ordinal))
            throw new McpException($"unknown resource '{uri}': resources are {EventsUri} and {FileUriPrefix}<path>");
        var raw = Uri.UnescapeDataString(uri[FileUriPrefix.Length..]);
        try
        {
            return raw.EndsWith('/') ? ProjectPaths.Parse(raw.TrimEnd('/')) + "/" : ProjectPaths.Parse(raw);
        }
        catch (FileServiceException e) { throw new McpException($"bad path: {e.Message}"); }
    }

    /// <summary>One spelling per resource, so a subscription and the URI an event maps to compare equal.</summary>
    private static string Normalize(string uri) => uri == EventsUri ? uri : FileUriPrefix + FilePath(uri);

    public async ValueTask DisposeAsync()
    {
        FeedSubscription? feed;
        Task? pump;
        lock (_gate) { feed = _feed; pump = _pump; _feed = null; }
        await _stop.CancelAsync().ConfigureAwait(false);
        feed?.Dispose();
        if (pump is not null) await pump.ConfigureAwait(false);
        _stop.Dispose();
    }
}
