using System.Net;
using System.Text.Json;

namespace Lighthouse.Server.Tests;

/// <summary>GET /v1/events/stream: server-sent events resumable with Last-Event-ID, with no event lost or repeated.</summary>
public sealed class EventStreamTests
{
    /// <summary>Reads SSE frames from an open stream: (id, data) for events, ("gap", data) for gaps, (null, comment) for comments.</summary>
    private sealed class SseReader(Stream body) : IDisposable
    {
        private readonly StreamReader _reader = new(body);

        public async Task<(string? Id, string? Event, string Data, bool Comment)> Next(CancellationToken ct)
        {
            string? id = null, ev = null;
            var data = new List<string>();
            bool comment = false;
            while (true)
            {
                var line = await _reader.ReadLineAsync(ct) ?? throw new EndOfStreamException();
                if (line.Length == 0)
                {
                    if (id is null && ev is null && data.Count == 0 && !comment) continue;
                    return (id, ev, string.Join("\n", data), comment && data.Count == 0);
                }
                if (line.StartsWith(':')) { comment = true; continue; }
                if (line.StartsWith("id: ")) id = line[4..];
                else if (line.StartsWith("event: ")) ev = line[7..];
                else if (line.StartsWith("data: ")) data.Add(line[6..]);
            }
        }

        public void Dispose() => _reader.Dispose();
    }

    private static async Task<(HttpResponseMessage Response, SseReader Reader)> Open(ServedProject p, string url, string? lastEventId = null)
    {
        var request = p.Request(HttpMethod.Get, url, p.BuilderToken);
        if (lastEventId is not null) request.Headers.Add("Last-Event-ID", lastEventId);
        var response = await p.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
        return (response, new SseReader(await response.Content.ReadAsStreamAsync()));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_stream_resumed_with_Last_Event_ID_after_a_disconnect_loses_and_repeats_nothing(bool unix)
    {
        await using var p = await ServedProject.StartAsync(unix);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        for (int i = 0; i < 10; i++) await p.Put($"a/{i}.txt", $"first {i}");
        var received = new List<long>();

        var (response, reader) = await Open(p, "/v1/events/stream?since=0");
        while (received.Count < 7) // mid-stream: part of what is there
        {
            var frame = await reader.Next(timeout.Token);
            if (frame.Id is null) continue;
            var json = JsonDocument.Parse(frame.Data).RootElement;
            Assert.Equal(long.Parse(frame.Id), json.GetProperty("seq").GetInt64());
            received.Add(long.Parse(frame.Id));
        }
        reader.Dispose();
        response.Dispose(); // the client goes away

        for (int i = 0; i < 10; i++) await p.Put($"b/{i}.txt", $"second {i}");
        long last = p.EventsAfter(0)[^1].Seq;
        (response, reader) = await Open(p, "/v1/events/stream", received[^1].ToString());
        using (response)
        using (reader)
        {
            while (received[^1] < last)
            {
                var frame = await reader.Next(timeout.Token);
                if (frame.Id is not null) received.Add(long.Parse(frame.Id));
            }
            // Live: a write after the stream caught up arrives too, attributed to the token's agent.
            await p.Put("c.txt", "live", p.ReviewerToken);
            while (true)
            {
                var frame = await reader.Next(timeout.Token);
                if (frame.Id is null) continue;
                received.Add(long.Parse(frame.Id));
                var json = JsonDocument.Parse(frame.Data).RootElement;
                if (json.GetProperty("path").GetString() != "c.txt") continue;
                Assert.Equal(("reviewer", "token"), (json.GetProperty("agent").GetString(), json.GetProperty("agentVia").GetString()));
                break;
            }
        }
        Assert.Equal(p.EventsAfter(0).Select(e => e.Seq).Where(s => s <= received[^1]), received);
    }

    [Fact]
    public async Task An_idle_stream_sends_heartbeat_comments_and_a_filter_passes_only_what_it_names()
    {
        await using var p = await ServedProject.StartAsync(heartbeat: TimeSpan.FromMilliseconds(200));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var (response, reader) = await Open(p, "/v1/events/stream?path=keep");
        using (response)
        using (reader)
        {
            var first = await reader.Next(timeout.Token);
            Assert.True(first.Comment);
            var beat = await reader.Next(timeout.Token);
            Assert.True(beat.Comment);
            await p.Put("skip.txt", "no");
            await p.Put("keep/yes.txt", "yes");
            while (true)
            {
                var frame = await reader.Next(timeout.Token);
                if (frame.Id is null) continue;
                var path = JsonDocument.Parse(frame.Data).RootElement.GetProperty("path").GetString();
                Assert.StartsWith("keep", path);
                if (path == "keep/yes.txt") break;
            }
        }
        Assert.Equal(HttpStatusCode.OK, (await p.Get("/v1/status")).StatusCode);
    }
}
