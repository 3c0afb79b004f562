using System.Net;
using System.Text;

namespace Lighthouse.Server.Tests;

/// <summary>Requests that try to leave the project, reach its store, or break the server: each is refused with a 4xx,
/// nothing outside the project is read or changed, and the server still answers afterwards.</summary>
public sealed class HostileInputTests
{
    [Theory]
    [InlineData("/v1/files/../../outside/secret.txt")]
    [InlineData("/v1/files/%2e%2e/outside/secret.txt")]
    [InlineData("/v1/files/%2E%2E%2Foutside%2Fsecret.txt")]
    [InlineData("/v1/files/a/%2e%2e/%2e%2e/outside/secret.txt")]
    [InlineData("/v1/files/..%2f..%2foutside%2fsecret.txt")]
    [InlineData("/v1/files/%2Fetc%2Fpasswd")]
    [InlineData("/v1/files//etc/passwd")]
    [InlineData("/v1/files/a%00b")]
    [InlineData("/v1/files/.lighthouse/agents.json")]
    [InlineData("/v1/files/.lighthouse%2Fagent.key")]
    [InlineData("/v1/files/.lighthouse/lighthouse.db")]
    [InlineData("/v1/tree/.lighthouse")]
    [InlineData("/v1/tree/%2e%2e")]
    [InlineData("/v1/history/%2e%2e%2foutside")]
    public async Task Traversal_and_store_paths_are_refused_for_every_method(string target)
    {
        await using var p = await ServedProject.StartAsync();
        var keyBefore = File.ReadAllBytes(Path.Combine(p.Dir, ".lighthouse", "agent.key"));
        foreach (var method in new[] { "GET", "PUT", "DELETE" })
        {
            int status = await p.RawStatus(target, method, body: method == "PUT" ? "pwned" : "");
            Assert.True(status is 400 or 404 or 405, $"{method} {target}: {status}");
        }
        Assert.Equal("outside bytes", File.ReadAllText(Path.Combine(p.Outside, "secret.txt")));
        Assert.Equal(["secret.txt"], Directory.GetFileSystemEntries(p.Outside).Select(e => Path.GetFileName(e)!).ToArray());
        Assert.Equal(keyBefore, File.ReadAllBytes(Path.Combine(p.Dir, ".lighthouse", "agent.key")));
        Assert.True(File.Exists(Path.Combine(p.Dir, ".lighthouse", "lighthouse.db")));
        Assert.Equal(HttpStatusCode.OK, (await p.Get("/v1/status")).StatusCode);
    }

    [Fact]
    public async Task Bad_paths_get_400_problems_that_say_why()
    {
        await using var p = await ServedProject.StartAsync();
        foreach (var (target, why) in new[]
                 {
                     ("/v1/files/%2e%2e/x", "'..'"), ("/v1/files/.lighthouse/x", ".lighthouse"),
                     ("/v1/files/" + new string('n', 256), "NAME_MAX"), ("/v1/files/" + string.Join("/", Enumerable.Repeat(new string('d', 200), 21)), "PATH_MAX"),
                     ("/v1/files/%2Fetc%2Fpasswd", "absolute"),
                 })
        {
            // Sent byte for byte: HttpClient's Uri would turn %2e%2e into ".." and drop it.
            var (status, text) = await p.Raw(target);
            Assert.True(status == 400, $"{target}: {status} {text}");
            Assert.True(text.Contains("content-type: application/problem+json", StringComparison.OrdinalIgnoreCase), text);
            Assert.Contains(why, text);
        }
        // A NUL in the request target is refused by Kestrel itself, before any route (400, no body).
        Assert.Equal(400, (await p.Raw("/v1/files/a%00b")).Status);
        Assert.Equal(HttpStatusCode.OK, (await p.Get("/v1/status")).StatusCode);
    }

    [Fact]
    public async Task Symlinks_to_outside_the_project_are_neither_read_nor_written_through()
    {
        await using var p = await ServedProject.StartAsync();
        File.CreateSymbolicLink(p.Abs("out"), p.Outside);
        File.CreateSymbolicLink(p.Abs("link.txt"), Path.Combine(p.Outside, "secret.txt"));
        File.CreateSymbolicLink(p.Abs("state"), Path.Combine(p.Dir, ".lighthouse"));
        foreach (var path in new[] { "out/secret.txt", "link.txt", "state/agent.key", "out/new.txt" })
        {
            var read = await p.Get("/v1/files/" + path);
            Assert.True(read.StatusCode is HttpStatusCode.Forbidden or HttpStatusCode.NotFound, $"GET {path}: {read.StatusCode}");
            Assert.DoesNotContain("outside bytes", await read.Content.ReadAsStringAsync());
            var write = await p.Put(path, "pwned");
            Assert.True((int)write.StatusCode is >= 400 and < 500, $"PUT {path}: {write.StatusCode}");
        }
        Assert.True((int)(await p.Get("/v1/tree/out")).StatusCode is 403 or 404);
        Assert.True((int)(await p.Get("/v1/tree/state")).StatusCode is 403 or 404);
        Assert.Equal(HttpStatusCode.Conflict, (await p.Send(HttpMethod.Delete, "/v1/files/out/secret.txt", p.BuilderToken)).StatusCode);
        Assert.Equal("outside bytes", File.ReadAllText(Path.Combine(p.Outside, "secret.txt")));
        Assert.Equal(["secret.txt"], Directory.GetFileSystemEntries(p.Outside).Select(e => Path.GetFileName(e)!).ToArray());
        Assert.Equal(HttpStatusCode.OK, (await p.Get("/v1/status")).StatusCode);
    }

    [Fact]
    public async Task A_body_over_the_limit_is_413_whether_its_length_is_announced_or_not()
    {
        await using var p = await ServedProject.StartAsync(maxBody: 1 << 20);
        var big = new ByteArrayContent(new byte[(1 << 20) + 1]);
        var announced = await p.Send(HttpMethod.Put, "/v1/files/big.bin", p.BuilderToken, big);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, announced.StatusCode);
        Assert.Equal("application/problem+json", announced.Content.Headers.ContentType!.MediaType);

        var chunked = new StreamContent(new MemoryStream(new byte[3 << 20]));
        chunked.Headers.ContentLength = null;
        HttpResponseMessage? streamed = null;
        try { streamed = await p.Send(HttpMethod.Put, "/v1/files/big2.bin", p.BuilderToken, chunked, m => m.Headers.TransferEncodingChunked = true); }
        catch (HttpRequestException) { } // the server may close the connection while the client still sends
        if (streamed is not null) Assert.Equal(HttpStatusCode.RequestEntityTooLarge, streamed.StatusCode);
        Assert.False(File.Exists(p.Abs("big.bin")));
        Assert.False(File.Exists(p.Abs("big2.bin")));
        Assert.Equal(HttpStatusCode.Created, (await p.Put("small.txt", "fits")).StatusCode);
    }

    [Fact]
    public async Task A_revoked_agents_token_replayed_changes_nothing()
    {
        await using var p = await ServedProject.StartAsync();
        var token = p.Host.Registry.IssueToken("reviewer", TimeSpan.FromHours(1)).Text;
        Assert.Equal(HttpStatusCode.Created, (await p.Put("mine.txt", "before", token)).StatusCode);
        p.Host.Registry.Remove("reviewer"); // the agent goes, and every token of it
        long before = p.EventsAfter(0)[^1].Seq;
        for (int i = 0; i < 20; i++)
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await p.Put("mine.txt", "after", token)).StatusCode);
            Assert.Equal(HttpStatusCode.Unauthorized, (await p.Send(HttpMethod.Delete, "/v1/files/mine.txt", token)).StatusCode);
            Assert.Equal(HttpStatusCode.Unauthorized, (await p.Get("/v1/files/mine.txt", token)).StatusCode);
            Assert.Equal(HttpStatusCode.Unauthorized, (await p.Get("/v1/events/stream", token)).StatusCode);
        }
        Assert.Equal("before", File.ReadAllText(p.Abs("mine.txt")));
        Assert.DoesNotContain(p.EventsAfter(before), e => e.Agent == "reviewer" && e.Op != Lighthouse.Store.EventOp.Agents);
        Assert.Equal(HttpStatusCode.OK, (await p.Get("/v1/status")).StatusCode);
    }

    [Fact]
    public async Task Malformed_requests_are_problems_not_crashes()
    {
        await using var p = await ServedProject.StartAsync();
        Assert.Equal(HttpStatusCode.BadRequest, (await p.Send(HttpMethod.Post, "/v1/snapshots", p.BuilderToken, new StringContent("{not json", Encoding.UTF8, "application/json"))).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await p.Send(HttpMethod.Post, "/v1/restore", p.BuilderToken, new StringContent("[]", Encoding.UTF8, "application/json"))).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await p.Get("/v1/events?since=abc")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await p.Get("/v1/events?op=nonsense")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await p.Get("/v1/search?q=(")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await p.Get("/v1/diff?from=@999999")).StatusCode);
        var unknown = await p.Get("/v1/nothing-here");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal("application/problem+json", unknown.Content.Headers.ContentType?.MediaType);
        var stream = p.Request(HttpMethod.Get, "/v1/events/stream", p.BuilderToken);
        stream.Headers.Add("Last-Event-ID", "not-a-number");
        Assert.Equal(HttpStatusCode.BadRequest, (await p.Client.SendAsync(stream)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await p.Get("/v1/status")).StatusCode);
    }
}
