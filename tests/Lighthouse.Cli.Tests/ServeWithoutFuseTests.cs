using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.Sockets;
using Lighthouse.Mount.Testing;
using static Lighthouse.Cli.Tests.MountShell;

namespace Lighthouse.Cli.Tests;

/// <summary>
/// `lighthouse serve` on a host with no FUSE at all: run in a mount namespace whose /dev is a fresh tmpfs holding only
/// null, zero, random and urandom (no /dev/fuse), it serves the project over HTTP; a PUT is recorded as the token's agent
/// and a GET reads it back.
/// </summary>
public sealed class ServeWithoutFuseTests
{
    private static readonly string Cli = Path.Combine(LighthouseMountFixture.FindRepoRoot(), ".build", "cli", "lighthouse.dll");

    [Fact]
    public async Task Serve_records_http_writes_on_a_host_without_dev_fuse()
    {
        using var p = new TempProject();
        Lh(p, "agent add bot --role builder").Must();
        var issued = Lh(p, "agent token bot");
        issued.Must();
        var token = issued.Stdout.Trim().Split('\n')[^1].Trim();
        int port = FreePort();
        var script = "set -e; mount -t tmpfs none /dev; " +
                     "mknod -m 666 /dev/null c 1 3; mknod -m 666 /dev/zero c 1 5; mknod -m 666 /dev/random c 1 8; mknod -m 666 /dev/urandom c 1 9; " +
                     $"test ! -e /dev/fuse; exec dotnet {Quote(Cli)} serve {Quote(p.Dir)} --listen 127.0.0.1:{port}";
        var psi = new ProcessStartInfo("unshare", ["-m", "sh", "-c", script]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var serve = Process.Start(psi)!;
        var output = new System.Text.StringBuilder();
        serve.OutputDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        serve.ErrorDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        serve.BeginOutputReadLine();
        serve.BeginErrorReadLine();
        try
        {
            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
            var until = DateTime.UtcNow.AddSeconds(60);
            while (true)
            {
                try { if ((await client.GetAsync("/v1/status")).IsSuccessStatusCode) break; }
                catch (HttpRequestException) { }
                Assert.False(serve.HasExited, "serve exited:\n" + output);
                Assert.True(DateTime.UtcNow < until, "serve did not answer within 60 s:\n" + output);
                await Task.Delay(200);
            }
            var put = await client.PutAsync("/v1/files/src/nofuse.txt", new StringContent("written without fuse"));
            Assert.True(put.IsSuccessStatusCode, await put.Content.ReadAsStringAsync());
            Assert.Equal("written without fuse", await client.GetStringAsync("/v1/files/src/nofuse.txt"));
        }
        finally
        {
            if (!serve.HasExited) Sh($"kill -TERM {serve.Id}");
            if (!serve.WaitForExit(30_000)) serve.Kill(entireProcessTree: true);
        }
        Assert.True(serve.ExitCode == 0, "serve did not stop cleanly:\n" + output);
        Assert.Equal("written without fuse", File.ReadAllText(p.PathOf("src/nofuse.txt")));
        var log = Lh(p, "log --json");
        log.Must();
        var create = log.Stdout.Split('\n').Single(l => l.Contains("\"path\":\"src/nofuse.txt\""));
        Assert.Contains("\"agent\":\"bot\"", create);
        Assert.Contains("\"agentVia\":\"token\"", create);
    }

    private static Outcome Lh(TempProject p, string args) => Sh($"dotnet {Quote(Cli)} {args} -C {Quote(p.Dir)}");

    private static int FreePort()
    {
        using var l = new TcpListener(System.Net.IPAddress.Loopback, 0);
        l.Start();
        return ((System.Net.IPEndPoint)l.LocalEndpoint).Port;
    }
}
