using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using Lighthouse.Fuse.Hosting;
using Lighthouse.Store;

namespace Lighthouse.FileSystem.Tests;

/// <summary>A mount hosted in-process (so a test can lower the slow threshold of its session); always unmounted.</summary>
public sealed class DebugMountFixture : IDisposable
{
    private readonly FuseServer? _server;

    public DebugMountFixture()
    {
        if (Environment.UserName != "root" || !File.Exists("/dev/fuse"))
            throw new InvalidOperationException("the mount tests need root and /dev/fuse (CI runs them as root)");
        Root = Path.Combine(LighthouseMountFixture.TempBase, "debug-" + Guid.NewGuid().ToString("N")[..10]);
        Project = Path.Combine(Root, "project");
        MountPoint = Path.Combine(Root, "mnt");
        Directory.CreateDirectory(Project);
        File.WriteAllText(Path.Combine(Project, "README.md"), "debug\n");
        try
        {
            Mount = LighthouseMount.Open(Project, new LighthouseMountOptions
            {
                Stores = SqliteProjectStoreFactory.Instance, Store = new StoreOptions { Durability = Durability.Normal, FsyncObjects = false },
                CollectGarbage = false,
            });
            _server = Mount.Start(MountPoint, TextWriter.Null);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string Root { get; }
    public string Project { get; }
    public string MountPoint { get; }
    public LighthouseMount Mount { get; } = null!;
    public string Debug => Path.Combine(MountPoint, "debug");
    public string Current => Path.Combine(MountPoint, "current");

    public void Dispose()
    {
        try { _server?.Dispose(); }
        finally
        {
            if (File.ReadAllText("/proc/self/mountinfo").Contains(" " + MountPoint + " ", StringComparison.Ordinal))
                LighthouseMountFixture.Run("umount", $"-l {MountPoint}");
            Mount?.Dispose();
            try { Directory.Delete(Root, true); } catch (IOException) { }
        }
    }
}

/// <summary>debug/ read through the kernel with the tools a person would use: cat, stat, python's json, setpriv.</summary>
public sealed class DebugSectionTests(DebugMountFixture fixture) : IClassFixture<DebugMountFixture>
{
    private string D(string name) => Path.Combine(fixture.Debug, name);
    private static string Run(string file, string args) => LighthouseMountFixture.MustRun(file, args);
    private static (int Code, string Output) Try(string file, string args) => LighthouseMountFixture.Run(file, args);
    private JsonElement Stats() => JsonDocument.Parse(Run("cat", D("stats.json"))).RootElement;

    private static long Count(JsonElement stats, string op) =>
        stats.GetProperty("operations").TryGetProperty(op, out var o) ? o.GetProperty("count").GetInt64() : 0;

    private static long Errors(JsonElement stats, string op, string errno) =>
        stats.GetProperty("operations").TryGetProperty(op, out var o) && o.GetProperty("errorsByErrno").TryGetProperty(errno, out var n) ? n.GetInt64() : 0;

    [Fact]
    public void Stats_json_counts_creates_and_failed_lookups_by_errno_with_ordered_percentiles()
    {
        var before = Stats();
        string dir = Path.Combine(fixture.Current, "stats-" + Guid.NewGuid().ToString("N")[..6]);
        Directory.CreateDirectory(dir);
        Run("sh", $"-c \"for i in 1 2 3 4 5; do : > {dir}/f$i; done\"");
        // A missing name is a negative entry (a successful reply the kernel caches), not an error: errors the mount answers
        // are a non-empty directory's ENOTEMPTY and an unknown history point's ENOENT.
        for (int i = 0; i < 3; i++) Assert.NotEqual(0, Try("rmdir", dir).Code);
        for (int i = 0; i < 2; i++) Assert.NotEqual(0, Try("stat", Path.Combine(fixture.MountPoint, "history", $"@{999_999_990 + i}")).Code);
        var after = Stats();

        Assert.Equal(Count(before, "CREATE") + 5, Count(after, "CREATE"));
        Assert.Equal(Count(before, "MKDIR") + 1, Count(after, "MKDIR"));
        Assert.Equal(Errors(before, "RMDIR", "ENOTEMPTY") + 3, Errors(after, "RMDIR", "ENOTEMPTY"));
        Assert.Equal(Errors(before, "LOOKUP", "ENOENT") + 2, Errors(after, "LOOKUP", "ENOENT"));
        Assert.True(after.GetProperty("requests").GetInt64() > before.GetProperty("requests").GetInt64());
        foreach (var op in after.GetProperty("operations").EnumerateObject())
            foreach (var window in op.Value.GetProperty("latency").EnumerateObject())
            {
                var w = window.Value;
                double p50 = w.GetProperty("p50").GetDouble(), p90 = w.GetProperty("p90").GetDouble(),
                    p99 = w.GetProperty("p99").GetDouble(), max = w.GetProperty("max").GetDouble();
                Assert.True(p50 <= p90 && p90 <= p99 && p99 <= max, $"{op.Name} {window.Name}: {w}");
                if (w.GetProperty("count").GetInt64() > 0) Assert.True(max > 0, $"{op.Name} {window.Name}: {w}");
            }
        // The 1 min window is inside the 10 min one, which is inside the hour.
        var creates = after.GetProperty("operations").GetProperty("CREATE").GetProperty("latency");
        Assert.True(creates.GetProperty("1m").GetProperty("count").GetInt64() >= 5);
        Assert.True(creates.GetProperty("1m").GetProperty("count").GetInt64() <= creates.GetProperty("1h").GetProperty("count").GetInt64());
        // What INIT negotiated, and the creates credited to the shell's agent.
        var connection = after.GetProperty("connection");
        Assert.Matches(@"^7\.\d+$", connection.GetProperty("protocol").GetString()!);
        Assert.True(connection.GetProperty("maxWrite").GetInt64() > 0);
        Assert.Equal(fixture.Mount.Current.Passthrough.UsingKernelPassthrough, connection.GetProperty("kernelPassthrough").GetBoolean());
        Assert.True(after.GetProperty("agents").GetProperty("byAgent").GetProperty("root/sh").GetProperty("operations").GetInt64() >= 5);
        // Python reads it whole too.
        Run("python3", $"-c \"import json; d = json.load(open('{D("stats.json")}')); assert 'CREATE' in d['operations']\"");
    }

    private static readonly Regex PromSample = new(@"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*=""(\\.|[^""\\])*"")(,[a-zA-Z_][a-zA-Z0-9_]*=""(\\.|[^""\\])*"")*\})? (-?[0-9.eE+-]+|\+Inf|-Inf|NaN)$");
    private static readonly Regex PromHelp = new(@"^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) \S.*$");
    private static readonly Regex PromType = new(@"^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|summary|histogram|untyped)$");

    [Fact]
    public void Stats_prom_is_valid_text_exposition_format()
    {
        Run("ls", fixture.Current); // something to count
        string text = Run("cat", D("stats.prom"));
        Assert.EndsWith("\n", text);
        var helped = new HashSet<string>();
        var typed = new Dictionary<string, string>();
        var samples = new HashSet<string>();
        string? family = null;
        foreach (var line in text.TrimEnd('\n').Split('\n'))
        {
            if (PromHelp.Match(line) is { Success: true } help)
            {
                Assert.True(helped.Add(help.Groups[1].Value), $"a second HELP: {line}");
                family = help.Groups[1].Value;
                continue;
            }
            if (PromType.Match(line) is { Success: true } type)
            {
                Assert.Equal(family, type.Groups[1].Value);
                Assert.True(typed.TryAdd(type.Groups[1].Value, type.Groups[2].Value), $"a second TYPE: {line}");
                continue;
            }
            var sample = PromSample.Match(line);
            Assert.True(sample.Success, $"not a sample: {line}");
            string name = sample.Groups[1].Value;
            Assert.NotNull(family);
            bool belongs = name == family || typed[family!] == "summary" && (name == family + "_sum" || name == family + "_count");
            Assert.True(belongs, $"{name} under the family {family}");
            Assert.True(double.TryParse(line[(line.LastIndexOf(' ') + 1)..].Replace("+Inf", "Infinity"), System.Globalization.NumberStyles.Float,
                System.Globalization.CultureInfo.InvariantCulture, out _), line);
            Assert.True(samples.Add(line[..line.LastIndexOf(' ')]), $"a duplicate sample: {line}");
            if (typed[family!] == "counter") Assert.EndsWith("_total", name);
        }
        Assert.Contains("lighthouse_fuse_requests_total", typed.Keys);
        Assert.Equal("summary", typed["lighthouse_fuse_request_duration_seconds"]);
        Assert.Contains(samples, s => s.StartsWith("lighthouse_fuse_request_duration_seconds{op=\"LOOKUP\",window=\"1m\",quantile=\"0.99\"}", StringComparison.Ordinal));
    }

    [Fact]
    public void Slow_jsonl_gets_an_entry_for_a_request_over_a_lowered_threshold()
    {
        var stats = fixture.Mount.Session!.Stats;
        string name = "slow-" + Guid.NewGuid().ToString("N")[..6];
        File.WriteAllText(Path.Combine(fixture.Project, name), "x\n"); // made beside the mount: its first open is a request of ours
        Thread.Sleep(200);
        var threshold = stats.SlowThreshold;
        try
        {
            stats.SlowThreshold = TimeSpan.FromTicks(10); // 1 µs: every request is slow
            Run("cat", Path.Combine(fixture.Current, name));
        }
        finally { stats.SlowThreshold = threshold; }
        var lines = Run("cat", D("slow.jsonl")).TrimEnd('\n').Split('\n');
        var entries = lines.Select(l => JsonDocument.Parse(l).RootElement).ToList();
        var mine = entries.Where(e => e.GetProperty("path").GetString() == "current/" + name).ToList();
        Assert.NotEmpty(mine);
        Assert.Contains(mine, e => e.GetProperty("op").GetString() is "OPEN" or "GETATTR" or "READ" or "LOOKUP" or "RELEASE");
        foreach (var e in mine)
        {
            Assert.True(e.GetProperty("ms").GetDouble() >= 0.001);
            Assert.True(DateTime.TryParse(e.GetProperty("time").GetString(), out _));
            Assert.True(e.TryGetProperty("pid", out _) && e.TryGetProperty("errno", out _));
        }
        // The threshold back at 100 ms: a quick request is not added.
        int kept = entries.Count;
        Run("stat", Path.Combine(fixture.Current, name));
        Assert.True(Run("cat", D("slow.jsonl")).TrimEnd('\n').Split('\n').Length <= Math.Max(kept, 1) + 1);
    }

    /// <summary>A shell holding <paramref name="path"/> open for reading on descriptor 3 until its stdin closes.</summary>
    private static Process Hold(string path)
    {
        var psi = new ProcessStartInfo("sh", ["-c", $"exec 3< '{path}'; echo held; read _"])
        {
            RedirectStandardInput = true, RedirectStandardOutput = true,
        };
        var process = Process.Start(psi)!;
        Assert.Equal("held", process.StandardOutput.ReadLine());
        return process;
    }

    private JsonElement? HandleOf(string path) =>
        JsonDocument.Parse(Run("cat", D("handles.json"))).RootElement.GetProperty("handles").EnumerateArray()
            .Cast<JsonElement?>().FirstOrDefault(h => h!.Value.GetProperty("path").GetString() == path);

    [Fact]
    public void Handles_json_lists_a_file_held_open_with_its_path_agent_pid_and_flags_and_drops_it_after_close()
    {
        string name = "held-" + Guid.NewGuid().ToString("N")[..6];
        File.WriteAllText(Path.Combine(fixture.Current, name), "held\n");
        using var holder = Hold(Path.Combine(fixture.Current, name));
        try
        {
            var handle = HandleOf("current/" + name) ?? throw new Xunit.Sdk.XunitException("the held file is not listed:\n" + Run("cat", D("handles.json")));
            Assert.Equal(holder.Id, handle.GetProperty("pid").GetInt32());
            Assert.Equal("root/sh", handle.GetProperty("agent").GetString());
            Assert.Equal("O_RDONLY", handle.GetProperty("flags")[0].GetString());
            Assert.False(handle.GetProperty("writable").GetBoolean());
            Assert.False(handle.GetProperty("directory").GetBoolean());
        }
        finally
        {
            holder.StandardInput.Close();
            holder.WaitForExit();
        }
        // RELEASE reaches the mount after close() has returned.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (HandleOf("current/" + name) is not null && DateTime.UtcNow < deadline) Thread.Sleep(50);
        Assert.Null(HandleOf("current/" + name));
    }

    [Fact]
    public void Other_users_see_how_many_files_are_open_but_not_which_nor_the_paths_of_slow_requests()
    {
        string name = "private-" + Guid.NewGuid().ToString("N")[..6];
        File.WriteAllText(Path.Combine(fixture.Current, name), "secret name\n");
        var stats = fixture.Mount.Session!.Stats;
        var threshold = stats.SlowThreshold;
        try
        {
            stats.SlowThreshold = TimeSpan.FromTicks(10);
            Run("cat", Path.Combine(fixture.Current, name));
        }
        finally { stats.SlowThreshold = threshold; }
        using var holder = Hold(Path.Combine(fixture.Current, name));
        try
        {
            Assert.Contains(name, Run("cat", D("handles.json"))); // the owner (root) sees it
            const string Nobody = "setpriv --reuid=65534 --regid=65534 --clear-groups";
            var (code, handles) = Try("sh", $"-c \"{Nobody} cat {D("handles.json")}\"");
            Assert.True(code == 0, handles);
            var doc = JsonDocument.Parse(handles).RootElement;
            Assert.True(doc.GetProperty("open").GetInt32() >= 1);
            Assert.StartsWith("withheld", doc.GetProperty("handles").GetString());
            Assert.DoesNotContain(name, handles);
            var (slowCode, slow) = Try("sh", $"-c \"{Nobody} cat {D("slow.jsonl")}\"");
            Assert.True(slowCode == 0, slow);
            Assert.NotEmpty(slow.Trim());
            Assert.DoesNotContain(name, slow);
            Assert.DoesNotContain("\"path\"", slow);
            Assert.DoesNotContain("\"pid\"", slow);
            // Their stat gives the size of what they read.
            var (_, size) = Try("sh", $"-c \"{Nobody} stat -c %s {D("handles.json")}\"");
            Assert.Equal(System.Text.Encoding.UTF8.GetByteCount(handles), long.Parse(size.Trim()));
            // Statistics are for everyone.
            var (statsCode, statsText) = Try("sh", $"-c \"{Nobody} cat {D("stats.json")}\"");
            Assert.True(statsCode == 0, statsText);
            JsonDocument.Parse(statsText);
        }
        finally
        {
            holder.StandardInput.Close();
            holder.WaitForExit();
        }
    }

    private (long Size, string Mtime) StatOf(string name)
    {
        var parts = Run("stat", $"-c \"%s %y\" {D(name)}").Trim().Split(' ', 2);
        return (long.Parse(parts[0]), parts[1]);
    }

    /// <summary>The recorder idle and the kernel done with what earlier tests did (its RELEASE and FORGET come late).</summary>
    private void Settle()
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (fixture.Mount.Project.Status().Backlog > 0 && DateTime.UtcNow < deadline) Thread.Sleep(50);
        Thread.Sleep(300);
    }

    [Theory]
    [InlineData("stats.json")]
    [InlineData("stats.prom")]
    [InlineData("slow.jsonl")]
    [InlineData("handles.json")]
    [InlineData("store.json")]
    [InlineData("health.json")]
    public void Stat_gives_the_size_cat_reads_and_a_time_that_does_not_move_without_activity(string name)
    {
        Settle();
        // A minute turning between the stat and the read can move a window's figures: then look again.
        for (int attempt = 0; ; attempt++)
        {
            var first = StatOf(name);
            string content = Run("cat", D(name));
            Thread.Sleep(1100);
            var second = StatOf(name);
            bool same = first.Size == System.Text.Encoding.UTF8.GetByteCount(content) && first == second;
            if (same || attempt == 2)
            {
                Assert.Equal(first.Size, System.Text.Encoding.UTF8.GetByteCount(content));
                Assert.Equal(first, second);
                break;
            }
        }
        if (name.EndsWith(".json", StringComparison.Ordinal)) JsonDocument.Parse(Run("cat", D(name)));
        Assert.Matches("^regular (empty )?file 444$", Run("stat", $"-c \"%F %a\" {D(name)}").Trim());
    }

    [Fact]
    public void Every_change_is_refused_with_erofs_and_the_listing_is_fixed()
    {
        Assert.Equal(["handles.json", "health.json", "slow.jsonl", "stats.json", "stats.prom", "store.json"],
            Run("ls", fixture.Debug).Split('\n', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal).ToArray());
        foreach (var command in new[] { $"echo x > {D("stats.json")}", $"touch {D("new")}", $"rm {D("health.json")}", $"mkdir {D("dir")}",
                     $"mv {D("store.json")} {D("moved")}", $"chmod 600 {D("stats.prom")}" })
        {
            var (code, output) = Try("sh", $"-c \"{command}\"");
            Assert.NotEqual(0, code);
            Assert.Contains("Read-only file system", output);
        }
        // fsync of a debug file is answered (never ENOSYS, which would end fsync for current/ too).
        Run("python3", $"-c \"import os; fd = os.open('{D("health.json")}', os.O_RDONLY); os.fsync(fd); os.close(fd)\"");
    }

    [Fact]
    public void Store_and_health_say_what_status_says()
    {
        var store = JsonDocument.Parse(Run("cat", D("store.json"))).RootElement;
        var status = fixture.Mount.Project.Status();
        Assert.Equal(fixture.Project, store.GetProperty("projectDir").GetString());
        Assert.True(store.GetProperty("events").GetInt64() >= 1);
        Assert.True(store.GetProperty("chain").GetProperty("ok").GetBoolean());
        Assert.True(store.GetProperty("store").GetProperty("bytesOnDisk").GetInt64() > 0);
        var health = JsonDocument.Parse(Run("cat", D("health.json"))).RootElement;
        Assert.True(health.GetProperty("alive").GetBoolean());
        Assert.Equal(Environment.ProcessId, health.GetProperty("pid").GetInt32());
        Assert.Equal(status.RecordingFailures, health.GetProperty("recording").GetProperty("failures").GetInt64());
        Assert.True(DateTime.TryParse(health.GetProperty("started").GetString(), out _));
    }
}
