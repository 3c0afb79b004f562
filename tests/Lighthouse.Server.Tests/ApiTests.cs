using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using Lighthouse.Project.Policy;
using Lighthouse.Store;

namespace Lighthouse.Server.Tests;

/// <summary>Every route of the HTTP API with a real HttpClient, over loopback TCP and over a Unix socket.</summary>
public sealed class ApiTests
{
    private static string Sha(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Files_are_written_read_listed_and_deleted_with_etags_and_recorded_as_the_tokens_agent(bool unix)
    {
        await using var p = await ServedProject.StartAsync(unix);
        var status = await ServedProject.Json(await p.Get("/v1/status"));
        Assert.Equal("builder", status.GetProperty("agent").GetString());
        Assert.Equal("token", status.GetProperty("agentVia").GetString());
        p.EventsAfter(0);
        long before = p.Host.Store.LastSeq;

        var created = await p.Put("src/main.c", "int main;\n");
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal($"\"{Sha("int main;\n")}\"", created.Headers.ETag!.Tag);
        Assert.Equal("int main;\n", File.ReadAllText(p.Abs("src/main.c")));

        var got = await p.Get("/v1/files/src/main.c");
        Assert.Equal(HttpStatusCode.OK, got.StatusCode);
        Assert.Equal("int main;\n", await got.Content.ReadAsStringAsync());
        Assert.Equal(created.Headers.ETag, got.Headers.ETag);
        var notModified = await p.Send(HttpMethod.Get, "/v1/files/src/main.c", p.BuilderToken, edit: r => r.Headers.IfNoneMatch.Add(created.Headers.ETag!));
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);

        // Compare-and-swap: a stale If-Match is 412 and changes nothing; the right one replaces.
        var stale = await p.Put("src/main.c", "lost", p.ReviewerToken, r => r.Headers.IfMatch.Add(new($"\"{Sha("other")}\"")));
        Assert.Equal(HttpStatusCode.PreconditionFailed, stale.StatusCode);
        Assert.Equal("application/problem+json", stale.Content.Headers.ContentType!.MediaType);
        var createOnly = await p.Put("src/main.c", "lost", p.ReviewerToken, r => r.Headers.IfNoneMatch.Add(System.Net.Http.Headers.EntityTagHeaderValue.Any));
        Assert.Equal(HttpStatusCode.PreconditionFailed, createOnly.StatusCode);
        var replaced = await p.Put("src/main.c", "int main() {}\n", p.ReviewerToken, r => r.Headers.IfMatch.Add(created.Headers.ETag!));
        Assert.Equal(HttpStatusCode.OK, replaced.StatusCode);
        Assert.Equal("int main() {}\n", File.ReadAllText(p.Abs("src/main.c")));

        // Without the 'agents' events of the set-up's own tokens, which the registry watch records whenever it comes round.
        var events = p.EventsAfter(before).Where(e => e.Op != EventOp.Agents).ToList();
        Assert.Equal([(EventOp.Mkdir, "src", "builder"), (EventOp.Create, "src/main.c", "builder"), (EventOp.Write, "src/main.c", "reviewer")],
            events.Select(e => (e.Op, e.Path, e.Agent)).ToArray());
        Assert.All(events, e => Assert.Equal(AgentVia.Token, e.AgentVia));

        var tree = await ServedProject.Json(await p.Get("/v1/tree/src"));
        Assert.Equal("main.c", tree.GetProperty("entries")[0].GetProperty("name").GetString());
        var root = await ServedProject.Json(await p.Get("/v1/tree"));
        Assert.DoesNotContain(root.GetProperty("entries").EnumerateArray(), e => e.GetProperty("name").GetString() == ".lighthouse");
        var old = await p.Get($"/v1/files/src/main.c?at=@{events[1].Seq}");
        Assert.Equal("int main;\n", await old.Content.ReadAsStringAsync());
        Assert.Equal(events[1].Seq.ToString(), old.Headers.GetValues("X-Lighthouse-Seq").Single());

        var staleDelete = await p.Send(HttpMethod.Delete, "/v1/files/src/main.c", p.BuilderToken, edit: r => r.Headers.IfMatch.Add(created.Headers.ETag!));
        Assert.Equal(HttpStatusCode.PreconditionFailed, staleDelete.StatusCode);
        var deleted = await p.Send(HttpMethod.Delete, "/v1/files/src/main.c", p.BuilderToken, edit: r => r.Headers.IfMatch.Add(replaced.Headers.ETag!));
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        Assert.False(File.Exists(p.Abs("src/main.c")));
        Assert.Equal(HttpStatusCode.NotFound, (await p.Get("/v1/files/src/main.c")).StatusCode);
        var last = p.EventsAfter(events[^1].Seq).Single(e => e.Op != EventOp.Agents);
        Assert.Equal((EventOp.Unlink, "builder"), (last.Op, last.Agent));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Events_history_diff_snapshot_restore_and_search_round_trip(bool unix)
    {
        await using var p = await ServedProject.StartAsync(unix);
        await p.Put("doc/a.md", "one");
        var snap = await p.Send(HttpMethod.Post, "/v1/snapshots", p.BuilderToken, JsonContent.Create(new { name = "v1" }));
        Assert.Equal(HttpStatusCode.Created, snap.StatusCode);
        long snapSeq = (await ServedProject.Json(snap)).GetProperty("seq").GetInt64();
        Assert.Equal(HttpStatusCode.Conflict, (await p.Send(HttpMethod.Post, "/v1/snapshots", p.BuilderToken, JsonContent.Create(new { name = "v1" }))).StatusCode);
        await p.Put("doc/a.md", "two", p.ReviewerToken);
        await p.Put("doc/b.md", "bee");

        // The log, paged with its cursor, attributed to the tokens' agents.
        var page1 = await ServedProject.Json(await p.Get("/v1/events?since=0&limit=2"));
        Assert.Equal(2, page1.GetProperty("events").GetArrayLength());
        Assert.True(page1.GetProperty("more").GetBoolean());
        var page2 = await ServedProject.Json(await p.Get($"/v1/events?since={page1.GetProperty("next").GetInt64()}&limit=1000"));
        var seqs = page1.GetProperty("events").EnumerateArray().Concat(page2.GetProperty("events").EnumerateArray()).Select(e => e.GetProperty("seq").GetInt64()).ToList();
        Assert.Equal(p.EventsAfter(0).Select(e => e.Seq), seqs);
        var writes = await ServedProject.Json(await p.Get("/v1/events?op=write&agent=reviewer"));
        var write = Assert.Single(writes.GetProperty("events").EnumerateArray());
        Assert.Equal(("doc/a.md", "token"), (write.GetProperty("path").GetString(), write.GetProperty("agentVia").GetString()));

        var history = await ServedProject.Json(await p.Get("/v1/history/doc/a.md"));
        Assert.Equal([("reviewer", "write"), ("builder", "create")],
            history.GetProperty("versions").EnumerateArray().Select(v => (v.GetProperty("agent").GetString(), v.GetProperty("op").GetString())).ToArray());

        var diff = await ServedProject.Json(await p.Get("/v1/diff?from=v1&path=doc"));
        Assert.Equal(snapSeq, diff.GetProperty("from").GetInt64());
        Assert.Equal([("doc/a.md", "modified"), ("doc/b.md", "added")],
            diff.GetProperty("changes").EnumerateArray().Select(c => (c.GetProperty("path").GetString(), c.GetProperty("change").GetString())).OrderBy(c => c.Item1).ToArray());

        var found = await ServedProject.Json(await p.Get("/v1/search?q=tw.&path=doc"));
        Assert.Equal("doc/a.md", Assert.Single(found.GetProperty("matches").EnumerateArray()).GetProperty("path").GetString());

        var restore = await p.Send(HttpMethod.Post, "/v1/restore", p.ReviewerToken, JsonContent.Create(new { path = "doc", at = "v1" }));
        Assert.Equal(HttpStatusCode.OK, restore.StatusCode);
        Assert.Equal("one", File.ReadAllText(p.Abs("doc/a.md")));
        Assert.False(File.Exists(p.Abs("doc/b.md")));
        Assert.All(p.EventsAfter(snapSeq).Where(e => e.Seq > snapSeq + 3), e => Assert.Equal("reviewer", e.Agent));
        Assert.Equal(HttpStatusCode.NotFound, (await p.Get("/v1/files/doc/a.md?at=no-such-snapshot")).StatusCode);
    }

    [Fact]
    public async Task Tokens_are_checked_missing_bad_expired_revoked_and_foreign_ones_get_401_problems()
    {
        await using var p = await ServedProject.StartAsync();
        await using var other = await ServedProject.StartAsync();
        var shortLived = p.Host.Registry.IssueToken("builder", TimeSpan.FromSeconds(1)).Text;
        var revoked = p.Host.Registry.IssueToken("reviewer", TimeSpan.FromHours(1)).Text;
        Assert.Equal(HttpStatusCode.OK, (await p.Get("/v1/status", revoked)).StatusCode);
        p.Host.Registry.Revoke(revoked);
        await Task.Delay(2100);
        foreach (var token in new string?[] { null, "garbage", p.BuilderToken[..^3] + "AAA", shortLived, revoked, other.BuilderToken })
        {
            var r = await p.Send(HttpMethod.Put, "/v1/files/intruder.txt", token, new StringContent("x"));
            Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode);
            Assert.Equal("application/problem+json", r.Content.Headers.ContentType!.MediaType);
            Assert.Equal(HttpStatusCode.Unauthorized, (await p.Get("/v1/files/intruder.txt", token ?? "")).StatusCode);
        }
        Assert.False(File.Exists(p.Abs("intruder.txt")));
        Assert.Equal(HttpStatusCode.OK, (await p.Get("/v1/status")).StatusCode);
    }

    [Fact]
    public async Task The_policy_refuses_with_403_hides_with_404_and_filters_the_events_a_caller_sees()
    {
        await using var p = await ServedProject.StartAsync();
        await p.Put("secrets/key.pem", "k");
        await p.Put("src/a.c", "a");
        var file = AccessControl.PathOf(p.Dir);
        File.WriteAllText(file, "rules:\n  - paths: [\"secrets/\"]\n    roles: [reviewer]\n    effect: hide\n" +
                                "  - paths: [\"src/\"]\n    roles: [reviewer]\n    ops: [write, create, delete]\n    effect: deny\n");
        p.Host.Access.Refresh();
        Assert.Equal(HttpStatusCode.NotFound, (await p.Get("/v1/files/secrets/key.pem", p.ReviewerToken)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await p.Put("src/a.c", "b", p.ReviewerToken)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await p.Get("/v1/files/src/a.c", p.ReviewerToken)).StatusCode);
        Assert.Equal("a", File.ReadAllText(p.Abs("src/a.c")));
        var seen = await ServedProject.Json(await p.Get("/v1/events?limit=1000", p.ReviewerToken));
        Assert.DoesNotContain(seen.GetProperty("events").EnumerateArray(), e => e.GetProperty("path").GetString()!.StartsWith("secrets"));
        var all = await ServedProject.Json(await p.Get("/v1/events?limit=1000"));
        Assert.Contains(all.GetProperty("events").EnumerateArray(), e => e.GetProperty("path").GetString() == "secrets/key.pem");
        // Refusals are recorded beside the recorder's queue: wait for the commit.
        var until = DateTime.UtcNow.AddSeconds(10);
        while (!p.EventsAfter(0).Any(e => e.Op == EventOp.Deny && e.Agent == "reviewer" && e.Path == "src/a.c"))
        {
            Assert.True(DateTime.UtcNow < until, "no deny event for the refused write");
            await Task.Delay(50);
        }
    }
}
