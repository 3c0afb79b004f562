using System.IO.Pipelines;
using System.Text;
using System.Text.Json;
using Lighthouse.Project;
using Lighthouse.Project.Agents;
using Lighthouse.Project.Files;
using Lighthouse.Project.Policy;
using Lighthouse.Server;
using Lighthouse.Server.Mcp;
using Lighthouse.Store;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace Lighthouse.Server.Tests;

/// <summary>
/// The MCP server with the SDK's own client, in-process over a pair of pipes: the agent is the one whose token opened
/// the session, every tool is the file service (recorded, policy-checked), and a subscription to a file notifies when
/// anyone changes it — but never about a path the subscriber's agent may not read.
/// </summary>
public sealed class McpTests : IAsyncLifetime
{
    private static readonly StoreOptions Fast = new() { Durability = Durability.Normal, FsyncObjects = false };
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "lh-server-tests", Guid.NewGuid().ToString("N")[..12]);
    private ProjectHost _host = null!;
    private readonly List<(McpClient Client, Task Server, CancellationTokenSource Stop)> _sessions = [];

    public Task InitializeAsync()
    {
        Directory.CreateDirectory(_dir);
        _host = ProjectHost.Open(_dir, new ProjectOptions { Stores = SqliteProjectStoreFactory.Instance, Store = Fast });
        _host.Registry.Add("builder", "builder");
        _host.Registry.Add("reviewer", "reviewer");
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        foreach (var (client, server, stop) in _sessions)
        {
            await client.DisposeAsync();
            await stop.CancelAsync();
            try { await server.WaitAsync(TimeSpan.FromSeconds(10)); } catch (OperationCanceledException) { }
        }
        _host.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private string Token(string agent) => _host.Registry.IssueToken(agent, TimeSpan.FromHours(1)).Text;

    /// <summary>An MCP session of the token's agent, and the SDK client talking to it (revision 2025-11-25 unless another is named).</summary>
    private async Task<McpClient> Connect(string token, string? protocolVersion = "2025-11-25")
    {
        var caller = AgentCallers.FromToken(_host, token, "mcp");
        var toServer = new Pipe();
        var toClient = new Pipe();
        var stop = new CancellationTokenSource();
        var server = Task.Run(() => AgentMcpSession.RunAsync(_host, caller, toServer.Reader.AsStream(), toClient.Writer.AsStream(), stop.Token));
        var connecting = McpClient.CreateAsync(new StreamClientTransport(toServer.Writer.AsStream(), toClient.Reader.AsStream()),
            new McpClientOptions { ProtocolVersion = protocolVersion });
        // A server that fails to start fails the test with its own exception rather than an initialization timeout.
        if (await Task.WhenAny(connecting, server) == server) await server;
        var client = await connecting;
        _sessions.Add((client, server, stop));
        return client;
    }

    private static async Task<JsonElement> Call(McpClient client, string tool, Dictionary<string, object?> args)
    {
        var result = await client.CallToolAsync(tool, args);
        var text = Assert.IsType<TextContentBlock>(Assert.Single(result.Content)).Text;
        Assert.False(result.IsError == true, $"{tool} failed: {text}");
        return JsonDocument.Parse(text).RootElement;
    }

    private static async Task<string> CallFails(McpClient client, string tool, Dictionary<string, object?> args)
    {
        var result = await client.CallToolAsync(tool, args);
        Assert.True(result.IsError, $"{tool} should have failed");
        return Assert.IsType<TextContentBlock>(Assert.Single(result.Content)).Text;
    }

    private IReadOnlyList<StoreEvent> EventsAfter(long seq)
    {
        _host.Recorder.Flush();
        return _host.Store.EventsAfter(seq, 1000);
    }

    [Fact]
    public async Task Initialize_lists_the_tools_and_a_write_is_an_event_of_the_tokens_agent()
    {
        var client = await Connect(Token("builder"));
        Assert.Equal("lighthouse", client.ServerInfo?.Name);
        var tools = (await client.ListToolsAsync()).Select(t => t.Name).ToHashSet();
        foreach (var name in new[] { "read_file", "write_file", "edit_file", "delete_file", "list_directory", "search", "read_log", "file_history", "diff", "restore" })
            Assert.Contains(name, tools);

        long before = _host.Store.LastSeq;
        var written = await Call(client, "write_file", new() { ["path"] = "src/hello.c", ["content"] = "int main(void) { return 0; }\n" });
        Assert.True(written.GetProperty("created").GetBoolean());
        Assert.Equal("int main(void) { return 0; }\n", File.ReadAllText(Path.Combine(_dir, "src/hello.c")));

        var create = Assert.Single(EventsAfter(before), e => e.Path == "src/hello.c");
        Assert.Equal(EventOp.Create, create.Op);
        Assert.Equal("builder", create.Agent);
        Assert.Equal(AgentVia.Token, create.AgentVia);
        Assert.Equal(written.GetProperty("version").GetString(), create.ContentHash);

        var read = await Call(client, "read_file", new() { ["path"] = "src/hello.c" });
        Assert.Equal("int main(void) { return 0; }\n", read.GetProperty("content").GetString());
        var listing = await Call(client, "list_directory", new() { ["path"] = "src" });
        Assert.Equal("hello.c", Assert.Single(listing.GetProperty("entries").EnumerateArray()).GetProperty("name").GetString());
        var log = await client.CallToolAsync("read_log", new Dictionary<string, object?> { ["since"] = before, ["agent"] = "builder" });
        Assert.Contains("\"path\":\"src/hello.c\"", ((TextContentBlock)log.Content[0]).Text);
    }

    [Fact]
    public async Task A_subscriber_is_notified_when_another_agent_changes_the_file_and_the_events_resource()
    {
        var builder = await Connect(Token("builder"));
        var reviewer = await Connect(Token("reviewer"));
        await Call(builder, "write_file", new() { ["path"] = "notes.md", ["content"] = "draft\n" });

        var fileUpdated = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var eventsUpdated = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        await reviewer.SubscribeToResourceAsync("lighthouse://files/notes.md", (n, _) => { fileUpdated.TrySetResult(n.Uri); return ValueTask.CompletedTask; });
        await reviewer.SubscribeToResourceAsync("lighthouse://events", (n, _) => { eventsUpdated.TrySetResult(n.Uri); return ValueTask.CompletedTask; });

        var sent = DateTime.UtcNow;
        await Call(builder, "edit_file", new() { ["path"] = "notes.md", ["old_string"] = "draft", ["new_string"] = "final" });
        Assert.Equal("lighthouse://files/notes.md", await fileUpdated.Task.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal("lighthouse://events", await eventsUpdated.Task.WaitAsync(TimeSpan.FromSeconds(10)));
        Console.WriteLine($"resource-updated notification {(DateTime.UtcNow - sent).TotalMilliseconds:F0} ms after the edit was sent");

        var contents = await reviewer.ReadResourceAsync("lighthouse://files/notes.md");
        Assert.Equal("final\n", Assert.IsType<TextResourceContents>(Assert.Single(contents.Contents)).Text);
        var events = await reviewer.ReadResourceAsync("lighthouse://events");
        Assert.Contains("\"agent\":\"builder\"", Assert.IsType<TextResourceContents>(Assert.Single(events.Contents)).Text);
    }

    [Fact]
    public async Task On_the_newest_revision_a_subscriptions_listen_is_notified_of_its_uris_only()
    {
        var builder = await Connect(Token("builder"));
        var reviewer = await Connect(Token("reviewer"), protocolVersion: null); // the SDK's newest: 2026-07-28
        Assert.Equal("2026-07-28", reviewer.NegotiatedProtocolVersion);
        var updates = new List<string>();
        var watched = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        reviewer.RegisterNotificationHandler(NotificationMethods.ResourceUpdatedNotification, (n, _) =>
        {
            var uri = n.Params?["uri"]?.GetValue<string>() ?? "";
            lock (updates) updates.Add(uri);
            if (uri == "lighthouse://files/watched.txt") watched.TrySetResult();
            return ValueTask.CompletedTask;
        });
        // The long-lived request that replaced resources/subscribe (the SDK's client has no call for it yet).
        using var stop = new CancellationTokenSource();
        _ = reviewer.SendRequestAsync(new JsonRpcRequest
        {
            Method = RequestMethods.SubscriptionsListen,
            Params = System.Text.Json.Nodes.JsonNode.Parse("""{"notifications":{"resourceSubscriptions":["lighthouse://files/watched.txt"]}}"""),
        }, stop.Token);
        await Task.Delay(300); // the server has the request

        await Call(builder, "write_file", new() { ["path"] = "other.txt", ["content"] = "not watched\n" });
        await Call(builder, "write_file", new() { ["path"] = "watched.txt", ["content"] = "watched\n" });
        await watched.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await Task.Delay(200);
        lock (updates) Assert.Equal(["lighthouse://files/watched.txt"], updates);
        await stop.CancelAsync();
    }

    [Fact]
    public async Task No_notification_or_content_about_a_path_the_subscribers_agent_may_not_read()
    {
        File.WriteAllText(AccessControl.PathOf(_dir), """
            rules:
              - path: "secrets/"
                roles: [reviewer]
                effect: hide
            """);
        _host.Access.Refresh();
        var builder = await Connect(Token("builder"));
        var reviewer = await Connect(Token("reviewer"));
        await Call(builder, "write_file", new() { ["path"] = "secrets/key.txt", ["content"] = "k1\n" });
        // The policy's own event (shown to everyone) is committed before the subscriptions start.
        Assert.True(SpinWait.SpinUntil(() => { _host.Recorder.Flush(); return _host.Store.EventsAfter(0, 100).Any(e => e.Op == EventOp.Policy); }, TimeSpan.FromSeconds(10)));

        var updates = new List<string>();
        await reviewer.SubscribeToResourceAsync("lighthouse://events", (n, _) => { lock (updates) updates.Add(n.Uri); return ValueTask.CompletedTask; });
        var visible = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await reviewer.SubscribeToResourceAsync("lighthouse://files/public.txt", (_, _) => { visible.TrySetResult(); return ValueTask.CompletedTask; });

        await Call(builder, "write_file", new() { ["path"] = "secrets/key.txt", ["content"] = "k2\n" });
        await Call(builder, "write_file", new() { ["path"] = "public.txt", ["content"] = "hello\n" });
        await visible.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await Task.Delay(200); // any notification about the secret would have come before the later public one
        _host.Recorder.Flush();
        var dump = string.Join("\n", _host.Store.EventsAfter(0, 100).Select(e => $"{e.Seq} {e.Op} {e.Path} {e.Agent}"));
        lock (updates) Assert.True(updates.Count == 1, dump); // the public write only: the secret's change is not even counted

        Assert.Contains("not found", await CallFails(reviewer, "read_file", new() { ["path"] = "secrets/key.txt" }));
        var log = await reviewer.CallToolAsync("read_log", new Dictionary<string, object?> { ["since"] = 0 });
        Assert.DoesNotContain("secrets/", ((TextContentBlock)log.Content[0]).Text);
        await Assert.ThrowsAnyAsync<McpException>(() => reviewer.ReadResourceAsync("lighthouse://files/secrets/key.txt").AsTask());
    }

    [Fact]
    public async Task Edit_needs_a_unique_string_and_if_match_refuses_a_stale_version()
    {
        var client = await Connect(Token("builder"));
        var v1 = (await Call(client, "write_file", new() { ["path"] = "a.txt", ["content"] = "x = 1\nx = 1\n" })).GetProperty("version").GetString();
        Assert.Contains("more than once", await CallFails(client, "edit_file", new() { ["path"] = "a.txt", ["old_string"] = "x = 1", ["new_string"] = "x = 2" }));
        Assert.Contains("does not occur", await CallFails(client, "edit_file", new() { ["path"] = "a.txt", ["old_string"] = "y", ["new_string"] = "z" }));
        await Call(client, "write_file", new() { ["path"] = "a.txt", ["content"] = "x = 1\ny = 1\n", ["if_match"] = v1 });
        Assert.Contains("changed since read", await CallFails(client, "write_file", new() { ["path"] = "a.txt", ["content"] = "lost update", ["if_match"] = v1 }));
        Assert.Contains("changed since read", await CallFails(client, "edit_file", new() { ["path"] = "a.txt", ["old_string"] = "y = 1", ["new_string"] = "y = 2", ["if_match"] = v1 }));
        await Call(client, "edit_file", new() { ["path"] = "a.txt", ["old_string"] = "y = 1", ["new_string"] = "y = 2" });
        Assert.Equal("x = 1\ny = 2\n", File.ReadAllText(Path.Combine(_dir, "a.txt")));
        Assert.Contains("bad path", await CallFails(client, "write_file", new() { ["path"] = "../escape.txt", ["content"] = "no" }));
        Assert.False(File.Exists(Path.Combine(_dir, "..", "escape.txt")));
    }

    [Fact]
    public async Task History_diff_and_restore_round_trip()
    {
        var client = await Connect(Token("builder"));
        await Call(client, "write_file", new() { ["path"] = "doc.txt", ["content"] = "one\n" });
        _host.Recorder.Flush();
        long point = _host.Store.LastSeq;
        await Call(client, "write_file", new() { ["path"] = "doc.txt", ["content"] = "two\n" });

        var history = await Call(client, "file_history", new() { ["path"] = "doc.txt" });
        Assert.True(history.GetProperty("versions").GetArrayLength() >= 2);
        var diff = await Call(client, "diff", new() { ["from"] = "@" + point });
        Assert.Contains(diff.GetProperty("changes").EnumerateArray(), c => c.GetProperty("path").GetString() == "doc.txt");
        var old = await Call(client, "read_file", new() { ["path"] = "doc.txt", ["at"] = "@" + point });
        Assert.Equal("one\n", old.GetProperty("content").GetString());

        long before = _host.Store.LastSeq;
        await Call(client, "restore", new() { ["path"] = "doc.txt", ["at"] = "@" + point });
        Assert.Equal("one\n", File.ReadAllText(Path.Combine(_dir, "doc.txt")));
        Assert.Contains(EventsAfter(before), e => e.Path == "doc.txt" && e.Agent == "builder");
    }

    [Fact]
    public void A_bad_expired_or_revoked_token_opens_no_session()
    {
        Assert.Throws<UnauthorizedAccessException>(() => AgentCallers.FromToken(_host, null, "mcp"));
        Assert.Throws<UnauthorizedAccessException>(() => AgentCallers.FromToken(_host, "lh1.builder.x.1.forged", "mcp"));
        var (token, text) = _host.Registry.IssueToken("builder", TimeSpan.FromHours(1));
        Assert.Equal("builder", AgentCallers.FromToken(_host, text, "mcp").Agent.Name);
        _host.Registry.Revoke(token.Id);
        Assert.Contains("revoked", Assert.Throws<UnauthorizedAccessException>(() => AgentCallers.FromToken(_host, text, "mcp")).Message);
    }
}
