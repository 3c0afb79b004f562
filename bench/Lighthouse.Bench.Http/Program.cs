// The HTTP API against native file access, measured in the same run: file read and write MiB/s over loopback (ratios
// against reading and writing the file directly), server-sent events per second, and the latency from a PUT to its
// event on an open stream (p50/p99). Usage: dotnet run -c Release --project bench/Lighthouse.Bench.Http [-- --mib 64 --reps 3]
using System.Diagnostics;
using System.Net.Http.Headers;
using Lighthouse.Project;
using Lighthouse.Server;
using Lighthouse.Store;

int mib = ArgInt("--mib", 64), reps = ArgInt("--reps", 3), latencySamples = ArgInt("--latency", 200), replayEvents = ArgInt("--events", 3000);
var root = Path.Combine("/var/tmp", "lh-bench-http-" + Guid.NewGuid().ToString("N")[..8]);
var dir = Path.Combine(root, "project");
Directory.CreateDirectory(dir);
try
{
    using var host = ProjectHost.Open(dir, new ProjectOptions { Stores = SqliteProjectStoreFactory.Instance, Log = _ => { } });
    host.Registry.Add("bench", "bench");
    var token = host.Registry.IssueToken("bench", TimeSpan.FromHours(1)).Text;
    await using var server = await LighthouseServer.StartAsync(host, new ServerOptions { Listen = "127.0.0.1:0", MaxBodyBytes = (long)(mib + 1) << 20, Log = _ => { } });
    using var client = new HttpClient { BaseAddress = new Uri(server.Addresses[0]), Timeout = TimeSpan.FromMinutes(5) };
    client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
    var data = new byte[mib << 20];
    new Random(42).NextBytes(data);

    Console.WriteLine($"HTTP API bench: {mib} MiB file, best of {reps}; loopback TCP {server.Addresses[0]}; {Environment.ProcessorCount} CPUs");
    // Write: native = write + close of the same bytes; HTTP = PUT (recorded: its capture hashes and stores the bytes, after the reply).
    double nativeWrite = Best(reps, () => File.WriteAllBytes(Path.Combine(dir, "native.bin"), data));
    double httpWrite = Best(reps, () =>
    {
        var r = client.PutAsync("/v1/files/http.bin", new ByteArrayContent(data)).GetAwaiter().GetResult();
        r.EnsureSuccessStatusCode();
        host.Recorder.Flush(); // the recording is part of the cost: the next PUT would wait for it anyway
    });
    // Both reads go through a 64 KiB buffer, as a client would stream it.
    double nativeRead = Best(reps, () =>
    {
        using var s = new FileStream(Path.Combine(dir, "http.bin"), FileMode.Open, FileAccess.Read, FileShare.Read, 0);
        var buffer = new byte[1 << 16];
        while (s.Read(buffer) > 0) { }
    });
    double httpRead = Best(reps, () =>
    {
        using var r = client.GetAsync("/v1/files/http.bin", HttpCompletionOption.ResponseHeadersRead).GetAwaiter().GetResult();
        r.EnsureSuccessStatusCode();
        using var s = r.Content.ReadAsStream();
        var buffer = new byte[1 << 16];
        while (s.Read(buffer) > 0) { }
    });
    Row("write (PUT, recorded)", mib / httpWrite, mib / nativeWrite);
    Row("read (GET, warm)", mib / httpRead, mib / nativeRead);

    // Server-sent events: replaying the log to a stream from the start.
    for (int i = 0; i < replayEvents; i++) host.Recorder.Created(new Lighthouse.Project.Agents.Agent("bench", Lighthouse.Project.Agents.AgentSource.Token), $"d{i}", default, new Lighthouse.Project.Recording.FileFacts(0x41ed, 0, 0, 0, 0, 0, 0));
    host.Recorder.Flush();
    long last = host.Store.LastSeq;
    var sw = Stopwatch.StartNew();
    int seen = 0;
    using (var r = await client.GetAsync("/v1/events/stream?since=0", HttpCompletionOption.ResponseHeadersRead))
    using (var reader = new StreamReader(await r.Content.ReadAsStreamAsync()))
    {
        string? line;
        while ((line = await reader.ReadLineAsync()) is not null)
            if (line.StartsWith("id: ") && ++seen > 0 && long.Parse(line[4..]) >= last) break;
    }
    Console.WriteLine($"{"SSE replay",-24} {seen / sw.Elapsed.TotalSeconds,10:N0} events/s   ({seen:N0} events)");

    // Latency from a PUT's reply to its event on an open stream.
    var latencies = new List<double>();
    using (var r = await client.GetAsync("/v1/events/stream", HttpCompletionOption.ResponseHeadersRead))
    using (var reader = new StreamReader(await r.Content.ReadAsStreamAsync()))
    {
        var small = new byte[100];
        for (int i = 0; i < latencySamples; i++)
        {
            var put = client.PutAsync($"/v1/files/lat/{i % 20}.txt", new ByteArrayContent(small));
            var start = Stopwatch.GetTimestamp();
            (await put).EnsureSuccessStatusCode();
            string? line;
            while ((line = await reader.ReadLineAsync()) is not null)
                if (line.StartsWith("data: ") && line.Contains($"\"lat/{i % 20}.txt\"")) break;
            latencies.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }
    }
    latencies.Sort();
    Console.WriteLine($"{"PUT -> SSE event",-24} p50 {latencies[latencies.Count / 2]:0.0} ms   p99 {latencies[(int)(latencies.Count * 0.99)]:0.0} ms   ({latencies.Count} samples; includes the PUT itself)");
}
finally
{
    Directory.Delete(root, recursive: true);
}

static double Best(int reps, Action run)
{
    run(); // warm-up
    double best = double.MaxValue;
    for (int i = 0; i < reps; i++)
    {
        var sw = Stopwatch.StartNew();
        run();
        best = Math.Min(best, sw.Elapsed.TotalSeconds);
    }
    return best;
}

static void Row(string name, double http, double native) =>
    Console.WriteLine($"{name,-24} {http,10:N0} MiB/s   native {native,8:N0} MiB/s   ratio {http / native:0.00}");

int ArgInt(string name, int fallback)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1]) : fallback;
}
