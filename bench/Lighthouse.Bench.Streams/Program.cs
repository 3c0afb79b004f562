using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Lighthouse.FileSystem;
using Lighthouse.Interop;
using Lighthouse.Server;
using Lighthouse.Store;

// streams/ and server-sent events benchmark: mounts a scratch project in-process (root and /dev/fuse needed), serves its
// HTTP API from the same process (as `lighthouse mount --http` does), and measures
//  1. latency from a write in current/ (open, write, close) to the line a blocked reader of streams/events.jsonl gets,
//     and to the event an SSE client of /v1/events/stream gets (p50, p99);
//  2. events per second delivered to both while a writer creates files as fast as it can (and recorded per second);
//  3. events per second delivered by a replay (streams/since/1), which the recorder does not limit.
// Usage: dotnet run -c Release --project bench/Lighthouse.Bench.Streams [-- --quick]
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
if (Environment.UserName != "root" || !File.Exists("/dev/fuse")) { Console.Error.WriteLine("bench: needs root and /dev/fuse"); return 1; }
bool quick = args.Contains("--quick");
int latencySamples = quick ? 100 : 1000, burstFiles = quick ? 1000 : 5000;

var root = Path.Combine(Environment.GetEnvironmentVariable("LIGHTHOUSE_BENCH_DIR") ?? "/var/tmp", $"lh-streams-bench-{Environment.ProcessId}");
var project = Path.Combine(root, "project");
var mnt = Path.Combine(root, "mnt");
Directory.CreateDirectory(project);
Directory.CreateDirectory(mnt);
using var mount = LighthouseMount.Open(project, new LighthouseMountOptions
{
    Stores = SqliteProjectStoreFactory.Instance, Store = new StoreOptions { Durability = Durability.Normal, FsyncObjects = false },
});
var server = mount.Start(mnt, TextWriter.Null);
mount.Project.Registry.Add("bench", "builder");
var token = mount.Project.Registry.IssueToken("bench", TimeSpan.FromHours(1)).Text;
await using var http = await LighthouseServer.StartAsync(mount.Project, new ServerOptions { Listen = "127.0.0.1:0", Log = _ => { } });
try
{
    var current = Path.Combine(mnt, "current");
    var events = Path.Combine(mnt, "streams", "events.jsonl");

    // 1. Latency, one write at a time.
    Directory.CreateDirectory(Path.Combine(current, "lat"));
    using (var reader = new LineReader(events, Path.Combine(current, "wake")))
    using (var sse = new SseReader(http.Addresses[0], token))
    {
        var latencies = new List<double>(latencySamples);
        var sseLatencies = new List<double>(latencySamples);
        for (int i = 0; i < latencySamples; i++)
        {
            string name = $"lat/f{i}";
            long start = Stopwatch.GetTimestamp();
            File.WriteAllText(Path.Combine(current, name), "x");
            long seen = reader.WaitForPath(name, "create");
            long sseSeen = sse.WaitForPath(name, "create");
            latencies.Add(Stopwatch.GetElapsedTime(start, seen).TotalMilliseconds);
            sseLatencies.Add(Stopwatch.GetElapsedTime(start, sseSeen).TotalMilliseconds);
        }
        latencies.Sort();
        sseLatencies.Sort();
        Console.WriteLine($"write in current/ -> streams/events.jsonl reader: p50 {Pct(latencies, 0.50):F2} ms, p99 {Pct(latencies, 0.99):F2} ms, max {latencies[^1]:F2} ms (n={latencySamples})");
        Console.WriteLine($"write in current/ -> SSE client of /v1/events/stream: p50 {Pct(sseLatencies, 0.50):F2} ms, p99 {Pct(sseLatencies, 0.99):F2} ms, max {sseLatencies[^1]:F2} ms (n={latencySamples})");
    }

    // 2. A burst: events delivered per second to a live reader, against events recorded per second.
    Directory.CreateDirectory(Path.Combine(current, "burst"));
    using (var reader = new LineReader(events, Path.Combine(current, "wake")))
    using (var sse = new SseReader(http.Addresses[0], token))
    {
        long firstSeq = mount.Project.Store.LastSeq + 1;
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < burstFiles; i++) File.WriteAllText(Path.Combine(current, $"burst/f{i}"), "y");
        double writeSeconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        long lastSeen = reader.WaitForPath($"burst/f{burstFiles - 1}", "write");
        double seconds = Stopwatch.GetElapsedTime(start, lastSeen).TotalSeconds;
        long delivered = reader.Count;
        long recorded = mount.Project.Store.LastSeq - firstSeq + 1;
        Console.WriteLine($"burst of {burstFiles} file writes ({writeSeconds:F2} s to write): {delivered} events delivered in {seconds:F2} s = {delivered / seconds:F0} events/s " +
                          $"({recorded} recorded; gaps: {reader.Gaps})");
        long sseLast = sse.WaitForPath($"burst/f{burstFiles - 1}", "write");
        double sseSeconds = Stopwatch.GetElapsedTime(start, sseLast).TotalSeconds;
        Console.WriteLine($"  the same burst over SSE: {sse.Count} events in {sseSeconds:F2} s = {sse.Count / sseSeconds:F0} events/s (gaps: {sse.Gaps})");
    }

    // 3. Replay of the whole log.
    {
        long last = mount.Project.Store.LastSeq;
        int fd = Libc.Open(Path.Combine(mnt, "streams", "since", "1"), Libc.O_RDONLY | Libc.O_NONBLOCK, 0);
        if (fd < 0) throw new IOException("open since/1: " + Libc.ErrorText(Libc.Errno));
        var buffer = new byte[1 << 17];
        long lines = 0, bytes = 0;
        long start = Stopwatch.GetTimestamp();
        while (true)
        {
            nint n;
            unsafe { fixed (byte* p = buffer) n = Libc.Read(fd, p, (nuint)buffer.Length); }
            if (n < 0) { if (Libc.Errno == Libc.EAGAIN) break; throw new IOException("read since/1: " + Libc.ErrorText(Libc.Errno)); }
            bytes += n;
            lines += buffer.AsSpan(0, (int)n).Count((byte)'\n');
        }
        double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        Libc.Close(fd);
        Console.WriteLine($"replay streams/since/1: {lines} events ({bytes / 1024.0 / 1024.0:F1} MiB, log at @{last}) in {seconds:F3} s = {lines / seconds:F0} events/s");
    }
    return 0;
}
finally
{
    server.Dispose();
    try { Directory.Delete(root, true); } catch (IOException) { }
}

static double Pct(List<double> sorted, double p) => sorted[Math.Min(sorted.Count - 1, (int)(p * sorted.Count))];

/// <summary>An SSE client of /v1/events/stream on a task of its own: when each path's event arrived.</summary>
sealed class SseReader : IDisposable
{
    private readonly HttpClient _client;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _task;
    private readonly Dictionary<(string, string), long> _seen = [];
    private long _count, _gaps;

    public SseReader(string baseAddress, string token)
    {
        _client = new HttpClient { BaseAddress = new Uri(baseAddress), Timeout = Timeout.InfiniteTimeSpan };
        _client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        var connected = new TaskCompletionSource();
        _task = Task.Run(async () =>
        {
            using var response = await _client.GetAsync("/v1/events/stream", HttpCompletionOption.ResponseHeadersRead, _stop.Token);
            response.EnsureSuccessStatusCode();
            connected.TrySetResult();
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(_stop.Token));
            bool gap = false;
            while (await reader.ReadLineAsync(_stop.Token) is { } line)
            {
                if (line.StartsWith("event: gap", StringComparison.Ordinal)) { gap = true; continue; }
                if (!line.StartsWith("data: ", StringComparison.Ordinal)) continue;
                long now = Stopwatch.GetTimestamp();
                if (gap) { gap = false; Interlocked.Increment(ref _gaps); continue; }
                using var json = JsonDocument.Parse(line.AsMemory(6));
                Interlocked.Increment(ref _count);
                var key = (json.RootElement.GetProperty("path").GetString()!, json.RootElement.GetProperty("op").GetString()!);
                lock (_seen) _seen.TryAdd(key, now);
            }
        });
        Task.WhenAny(connected.Task, _task).Wait(TimeSpan.FromSeconds(30));
        if (_task.IsFaulted) _task.GetAwaiter().GetResult();
    }

    public long Count => Interlocked.Read(ref _count);
    public long Gaps => Interlocked.Read(ref _gaps);

    public long WaitForPath(string path, string op)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < TimeSpan.FromSeconds(60))
        {
            lock (_seen)
                if (_seen.TryGetValue((path, op), out var at)) return at;
            if (_task.IsFaulted) _task.GetAwaiter().GetResult();
            Thread.SpinWait(200);
        }
        throw new TimeoutException($"no SSE event about {path} in 60 s");
    }

    public void Dispose()
    {
        _stop.Cancel();
        try { _task.Wait(TimeSpan.FromSeconds(10)); } catch (AggregateException) { }
        _client.Dispose();
    }
}

/// <summary>A blocked reader of a stream on a thread of its own: when each path's line arrived.</summary>
sealed class LineReader : IDisposable
{
    private readonly int _fd;
    private readonly Thread _thread;
    private readonly Dictionary<(string, string), long> _seen = [];
    private long _count, _gaps;
    private volatile bool _stop;

    private readonly string _wakeFile;

    /// <param name="wakeFile">A file in current/ written at the end, so the blocked read returns and the reader can stop.</param>
    public LineReader(string path, string wakeFile)
    {
        _wakeFile = wakeFile;
        _fd = Libc.Open(path, Libc.O_RDONLY, 0);
        if (_fd < 0) throw new IOException($"open {path}: {Libc.ErrorText(Libc.Errno)}");
        _thread = new Thread(Run) { IsBackground = true, Name = "stream-reader" };
        _thread.Start();
    }

    public long Count => Interlocked.Read(ref _count);
    public long Gaps => Interlocked.Read(ref _gaps);

    private unsafe void Run()
    {
        var buffer = new byte[1 << 17];
        var partial = new StringBuilder();
        while (!_stop)
        {
            nint n;
            fixed (byte* p = buffer) n = Libc.Read(_fd, p, (nuint)buffer.Length);
            if (n <= 0) return; // closed (EINTR/EBADF at the end) or the mount went away
            long now = Stopwatch.GetTimestamp();
            partial.Append(Encoding.UTF8.GetString(buffer, 0, (int)n));
            var text = partial.ToString();
            int end = text.LastIndexOf('\n');
            if (end < 0) continue;
            partial.Clear().Append(text[(end + 1)..]);
            foreach (var line in text[..end].Split('\n'))
            {
                using var json = JsonDocument.Parse(line);
                if (json.RootElement.TryGetProperty("gap", out _)) { Interlocked.Increment(ref _gaps); continue; }
                Interlocked.Increment(ref _count);
                var key = (json.RootElement.GetProperty("path").GetString()!, json.RootElement.GetProperty("op").GetString()!);
                lock (_seen) _seen.TryAdd(key, now);
            }
        }
    }

    /// <summary>When the first line about <paramref name="path"/> with operation <paramref name="op"/> arrived.</summary>
    public long WaitForPath(string path, string op)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < TimeSpan.FromSeconds(60))
        {
            lock (_seen)
                if (_seen.TryGetValue((path, op), out var at)) return at;
            Thread.SpinWait(200);
        }
        throw new TimeoutException($"no line about {path} in 60 s");
    }

    public void Dispose()
    {
        _stop = true;
        File.WriteAllText(_wakeFile, "wake"); // an event: the blocked read returns and sees _stop
        _thread.Join(TimeSpan.FromSeconds(10));
        Libc.Close(_fd);
    }
}
