using Lighthouse.Mount.Testing;
using Lighthouse.Store;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using static Lighthouse.Cli.Tests.MountShell;

namespace Lighthouse.Cli.Tests;

/// <summary>
/// `lighthouse mcp` (stdio) on a mounted project, driven by the SDK's own client: the mount serves the session over its
/// control socket, a write_file is in current/ at once as one event of the token's agent, and a change made through the
/// mount by a shell notifies the MCP subscriber.
/// </summary>
public sealed class McpMountTests
{
    [Fact]
    public async Task Stdio_session_served_by_the_mount_writes_as_the_agent_and_hears_of_changes_in_current()
    {
        using var m = LighthouseMountFixture.WithOptions();
        Lh(m, $"agent add builder --role builder -C {m.Project}").Must();
        var issued = Lh(m, $"agent token builder -C {m.Project}");
        issued.Must();
        var token = issued.Stdout.Trim().Split('\n')[^1].Trim();
        // The mount reads the agent registry within a second of a change.
        Thread.Sleep(1500);

        var transport = new StdioClientTransport(new StdioClientTransportOptions
        {
            Name = "lighthouse",
            Command = "dotnet",
            Arguments = [CliDll(m), "mcp", "-C", m.Project, "--token", token],
        });
        await using var client = await McpClient.CreateAsync(transport, new McpClientOptions { ProtocolVersion = "2025-11-25" });
        Assert.Contains("edit_file", (await client.ListToolsAsync()).Select(t => t.Name));

        MountControl.WaitUntilIdle(m.Project);
        long before = Events(m)[^1].Seq;
        var wrote = await client.CallToolAsync("write_file", new Dictionary<string, object?> { ["path"] = "plan.md", ["content"] = "step 1\n" });
        Assert.False(wrote.IsError == true, ((TextContentBlock)wrote.Content[0]).Text);
        Assert.Equal("step 1\n", Sh($"cat {m.Current}/plan.md").Stdout);
        MountControl.WaitUntilIdle(m.Project);
        var mine = Events(m).Where(e => e.Seq > before && e.Path == "plan.md").ToList();
        var create = Assert.Single(mine);
        Assert.Equal("builder", create.Agent);
        Assert.Equal(AgentVia.Token, create.AgentVia);

        var updated = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        await client.SubscribeToResourceAsync("lighthouse://files/plan.md", (n, _) => { updated.TrySetResult(n.Uri); return ValueTask.CompletedTask; });
        Sh($"echo 'step 2' >> {m.Current}/plan.md").Must();
        Assert.Equal("lighthouse://files/plan.md", await updated.Task.WaitAsync(TimeSpan.FromSeconds(15)));
        var read = await client.CallToolAsync("read_file", new Dictionary<string, object?> { ["path"] = "plan.md" });
        Assert.Contains("step 1\\nstep 2\\n", ((TextContentBlock)read.Content[0]).Text);
    }

    [Fact]
    public void Without_a_token_it_says_how_to_get_one()
    {
        using var m = LighthouseMountFixture.WithOptions();
        var r = Lh(m, $"mcp -C {m.Project} </dev/null");
        Assert.NotEqual(0, r.Code);
        Assert.Contains("lighthouse agent token", r.Stderr);
    }
}
