using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Lighthouse.Project;
using Lighthouse.Store;

namespace Lighthouse.Server.Tests;

/// <summary>A scratch project opened in-process and served over HTTP (Kestrel on 127.0.0.1:0, or a Unix socket), with
/// named agents and their tokens; everything is removed afterwards.</summary>
public sealed class ServedProject : IAsyncDisposable
{
    private ServedProject(string dir, string outside, ProjectHost host, LighthouseServer server, HttpClient client, string? socket)
    {
        Dir = dir; Outside = outside; Host = host; Server = server; Client = client; Socket = socket;
    }

    public string Dir { get; }
    /// <summary>A directory beside the project that nothing may reach through it.</summary>
    public string Outside { get; }
    public ProjectHost Host { get; }
    public LighthouseServer Server { get; }
    public HttpClient Client { get; }
    public string? Socket { get; }
    public string BuilderToken { get; private set; } = "";
    public string ReviewerToken { get; private set; } = "";

    public static async Task<ServedProject> StartAsync(bool unixSocket = false, long maxBody = 1 << 20, TimeSpan? heartbeat = null)
    {
        var root = Path.Combine(Path.GetTempPath(), "lh-server-tests", Guid.NewGuid().ToString("N")[..12]);
        var dir = Path.Combine(root, "project");
        var outside = Path.Combine(root, "outside");
        Directory.CreateDirectory(dir);
        Directory.CreateDirectory(outside);
        File.WriteAllText(Path.Combine(outside, "secret.txt"), "outside bytes");
        var host = ProjectHost.Open(dir, new ProjectOptions
        {
            Stores = SqliteProjectStoreFactory.Instance,
            Store = new StoreOptions { Durability = Durability.Normal, FsyncObjects = false },
            Log = _ => { },
        });
        string? socket = unixSocket ? Path.Combine(root, "api.sock") : null;
        var server = await LighthouseServer.StartAsync(host, new ServerOptions
        {
            Listen = socket is null ? "127.0.0.1:0" : "unix:" + socket,
            MaxBodyBytes = maxBody,
            Heartbeat = heartbeat ?? TimeSpan.FromSeconds(15),
            Log = _ => { },
        });
        HttpClient client;
        if (socket is null) client = new HttpClient { BaseAddress = new Uri(server.Addresses[0]) };
        else
        {
            var handler = new SocketsHttpHandler
            {
                ConnectCallback = async (_, ct) =>
                {
                    var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                    await s.ConnectAsync(new UnixDomainSocketEndPoint(socket), ct);
                    return new NetworkStream(s, ownsSocket: true);
                },
            };
            client = new HttpClient(handler) { BaseAddress = new Uri("http://lighthouse") };
        }
        client.Timeout = TimeSpan.FromSeconds(60);
        var served = new ServedProject(dir, outside, host, server, client, socket);
        host.Registry.Add("builder", "builder");
        host.Registry.Add("reviewer", "reviewer");
        served.BuilderToken = host.Registry.IssueToken("builder", TimeSpan.FromHours(1)).Text;
        served.ReviewerToken = host.Registry.IssueToken("reviewer", TimeSpan.FromHours(1)).Text;
        return served;
    }

    public string Abs(string rel) => Path.Combine(Dir, rel);

    public HttpRequestMessage Request(HttpMethod method, string url, string? token = null, HttpContent? content = null)
    {
        var r = new HttpRequestMessage(method, url) { Content = content };
        if (token is not null) r.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return r;
    }

    public async Task<HttpResponseMessage> Send(HttpMethod method, string url, string? token, HttpContent? content = null, Action<HttpRequestMessage>? edit = null)
    {
        var r = Request(method, url, token, content);
        edit?.Invoke(r);
        return await Client.SendAsync(r);
    }

    public Task<HttpResponseMessage> Put(string path, string text, string? token = null, Action<HttpRequestMessage>? edit = null) =>
        Send(HttpMethod.Put, "/v1/files/" + path, token ?? BuilderToken, new StringContent(text, Encoding.UTF8), edit);

    public Task<HttpResponseMessage> Get(string url, string? token = null) => Send(HttpMethod.Get, url, token ?? BuilderToken);

    public static async Task<JsonElement> Json(HttpResponseMessage r) => JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement.Clone();

    /// <summary>The events after <paramref name="afterSeq"/>, oldest first, once everything queued is recorded.</summary>
    public IReadOnlyList<StoreEvent> EventsAfter(long afterSeq)
    {
        Host.Recorder.Flush();
        return Host.Store.EventsAfter(afterSeq, 10_000);
    }

    /// <summary>A request written byte for byte over TCP (HttpClient would normalise "../" away); returns the status code.</summary>
    public async Task<int> RawStatus(string requestTarget, string method = "GET", string? token = null, string body = "") =>
        (await Raw(requestTarget, method, token, body)).Status;

    /// <summary>As <see cref="RawStatus"/>, with the whole answer (headers and body) as text.</summary>
    public async Task<(int Status, string Answer)> Raw(string requestTarget, string method = "GET", string? token = null, string body = "")
    {
        var uri = new Uri(Server.Addresses[0]);
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(uri.Host, uri.Port);
        var stream = tcp.GetStream();
        var text = $"{method} {requestTarget} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nAuthorization: Bearer {token ?? BuilderToken}\r\n" +
                   $"Content-Length: {Encoding.UTF8.GetByteCount(body)}\r\n\r\n{body}";
        await stream.WriteAsync(Encoding.UTF8.GetBytes(text));
        using var reader = new StreamReader(stream, Encoding.ASCII);
        var answer = await reader.ReadToEndAsync();
        var status = answer.Split("\r\n")[0];
        return (int.Parse(status.Split(' ')[1]), answer);
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await Server.DisposeAsync();
        Host.Dispose();
        try { Directory.Delete(Path.GetDirectoryName(Dir)!, recursive: true); }
        catch (IOException) { }
    }
}
