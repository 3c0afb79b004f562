using System.Net;
using System.Net.Http.Headers;
using Lighthouse.Store;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace Lighthouse.Server.Tests;

/// <summary><c>/mcp</c> on the HTTP server with the SDK's Streamable HTTP client: the bearer token is the session's agent,
/// a bad token gets 401 problem+json, and a subscription is notified when another agent writes over the REST API.</summary>
public sealed class McpHttpTests : IAsyncLifetime
{
    private ServedProject _p = null!;

    public async Task InitializeAsync() => _p = await ServedProject.StartAsync();
    public async Task DisposeAsync() => await _p.DisposeAsync();

    private async Task<McpClient> Connect(string token)
    {
        var transport = new HttpClientTransport(new HttpClientTransportOptions
        {
            Endpoint = new Uri(new Uri(_p.Server.Addresses[0]), "/mcp"),
            AdditionalHeaders = new Dictionary<string, string> { ["Authorization"] = "Bearer " + token },
        });
        return await McpClient.CreateAsync(transport, new McpClientOptions { ProtocolVersion = "2025-11-25" });
    }

    [Fact]
    public async Task Initialize_write_and_a_notification_for_a_change_made_over_rest()
    {
        await using var reviewer = await Connect(_p.ReviewerToken);
        Assert.Contains("write_file", (await reviewer.ListToolsAsync()).Select(t => t.Name));
        long before = _p.Host.Store.LastSeq;
        var wrote = await reviewer.CallToolAsync("write_file", new Dictionary<string, object?> { ["path"] = "review.md", ["content"] = "looks good\n" });
        Assert.False(wrote.IsError == true, ((TextContentBlock)wrote.Content[0]).Text);
        _p.Host.Recorder.Flush();
        var e = Assert.Single(_p.Host.Store.EventsAfter(before, 100), x => x.Path == "review.md");
        Assert.Equal("reviewer", e.Agent);
        Assert.Equal(AgentVia.Token, e.AgentVia);

        var updated = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        await reviewer.SubscribeToResourceAsync("lighthouse://files/src/app.c", (n, _) => { updated.TrySetResult(n.Uri); return ValueTask.CompletedTask; });
        using var put = _p.Request(HttpMethod.Put, "/v1/files/src/app.c", _p.BuilderToken, new StringContent("int x;\n"));
        using var response = await _p.Client.SendAsync(put);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        Assert.Equal("lighthouse://files/src/app.c", await updated.Task.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task A_bad_token_gets_401_problem_json_and_no_session()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/mcp")
        {
            Content = new StringContent("""{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}""",
                new MediaTypeHeaderValue("application/json")),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "lh1.builder.forged.1.x");
        request.Headers.Accept.ParseAdd("application/json");
        request.Headers.Accept.ParseAdd("text/event-stream");
        using var response = await _p.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        await Assert.ThrowsAnyAsync<Exception>(() => Connect("not-a-token"));
    }
}
