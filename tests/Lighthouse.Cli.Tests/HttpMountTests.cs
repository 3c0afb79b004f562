using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.RegularExpressions;
using Lighthouse.Mount.Testing;
using Lighthouse.Store;
using static Lighthouse.Cli.Tests.MountShell;

namespace Lighthouse.Cli.Tests;

/// <summary>
/// The HTTP API served by a real mount (`lighthouse mount --http`): a file written over HTTP is in current/ at once, even
/// where the kernel had cached the old bytes, and it is one event, by the token's agent, never also an external one.
/// `lighthouse serve` on the mounted project asks the mount to listen too.
/// </summary>
public sealed class HttpMountTests
{
    private static string Listening(LighthouseMountFixture m)
    {
        var until = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var match = Regex.Match(m.Log, @"HTTP API for .* on (http://127\.0\.0\.1:\d+)");
            if (match.Success) return match.Groups[1].Value;
            Assert.True(DateTime.UtcNow < until, "the mount did not say where the HTTP API listens:\n" + m.Log);
            Thread.Sleep(100);
        }
    }

    [Fact]
    public async Task A_put_over_http_is_in_current_at_once_as_one_event_of_the_tokens_agent()
    {
        using var m = LighthouseMountFixture.WithOptions("--http", "127.0.0.1:0");
        var api = Listening(m);
        Lh(m, $"agent add builder --role builder -C {m.Project}").Must();
        var issued = Lh(m, $"agent token builder -C {m.Project}");
        issued.Must();
        var token = issued.Stdout.Trim().Split('\n')[^1].Trim();

        // The old bytes, read through the mount: the kernel caches them (and the attributes) from here on.
        LighthouseMountFixture.MustRun("/bin/sh", $"-c \"echo old > {m.Current}/f.txt\"");
        Assert.Equal("old\n", Sh($"cat {m.Current}/f.txt").Stdout);
        MountControl.WaitUntilIdle(m.Project);
        long before = Events(m)[^1].Seq;

        using var client = new HttpClient { BaseAddress = new Uri(api) };
        HttpResponseMessage put;
        var until = DateTime.UtcNow.AddSeconds(10);
        while (true) // the mount reads the agent registry within a second of a change
        {
            var request = new HttpRequestMessage(HttpMethod.Put, "/v1/files/f.txt") { Content = new StringContent("new bytes over http\n", Encoding.UTF8) };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            put = await client.SendAsync(request);
            if (put.StatusCode != HttpStatusCode.Unauthorized || DateTime.UtcNow > until) break;
            await Task.Delay(200);
        }
        Assert.True(put.StatusCode == HttpStatusCode.OK, $"{put.StatusCode}: {await put.Content.ReadAsStringAsync()}");
        var cat = Sh($"cat {m.Current}/f.txt");
        Assert.Equal("new bytes over http\n", cat.Stdout);
        Assert.Equal("20", Sh($"stat -c %s {m.Current}/f.txt").Stdout.Trim());

        // One event, by builder via its token; the watcher of the project directory records nothing more once it settled.
        Thread.Sleep(ChangeWindow);
        MountControl.WaitUntilIdle(m.Project);
        var about = Events(m).Where(e => e.Seq > before && (e.Path == "f.txt" || e.Path2 == "f.txt")).ToList();
        var only = Assert.Single(about);
        Assert.Equal((EventOp.Write, "builder", AgentVia.Token), (only.Op, only.Agent, only.AgentVia));

        // serve on the mounted project: the mount listens once more, and reads there see the same file.
        var served = Lh(m, $"serve {m.Project} --listen 127.0.0.1:0");
        served.Must();
        var second = Regex.Match(served.Stdout, @"(http://127\.0\.0\.1:\d+)").Groups[1].Value;
        using var other = new HttpClient { BaseAddress = new Uri(second) };
        var get = new HttpRequestMessage(HttpMethod.Get, "/v1/files/f.txt");
        get.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        var read = await other.SendAsync(get);
        Assert.Equal("new bytes over http\n", await read.Content.ReadAsStringAsync());
        Assert.Equal(0, m.Stop());
    }

    /// <summary>Longer than the watcher's debounce and the window in which our own changes are told from others'.</summary>
    private static readonly TimeSpan ChangeWindow = TimeSpan.FromSeconds(4);
}
