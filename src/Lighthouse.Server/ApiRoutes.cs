using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Lighthouse.Project;
using Lighthouse.Project.Agents;
using Lighthouse.Project.Feed;
using Lighthouse.Project.Files;
using Lighthouse.Store;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;

namespace Lighthouse.Server;

/// <summary>
/// The routes of the HTTP API (all under /v1, all behind <c>Authorization: Bearer &lt;agent token&gt;</c>):
/// <list type="bullet">
/// <item><c>GET /v1/status</c>: the project, the caller's agent, the recorder.</item>
/// <item><c>GET /v1/tree/{path}?at=</c>: a directory's entries, now or as of a point.</item>
/// <item><c>GET|PUT|DELETE /v1/files/{path}</c>: a file's bytes (GET <c>?at=</c> a point); ETag = the version's content hash;
/// PUT and DELETE honour <c>If-Match</c> (412 when stale) and PUT <c>If-None-Match: *</c> (create only).</item>
/// <item><c>GET /v1/events?since=&amp;agent=&amp;path=&amp;op=&amp;limit=</c>: events after <c>since</c>, oldest first, with the next cursor.</item>
/// <item><c>GET /v1/events/stream</c>: server-sent events (<c>id:</c> the event number; resume with Last-Event-ID).</item>
/// <item><c>GET /v1/history/{path}?at=</c>, <c>GET /v1/diff?from=&amp;to=&amp;path=</c>, <c>GET /v1/search?q=&amp;path=</c>,
/// <c>POST /v1/snapshots</c>, <c>POST /v1/restore</c>.</item>
/// </list>
/// Errors are application/problem+json: 400 bad path or argument, 401 no valid token, 403 refused by the policy, 404 not
/// found (or hidden), 409 conflict, 412 stale If-Match, 413 body too large.
/// </summary>
internal static class ApiRoutes
{
    private const string FilesPrefix = "/v1/files/", TreePrefix = "/v1/tree/", HistoryPrefix = "/v1/history/";
    private static readonly JsonWriterOptions JsonOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static void Map(WebApplication app, ProjectHost host, EventFeed feed, ServerOptions options)
    {
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        // Kestrel removes dot segments ("%2e%2e" included) before routing, so "/v1/files/../x" would reach no route and be
        // a bare 404: the raw target is judged first, and a bad path is a 400 that says why.
        app.Use(async (ctx, next) =>
        {
            var raw = ctx.Features.Get<IHttpRequestFeature>()?.RawTarget ?? "";
            foreach (var prefix in (string[])[FilesPrefix, TreePrefix, HistoryPrefix])
            {
                if (!raw.StartsWith(prefix, StringComparison.Ordinal)) continue;
                try { PathOf(ctx, prefix); }
                catch (FileServiceException e)
                {
                    await Problem(e).ExecuteAsync(ctx).ConfigureAwait(false);
                    return;
                }
                break;
            }
            await next(ctx).ConfigureAwait(false);
        });
        var files = host.Files;
        var v1 = app.MapGroup("/v1");

        v1.MapGet("/status", (HttpContext ctx) => Guarded(ctx, host, caller =>
        {
            var s = host.Status();
            return Results.Json(new
            {
                project = s.ProjectDir, agent = caller.Agent.Name, role = caller.Agent.Role, agentVia = caller.Agent.Via, lastSeq = s.LastSeq,
                recorded = s.RecordsDone, backlog = s.Backlog, recordingFailures = s.RecordingFailures, lastRecordingError = s.LastRecordingError,
                externalEvents = s.ExternalEvents, streams = feed.SubscriptionCount, maxBodyBytes = options.MaxBodyBytes,
            });
        }));

        RequestDelegate tree = ctx => Guarded(ctx, host, caller =>
        {
            var listing = files.List(caller, PathOf(ctx, TreePrefix), Query(ctx, "at"));
            return Results.Json(new
            {
                path = listing.Path, seq = listing.Seq,
                entries = listing.Entries.Select(e => new
                {
                    name = e.Name, path = e.Path, kind = Kind(e.Kind), size = e.Size, mode = Convert.ToString(e.Mode, 8), mtimeNs = e.MtimeNs, target = e.Target,
                }),
            });
        });
        v1.MapGet("/tree", tree);
        v1.MapGet("/tree/{**path}", tree);

        v1.MapGet("/files/{**path}", (HttpContext ctx) => GuardedAsync(ctx, host, async caller =>
        {
            using var read = files.Read(caller, PathOf(ctx, FilesPrefix), Query(ctx, "at"));
            var etag = Quote(read.ContentHash);
            ctx.Response.Headers.ETag = etag;
            ctx.Response.Headers["X-Lighthouse-Kind"] = Kind(read.Kind);
            ctx.Response.Headers["X-Lighthouse-Mode"] = Convert.ToString(read.Mode, 8);
            if (read.Seq is { } seq) ctx.Response.Headers["X-Lighthouse-Seq"] = seq.ToString(CultureInfo.InvariantCulture);
            ctx.Response.Headers.LastModified = DateTimeOffset.FromUnixTimeMilliseconds(read.MtimeNs / 1_000_000).ToString("R");
            if (Matches(ctx.Request.Headers.IfNoneMatch, read.ContentHash)) return Results.StatusCode(StatusCodes.Status304NotModified);
            ctx.Response.ContentType = "application/octet-stream";
            ctx.Response.ContentLength = read.Size;
            await read.Content.CopyToAsync(ctx.Response.Body, 1 << 16, ctx.RequestAborted).ConfigureAwait(false);
            return Results.Empty;
        }));

        v1.MapPut("/files/{**path}", (HttpContext ctx) => Guarded(ctx, host, caller =>
        {
            if (ctx.Request.ContentLength is { } length && length > options.MaxBodyBytes) return TooLarge(options);
            var expect = new WritePrecondition
            {
                IfMatch = ctx.Request.Headers.IfMatch.Count > 0 && ctx.Request.Headers.IfMatch.ToString().Trim() != "*" ? Unquote(ctx.Request.Headers.IfMatch.ToString()) : null,
                CreateOnly = ctx.Request.Headers.IfNoneMatch.ToString().Trim() == "*",
            };
            var result = files.Write(caller, PathOf(ctx, FilesPrefix), ctx.Request.Body, expect);
            ctx.Response.Headers.ETag = Quote(result.ContentHash);
            var body = new { path = result.Path, created = result.Created, contentHash = result.ContentHash, size = result.Size, directoriesCreated = result.DirectoriesCreated };
            return result.Created ? Results.Json(body, statusCode: StatusCodes.Status201Created) : Results.Json(body);
        }));

        v1.MapDelete("/files/{**path}", (HttpContext ctx) => Guarded(ctx, host, caller =>
        {
            var ifMatch = ctx.Request.Headers.IfMatch.Count > 0 && ctx.Request.Headers.IfMatch.ToString().Trim() != "*" ? Unquote(ctx.Request.Headers.IfMatch.ToString()) : null;
            files.Delete(caller, PathOf(ctx, FilesPrefix), ifMatch);
            return Results.NoContent();
        }));

        v1.MapGet("/events", (HttpContext ctx) => Guarded(ctx, host, caller =>
        {
            long since = LongQuery(ctx, "since") ?? 0;
            int limit = (int)(LongQuery(ctx, "limit") ?? 100);
            var page = files.Events(caller, since, Filter(ctx), limit);
            var buffer = new ArrayBufferWriter<byte>(4096);
            using (var w = new Utf8JsonWriter(buffer, JsonOptions))
            {
                w.WriteStartObject();
                w.WriteStartArray("events");
                foreach (var e in page.Events) FeedFormat.Write(w, e);
                w.WriteEndArray();
                w.WriteNumber("next", page.Next);
                w.WriteBoolean("more", page.More);
                w.WriteEndObject();
            }
            return Results.Bytes(buffer.WrittenMemory.ToArray(), "application/json");
        }));

        v1.MapGet("/events/stream", (HttpContext ctx) => GuardedAsync(ctx, host, async caller =>
        {
            await EventStream.Serve(ctx, caller, files, feed, Filter(ctx), options.Heartbeat).ConfigureAwait(false);
            return Results.Empty;
        }));

        v1.MapGet("/history/{**path}", (HttpContext ctx) => Guarded(ctx, host, caller =>
        {
            var path = PathOf(ctx, HistoryPrefix);
            var versions = files.History(caller, path, Query(ctx, "at"));
            return Results.Json(new
            {
                path,
                versions = versions.Select(v => new
                {
                    version = v.VersionSeq, time = v.TimeUtc, agent = v.Agent, op = EventOpNames.Name(v.Op), path = v.Path, fileId = v.FileId,
                    kind = Kind(v.Attributes.Kind), size = v.Attributes.Size, mode = Convert.ToString(v.Attributes.Mode, 8), mtimeNs = v.Attributes.MtimeNs,
                    content = v.ContentState.ToString().ToLowerInvariant(), contentHash = v.ContentHash, capturedAt = v.CapturedAtSeq,
                }),
            });
        }));

        v1.MapGet("/diff", (HttpContext ctx) => Guarded(ctx, host, caller =>
        {
            var from = Query(ctx, "from") ?? throw new FileServiceException(FileProblem.BadRequest, "give ?from= a point (@N, a UTC time or a snapshot name)");
            var diff = files.Diff(caller, from, Query(ctx, "to"), Query(ctx, "path"));
            return Results.Json(new
            {
                from = diff.From, to = diff.To,
                changes = diff.Changes.Select(c => new
                {
                    path = c.Path, change = c.Change.ToString().ToLowerInvariant(), kindBefore = c.KindBefore is { } b ? Kind(b) : null,
                    kindAfter = c.KindAfter is { } a ? Kind(a) : null, hashBefore = c.HashBefore, hashAfter = c.HashAfter,
                }),
            });
        }));

        v1.MapGet("/search", (HttpContext ctx) => Guarded(ctx, host, caller =>
        {
            var q = Query(ctx, "q") ?? throw new FileServiceException(FileProblem.BadRequest, "give ?q= a regular expression (or a plain string with &literal=true)");
            var result = files.Search(caller, q, Query(ctx, "path"), Bool(ctx, "literal"), Bool(ctx, "ignoreCase"), (int)(LongQuery(ctx, "limit") ?? 200));
            return Results.Json(new
            {
                matches = result.Matches.Select(m => new { path = m.Path, line = m.Line, text = m.Text }),
                filesSearched = result.FilesSearched, truncated = result.Truncated,
            });
        }));

        v1.MapPost("/snapshots", (HttpContext ctx) => Guarded(ctx, host, caller =>
        {
            var body = JsonBody(ctx);
            var snap = files.CreateSnapshot(caller, Str(body, "name") ?? throw new FileServiceException(FileProblem.BadRequest, "give {\"name\": ...}"), Str(body, "at"));
            return Results.Json(new { name = snap.Name, seq = snap.Seq, createdBy = snap.CreatedBy, created = snap.CreatedUtc }, statusCode: StatusCodes.Status201Created);
        }));

        v1.MapPost("/restore", (HttpContext ctx) => Guarded(ctx, host, caller =>
        {
            var body = JsonBody(ctx);
            var at = Str(body, "at") ?? throw new FileServiceException(FileProblem.BadRequest, "give {\"path\": ..., \"at\": a point}");
            bool dryRun = body.TryGetProperty("dryRun", out var d) && d.ValueKind == JsonValueKind.True;
            var outcome = files.Restore(caller, Str(body, "path") ?? "", at, dryRun);
            return Results.Json(new
            {
                path = outcome.Path, seq = outcome.Seq, dryRun = outcome.DryRun,
                steps = outcome.Steps.Select(s => new { action = s.Action, path = s.Path }),
                failures = outcome.Failures.Select(f => new { path = f.Path, message = f.Message }),
            }, statusCode: outcome.Failures.Count == 0 ? 200 : StatusCodes.Status207MultiStatus);
        }));
    }

    // ------------------------------------------------------------------ authentication and errors

    /// <summary>The agent the request's bearer token names, or null with the reason (the 401's detail).</summary>
    internal static FileCaller? Authenticate(HttpContext ctx, ProjectHost host, out string why)
    {
        var header = ctx.Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            why = "send the agent's token as 'Authorization: Bearer <token>' (lighthouse agent token <name>)";
            return null;
        }
        return AgentCallers.TryFromToken(host, header[7..], "http", out why);
    }

    private static Task Guarded(HttpContext ctx, ProjectHost host, Func<FileCaller, IResult> handle) =>
        GuardedAsync(ctx, host, caller => Task.FromResult(handle(caller)));

    /// <summary>Authenticates, runs the handler, and turns what it throws into problem+json.</summary>
    private static async Task GuardedAsync(HttpContext ctx, ProjectHost host, Func<FileCaller, Task<IResult>> handle)
    {
        IResult result;
        var caller = Authenticate(ctx, host, out var why);
        if (caller is null)
        {
            ctx.Response.Headers.WWWAuthenticate = "Bearer realm=\"lighthouse\"";
            result = Results.Problem(why, statusCode: StatusCodes.Status401Unauthorized, title: "Unauthorized");
        }
        else
        {
            try { result = await handle(caller).ConfigureAwait(false); }
            catch (FileServiceException e) { result = Problem(e); }
            catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge) { result = Results.Problem(e.Message, statusCode: 413, title: "Payload Too Large"); }
            catch (BadHttpRequestException e) { result = Results.Problem(e.Message, statusCode: e.StatusCode); }
            catch (StoreException e) { result = Results.Problem(e.Message, statusCode: StatusCodes.Status409Conflict, title: "Conflict"); }
            catch (OperationCanceledException) when (ctx.RequestAborted.IsCancellationRequested) { return; }
            catch (JsonException e) { result = Results.Problem($"the body is not valid JSON: {e.Message}", statusCode: 400, title: "Bad Request"); }
        }
        if (ctx.Response.HasStarted) return;
        await result.ExecuteAsync(ctx).ConfigureAwait(false);
    }

    private static IResult Problem(FileServiceException e)
    {
        var (status, title) = e.Problem switch
        {
            FileProblem.BadPath => (400, "Bad Path"),
            FileProblem.BadRequest => (400, "Bad Request"),
            FileProblem.NotFound => (404, "Not Found"),
            FileProblem.Forbidden => (403, "Forbidden"),
            FileProblem.PreconditionFailed => (412, "Precondition Failed"),
            FileProblem.Unavailable => (404, "Not Available"),
            _ => (409, "Conflict"),
        };
        return Results.Problem(e.Message, statusCode: status, title: title);
    }

    private static IResult TooLarge(ServerOptions options) =>
        Results.Problem($"the body is larger than {options.MaxBodyBytes} bytes, the limit of this server (--max-body)", statusCode: 413, title: "Payload Too Large");

    // ------------------------------------------------------------------ request parts

    /// <summary>
    /// The project path of a request, from its raw target (as the client sent it, decoded once), so that "%2F" is a '/',
    /// "%2e%2e" a "..", and both are judged by the path rules (400), never by a router's normalisation.
    /// </summary>
    internal static string PathOf(HttpContext ctx, string prefix)
    {
        var raw = ctx.Features.Get<IHttpRequestFeature>()?.RawTarget ?? ctx.Request.Path.Value ?? "";
        int q = raw.IndexOf('?');
        if (q >= 0) raw = raw[..q];
        string encoded;
        if (raw.StartsWith(prefix, StringComparison.Ordinal)) encoded = raw[prefix.Length..];
        else if (raw == prefix.TrimEnd('/')) encoded = "";
        else encoded = ctx.Request.RouteValues["path"] as string ?? "";
        string decoded;
        try { decoded = Uri.UnescapeDataString(encoded); }
        catch (UriFormatException) { throw new FileServiceException(FileProblem.BadPath, "the path is not correctly percent-encoded"); }
        return ProjectPaths.Parse(decoded);
    }

    private static string? Query(HttpContext ctx, string name) => ctx.Request.Query.TryGetValue(name, out var v) && v.Count > 0 && v[0]!.Length > 0 ? v[0] : null;

    private static long? LongQuery(HttpContext ctx, string name)
    {
        var text = Query(ctx, name);
        if (text is null) return null;
        return long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n)
            ? n : throw new FileServiceException(FileProblem.BadRequest, $"?{name}= takes a number, not '{text}'");
    }

    private static bool Bool(HttpContext ctx, string name) => Query(ctx, name) is "1" or "true" or "yes";

    /// <summary>The filter of /events and /events/stream: agent, path (and under it), op (comma-separated names).</summary>
    internal static FeedFilter? Filter(HttpContext ctx)
    {
        string? agent = Query(ctx, "agent"), path = Query(ctx, "path"), ops = Query(ctx, "op");
        if (agent is null && path is null && ops is null) return null;
        HashSet<EventOp>? set = null;
        if (ops is not null)
        {
            set = [];
            foreach (var name in ops.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                set.Add(EventOpNames.TryParse(name, out var op) ? op
                    : throw new FileServiceException(FileProblem.BadRequest, $"'{name}' is not an operation (one of {string.Join(", ", EventOpNames.All.Select(EventOpNames.Name))})"));
        }
        return new FeedFilter { Agent = agent, PathPrefix = path is null ? null : ProjectPaths.Parse(path), Operations = set };
    }

    private static JsonElement JsonBody(HttpContext ctx)
    {
        using var doc = JsonDocument.Parse(ctx.Request.Body);
        if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new FileServiceException(FileProblem.BadRequest, "the body must be a JSON object");
        return doc.RootElement.Clone();
    }

    private static string? Str(JsonElement body, string name) =>
        body.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static string Kind(FileKind kind) => kind switch
    {
        FileKind.CharDevice => "char-device",
        FileKind.BlockDevice => "block-device",
        _ => kind.ToString().ToLowerInvariant(),
    };

    private static string Quote(string hash) => "\"" + hash + "\"";

    private static string Unquote(string etag)
    {
        var t = etag.Trim();
        if (t.StartsWith("W/", StringComparison.Ordinal)) t = t[2..];
        return t.Trim('"');
    }

    private static bool Matches(Microsoft.Extensions.Primitives.StringValues header, string hash)
    {
        foreach (var v in header)
            foreach (var part in (v ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
                if (part == "*" || string.Equals(Unquote(part), hash, StringComparison.OrdinalIgnoreCase)) return true;
        return false;
    }
}
