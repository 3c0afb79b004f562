using System.Globalization;
using System.Text;
using Lighthouse.Project.Feed;
using Lighthouse.Project.Files;
using Microsoft.AspNetCore.Http;

namespace Lighthouse.Server;

/// <summary>
/// <c>GET /v1/events/stream</c>: the project's events as server-sent events, each <c>id: &lt;seq&gt;</c> and
/// <c>data: &lt;the JSON line of streams/ and lighthouse log --json&gt;</c>. Where it starts: after the
/// <c>Last-Event-ID</c> a reconnecting client sends, else after <c>?since=N</c>, else with the next new event. Events the
/// caller's agent may not read are left out; a reader that falls far behind gets an <c>event: gap</c> naming the events
/// it missed (they are in the log: reconnect with Last-Event-ID set before the gap). A comment every heartbeat keeps an
/// idle stream alive.
/// </summary>
internal static class EventStream
{
    public static async Task Serve(HttpContext ctx, FileCaller caller, ProjectFiles files, EventFeed feed, FeedFilter? filter, TimeSpan heartbeat)
    {
        long from;
        var lastId = ctx.Request.Headers["Last-Event-ID"].ToString();
        if (lastId.Length > 0)
        {
            if (!long.TryParse(lastId, NumberStyles.None, CultureInfo.InvariantCulture, out var id))
                throw new FileServiceException(FileProblem.BadRequest, $"Last-Event-ID '{lastId}' is not an event number");
            from = id + 1;
        }
        else if (ctx.Request.Query.TryGetValue("since", out var since) && since.Count > 0 && since[0]!.Length > 0)
        {
            if (!long.TryParse(since[0], NumberStyles.None, CultureInfo.InvariantCulture, out var s))
                throw new FileServiceException(FileProblem.BadRequest, $"?since= takes an event number, not '{since[0]}'");
            from = s + 1;
        }
        else from = files.Host.Store.LastSeq + 1;

        using var subscription = feed.Subscribe(Math.Max(1, from), filter);
        var response = ctx.Response;
        response.StatusCode = 200;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        ctx.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpResponseBodyFeature>()?.DisableBuffering();
        var body = response.Body;
        var abort = ctx.RequestAborted;
        await body.WriteAsync("retry: 1000\n: lighthouse event stream\n\n"u8.ToArray(), abort).ConfigureAwait(false);
        await body.FlushAsync(abort).ConfigureAwait(false);

        Task<FeedItem>? pending = null;
        try
        {
            while (!abort.IsCancellationRequested)
            {
                pending ??= subscription.ReadAsync(abort).AsTask();
                var tick = Task.Delay(heartbeat, abort);
                if (await Task.WhenAny(pending, tick).ConfigureAwait(false) != pending)
                {
                    await body.WriteAsync(": heartbeat\n\n"u8.ToArray(), abort).ConfigureAwait(false);
                    await body.FlushAsync(abort).ConfigureAwait(false);
                    continue;
                }
                var item = await pending.ConfigureAwait(false);
                pending = null;
                await Write(body, item, caller, files, abort).ConfigureAwait(false);
                // Whatever else is ready goes in the same flush.
                for (int n = 0; n < 256 && subscription.TryRead(out var more); n++) await Write(body, more, caller, files, abort).ConfigureAwait(false);
                await body.FlushAsync(abort).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) { } // the client went away
        catch (ObjectDisposedException) { }    // the server is stopping
        catch (IOException) { }                // the connection broke
    }

    private static async Task Write(Stream body, FeedItem item, FileCaller caller, ProjectFiles files, CancellationToken abort)
    {
        if (item.Event is { } e)
        {
            if (!files.MaySee(caller, e)) return;
            var json = FeedFormat.ToUtf8JsonLine(item); // one line, ending with '\n'
            var head = Encoding.ASCII.GetBytes($"id: {e.Seq}\ndata: ");
            await body.WriteAsync(head, abort).ConfigureAwait(false);
            await body.WriteAsync(json, abort).ConfigureAwait(false);
            await body.WriteAsync("\n"u8.ToArray(), abort).ConfigureAwait(false);
        }
        else
        {
            var json = FeedFormat.ToUtf8JsonLine(item);
            // No id: a client that reconnects then resumes before the gap, where the events it missed are (still in the log).
            var head = "event: gap\ndata: "u8.ToArray();
            await body.WriteAsync(head, abort).ConfigureAwait(false);
            await body.WriteAsync(json, abort).ConfigureAwait(false);
            await body.WriteAsync("\n"u8.ToArray(), abort).ConfigureAwait(false);
        }
    }
}
