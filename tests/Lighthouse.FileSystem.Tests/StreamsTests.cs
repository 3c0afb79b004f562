using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Lighthouse.FileSystem.Streams;
using Lighthouse.Fuse.Hosting;
using Lighthouse.Interop;
using Lighthouse.Project.Agents;
using Lighthouse.Project.Feed;
using Lighthouse.Store;
using Xunit.Abstractions;

namespace Lighthouse.FileSystem.Tests;

/// <summary>
/// A mount hosted in-process with a small streams/ backlog (so a test can fall behind it), uid 4245 mapped to the agent
/// "spy", and a policy that hides <c>classified/</c> from that agent. Always unmounted, even if mounting half failed.
/// </summary>
public sealed class StreamsMountFixture : IDisposable
{
    public const int Backlog = 16;
    public const uint SpyUid = 4245, OtherUid = 4244;
    public const int OwnerOfPrivate = 4243;
    private readonly FuseServer? _server;

    public StreamsMountFixture()
    {
        if (Environment.UserName != "root" || !File.Exists("/dev/fuse"))
            throw new InvalidOperationException("the mount tests need root and /dev/fuse (CI runs them as root)");
        Root = Path.Combine(LighthouseMountFixture.TempBase, "streams-" + Guid.NewGuid().ToString("N")[..10]);
        Project = Path.Combine(Root, "project");
        MountPoint = Path.Combine(Root, "mnt");
        Directory.CreateDirectory(Project);
        File.WriteAllText(Path.Combine(Project, "README.md"), "streams\n");
        var registry = new AgentRegistry(Project);
        registry.Add("spy", "expert");
        registry.MapUid(SpyUid, "spy");
        Directory.CreateDirectory(Path.Combine(Project, ".lighthouse"));
        File.WriteAllText(Path.Combine(Project, ".lighthouse", "policy.yaml"),
            "rules:\n  - name: the spy sees nothing classified\n    paths: [\"classified/\"]\n    agents: [spy]\n    effect: hide\n");
        try
        {
            Mount = LighthouseMount.Open(Project, new LighthouseMountOptions
            {
                Stores = SqliteProjectStoreFactory.Instance, Store = new StoreOptions { Durability = Durability.Normal, FsyncObjects = false },
                StreamBacklog = Backlog,
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
    public string Streams => Path.Combine(MountPoint, "streams");
    public string Current => Path.Combine(MountPoint, "current");
    public StreamsSection Section => Mount.Root.Sections.OfType<StreamsSection>().Single();
    public IProjectStore Store => Mount.Project.Store;

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

/// <summary>streams/ through the kernel: blocking cat, replay, filters, O_NONBLOCK, poll, EINTR, gaps, who sees what.</summary>
[Collection("streams")] // one at a time: they count open streams and measure latency
public sealed unsafe class StreamsTests(StreamsMountFixture fixture, ITestOutputHelper output) : IClassFixture<StreamsMountFixture>
{
    private string S(string rel) => Path.Combine(fixture.Streams, rel);
    private string C(string rel) => Path.Combine(fixture.Current, rel);
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(15);

    // ------------------------------------------------------------------ helpers

    /// <summary>A child process reading a stream as a user would (optionally as another uid), its lines collected.</summary>
    private sealed class Reader : IDisposable
    {
        private readonly Process _process;
        private readonly List<(string Line, long Ticks)> _lines = [];

        public Reader(string path, uint? uid = null)
        {
            var psi = uid is { } u
                ? new ProcessStartInfo("setpriv") { ArgumentList = { "--reuid", u.ToString(), "--regid", u.ToString(), "--clear-groups", "cat", path } }
                : new ProcessStartInfo("cat") { ArgumentList = { path } };
            psi.RedirectStandardOutput = true;
            psi.RedirectStandardError = true;
            _process = Process.Start(psi)!;
            _process.OutputDataReceived += (_, e) =>
            {
                if (e.Data is null) return;
                long now = Stopwatch.GetTimestamp();
                lock (_lines) _lines.Add((e.Data, now));
            };
            _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_lines) Errors.AppendLine(e.Data); };
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
        }

        public StringBuilder Errors { get; } = new();

        public List<(string Line, long Ticks)> Lines { get { lock (_lines) return [.. _lines]; } }

        public (string Line, long Ticks) WaitFor(Func<string, bool> match)
        {
            var deadline = Stopwatch.StartNew();
            while (deadline.Elapsed < Patience)
            {
                foreach (var l in Lines) if (match(l.Line)) return l;
                if (_process.HasExited) throw new InvalidOperationException($"the reader exited with {_process.ExitCode}: {Errors}");
                Thread.Sleep(2);
            }
            throw new TimeoutException("no matching line; read so far:\n" + string.Join("\n", Lines.Select(l => l.Line)) + "\n" + Errors);
        }

        public bool HasExited => _process.HasExited;

        public void Dispose()
        {
            try { if (!_process.HasExited) _process.Kill(); _process.WaitForExit(10_000); }
            catch (InvalidOperationException) { }
            _process.Dispose();
        }
    }

    /// <summary>Waits until the section has <paramref name="count"/> open streams (a child opened its file).</summary>
    private void WaitForOpenStreams(int count)
    {
        var sw = Stopwatch.StartNew();
        while (fixture.Section.OpenStreams < count)
        {
            Assert.True(sw.Elapsed < Patience, $"only {fixture.Section.OpenStreams} streams open, waited for {count}");
            Thread.Sleep(2);
        }
    }

    /// <summary>Waits until an event matching <paramref name="match"/> is in the log; returns it.</summary>
    private StoreEvent WaitForEvent(Func<StoreEvent, bool> match, long after)
    {
        var sw = Stopwatch.StartNew();
        while (true)
        {
            foreach (var e in fixture.Store.EventsAfter(after, 10_000)) if (match(e)) return e;
            Assert.True(sw.Elapsed < Patience, "the event was not recorded");
            Thread.Sleep(5);
        }
    }

    private static int OpenStream(string path, bool nonBlocking)
    {
        int fd = Libc.Open(path, Libc.O_RDONLY | Libc.O_CLOEXEC | (nonBlocking ? Libc.O_NONBLOCK : 0), 0);
        Assert.True(fd >= 0, $"open {path}: {Libc.ErrorText(Libc.Errno)}");
        return fd;
    }

    /// <summary>One read(2): the bytes, or the errno.</summary>
    private static (byte[] Data, int Errno) ReadOnce(int fd, int size)
    {
        var buffer = new byte[size];
        fixed (byte* p = buffer)
        {
            nint n = Libc.Read(fd, p, (nuint)size);
            return n < 0 ? ([], Libc.Errno) : (buffer[..(int)n], 0);
        }
    }

    /// <summary>Reads a non-blocking stream until EAGAIN, with reads of <paramref name="size"/> bytes; the reads' results.</summary>
    private static List<byte[]> Drain(int fd, int size = 65536)
    {
        var chunks = new List<byte[]>();
        while (true)
        {
            var (data, errno) = ReadOnce(fd, size);
            if (errno == Libc.EAGAIN) return chunks;
            Assert.Equal(0, errno);
            Assert.NotEmpty(data); // a stream never ends while open
            chunks.Add(data);
        }
    }

    /// <summary>Drains a non-blocking stream again and again (up to 10 s) until the lines read so far satisfy <paramref name="done"/>.</summary>
    private static string[] DrainUntil(int fd, Func<string[], bool> done)
    {
        var chunks = new List<byte[]>();
        var until = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            chunks.AddRange(Drain(fd));
            var lines = LinesOf(chunks);
            if (done(lines) || DateTime.UtcNow > until) return lines;
            Thread.Sleep(10);
        }
    }

    private static string[] LinesOf(IEnumerable<byte[]> chunks) =>
        Encoding.UTF8.GetString([.. chunks.SelectMany(c => c)]).Split('\n', StringSplitOptions.RemoveEmptyEntries);

    private static JsonElement Json(string line) => JsonDocument.Parse(line).RootElement;

    private static string? PathOf(string line) => Json(line).TryGetProperty("path", out var p) ? p.GetString() : null;

    private static void Write(string path, string text) => File.WriteAllText(path, text);

    // ------------------------------------------------------------------ tests

    [Fact]
    public void A_blocking_cat_of_events_jsonl_receives_each_write_within_100_ms()
    {
        int before = fixture.Section.OpenStreams;
        using var reader = new Reader(S("events.jsonl"));
        WaitForOpenStreams(before + 1);
        Directory.CreateDirectory(C("latency"));
        var latencies = new List<double>();
        for (int i = 0; i < 20; i++)
        {
            string name = $"latency/f{i}";
            long start = Stopwatch.GetTimestamp();
            Write(C(name), "x");
            var (_, seen) = reader.WaitFor(l => PathOf(l) == name);
            latencies.Add(Stopwatch.GetElapsedTime(start, seen).TotalMilliseconds);
            Thread.Sleep(10);
        }
        latencies.Sort();
        double p50 = latencies[latencies.Count / 2], p90 = latencies[latencies.Count * 9 / 10 - 1], max = latencies[^1];
        output.WriteLine($"write in current/ -> line read by cat from streams/events.jsonl: p50 {p50:F2} ms, max {max:F2} ms (n={latencies.Count}): {string.Join(" ", latencies.Select(l => l.ToString("F1")))}");
        Assert.True(p50 < 100, $"median latency {p50:F1} ms");
        // Not the maximum: on a loaded 2-core runner (the suite runs its projects side by side) one write in twenty may wait
        // behind a checkpoint or a collection; the bench reports the tail (p99, max).
        Assert.True(p90 < 500, $"90th percentile latency {p90:F1} ms (max {max:F1} ms)");
        // Each line is one event in the log's form.
        var first = reader.Lines.Select(l => l.Line).First(l => PathOf(l) == "latency/f0");
        var e = fixture.Store.EventsAfter(0, 10_000).Last(x => x.Path == "latency/f0");
        Assert.Contains(reader.Lines.Select(l => l.Line), l => l + "\n" == FeedFormat.ToJsonLine(e));
        Assert.Equal("root/", Json(first).GetProperty("agent").GetString()![..5]);
    }

    [Fact]
    public void Since_n_replays_exactly_the_log_whatever_the_read_size_then_follows()
    {
        Write(C("since-a"), "a");
        WaitForEvent(e => e.Path == "since-a", 0);
        int fd = OpenStream(S("since/1"), nonBlocking: true);
        try
        {
            var chunks = Drain(fd, 4096);
            var all = fixture.Store.EventsAfter(0, 10_000);
            chunks.AddRange(Drain(fd, 4096)); // anything committed meanwhile
            all = fixture.Store.EventsAfter(0, 10_000);
            Assert.Equal(all.Select(FeedFormat.ToJsonLine), LinesOf(chunks).Select(l => l + "\n"));
            // A read returns whole lines when at least one fits.
            Assert.All(chunks, c => Assert.Equal((byte)'\n', c[^1]));

            // Follows: a new event arrives on the same descriptor.
            long last = fixture.Store.LastSeq;
            Write(C("since-b"), "b");
            var next = WaitForEvent(e => e.Path == "since-b", last);
            var lines = LinesOf(Drain(fd));
            Assert.Contains(FeedFormat.ToJsonLine(next).TrimEnd('\n'), lines);
        }
        finally { Libc.Close(fd); }

        // From the middle of the log, with 7-byte reads: the same bytes as the log from there, no line lost or cut.
        long from = Math.Max(1, fixture.Store.LastSeq - 3);
        fd = OpenStream(S($"since/{from}"), nonBlocking: true);
        try
        {
            var text = Encoding.UTF8.GetString([.. Drain(fd, 7).SelectMany(c => c)]);
            var expected = string.Concat(fixture.Store.EventsAfter(from - 1, 10_000).Select(FeedFormat.ToJsonLine));
            Assert.Equal(expected, text);
        }
        finally { Libc.Close(fd); }

        // Any number resolves, listed or not; a few are listed.
        Assert.True(File.Exists(S("since/123456789")));
        Assert.False(File.Exists(S("since/0")));
        Assert.False(File.Exists(S("since/007")));
        Assert.Contains("1", Directory.GetFiles(S("since")).Select(Path.GetFileName));
    }

    [Fact]
    public void Agents_and_paths_files_filter_the_events()
    {
        Directory.CreateDirectory(C("filt/in"));
        Directory.CreateDirectory(C("filt/out"));
        WaitForEvent(e => e.Path == "filt/out", 0);
        int byShell = OpenStream(S("agents/root/sh.jsonl"), nonBlocking: true);
        int underIn = OpenStream(S("paths/filt/in/events.jsonl"), nonBlocking: true);
        int deep = OpenStream(S("paths/filt/in/not/there/yet/events.jsonl"), nonBlocking: true);
        try
        {
            long last = fixture.Store.LastSeq;
            LighthouseMountFixture.MustRun("sh", $"-c \"echo 1 > {C("filt/in/by-sh")}\"");
            Write(C("filt/in/by-test"), "2");
            Write(C("filt/out/elsewhere"), "3");
            File.Move(C("filt/in/by-test"), C("filt/out/moved-out")); // under filt/in on its source side
            WaitForEvent(e => e.Op == EventOp.Rename && e.Path2 == "filt/out/moved-out", last);

            var shell = LinesOf(Drain(byShell)).Select(Json).ToList();
            Assert.NotEmpty(shell);
            Assert.All(shell, j => Assert.Equal("root/sh", j.GetProperty("agent").GetString()));
            Assert.Contains(shell, j => j.GetProperty("path").GetString() == "filt/in/by-sh");

            var under = LinesOf(Drain(underIn)).Select(Json).ToList();
            var paths = under.Select(j => j.GetProperty("path").GetString()).ToList();
            Assert.Contains("filt/in/by-sh", paths);
            Assert.Contains("filt/in/by-test", paths);
            Assert.DoesNotContain("filt/out/elsewhere", paths);
            Assert.Contains(under, j => j.GetProperty("op").GetString() == "rename" && j.GetProperty("path2").GetString() == "filt/out/moved-out");

            Assert.Empty(Drain(deep)); // nothing there yet, and nothing out of it
        }
        finally { Libc.Close(byShell); Libc.Close(underIn); Libc.Close(deep); }
        Assert.Equal(["events.jsonl"], Directory.GetFileSystemEntries(S("paths/filt")).Select(Path.GetFileName));
    }

    [Fact]
    public void O_NONBLOCK_gives_EAGAIN_when_nothing_is_pending_and_data_when_something_is()
    {
        int fd = OpenStream(S("events.jsonl"), nonBlocking: true);
        try
        {
            Assert.Equal(Libc.EAGAIN, ReadOnce(fd, 4096).Errno);
            long last = fixture.Store.LastSeq;
            Write(C("nonblock"), "n");
            var e = WaitForEvent(x => x.Path == "nonblock", last);
            Assert.Contains(FeedFormat.ToJsonLine(e).TrimEnd('\n'), LinesOf(Drain(fd)));
            Assert.Equal(Libc.EAGAIN, ReadOnce(fd, 4096).Errno);
        }
        finally { Libc.Close(fd); }
    }

    [Fact]
    public void Poll_wakes_up_on_a_new_event()
    {
        int fd = OpenStream(S("events.jsonl"), nonBlocking: true);
        try
        {
            var pfd = new PollFd { Fd = fd, Events = Libc.POLLIN };
            Assert.Equal(0, Libc.Poll(&pfd, 1, 0)); // nothing yet
            long wokeAfterMs = -1;
            short revents = 0;
            var waiter = new Thread(() =>
            {
                var p = new PollFd { Fd = fd, Events = Libc.POLLIN };
                var sw = Stopwatch.StartNew();
                int n = Libc.Poll(&p, 1, 10_000);
                wokeAfterMs = n == 1 ? sw.ElapsedMilliseconds : -1;
                revents = p.Revents;
            });
            waiter.Start();
            Thread.Sleep(300); // the poller is waiting
            Write(C("polled"), "p");
            Assert.True(waiter.Join(15_000));
            output.WriteLine($"poll woke {wokeAfterMs} ms after it started (the write came at ~300 ms)");
            Assert.InRange(wokeAfterMs, 250, 5_000);
            Assert.True((revents & Libc.POLLIN) != 0);
            Assert.Contains(LinesOf(Drain(fd)), l => PathOf(l) == "polled");
        }
        finally { Libc.Close(fd); }
    }

    [Fact]
    public void A_blocked_read_interrupted_by_a_signal_returns_EINTR_and_loses_nothing()
    {
        // perl (perl-base, on every Debian) with a handler for SIGUSR1: its sysread returns EINTR instead of the signal
        // killing it; then it reads again, blocking, and must get the next event.
        const string script = "$|=1; $SIG{USR1}=sub{}; open(my $f,'<',$ARGV[0]) or die \"open: $!\"; print \"opened\\n\"; " +
                              "my $n=sysread($f,my $b,65536); print defined $n ? \"data $n\\n\" : ($!{EINTR} ? \"EINTR\\n\" : \"error $!\\n\"); " +
                              "$n=sysread($f,$b,65536); print \"after $b\";";
        var psi = new ProcessStartInfo("perl") { ArgumentList = { "-e", script, S("events.jsonl") }, RedirectStandardOutput = true, RedirectStandardError = true };
        int pendingBefore = fixture.Mount.Session!.PendingDeferred;
        using var perl = Process.Start(psi)!;
        var said = new List<string>();
        perl.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (said) said.Add(e.Data); };
        perl.BeginOutputReadLine();
        string[] Said() { lock (said) return [.. said]; }
        void WaitForLines(int count, string what)
        {
            var sw = Stopwatch.StartNew();
            while (Said().Length < count)
            {
                Assert.True(sw.Elapsed < Patience, $"{what}; perl said: {string.Join(" | ", Said())}");
                Thread.Sleep(5);
            }
        }
        try
        {
            WaitForLines(1, "perl did not open the stream");
            Assert.Equal("opened", Said()[0]);
            // Its read is waiting in the daemon (deferred), not in the kernel's queue.
            var sw = Stopwatch.StartNew();
            while (fixture.Mount.Session!.PendingDeferred <= pendingBefore)
            {
                Assert.True(sw.Elapsed < Patience, "the read never reached the daemon");
                Thread.Sleep(5);
            }
            Assert.Equal(0, Libc.Kill(perl.Id, 10 /* SIGUSR1 */));
            WaitForLines(2, "the interrupted read did not return");
            Assert.Equal("EINTR", Said()[1]);

            long last = fixture.Store.LastSeq;
            Write(C("after-eintr"), "e");
            var e = WaitForEvent(x => x.Path == "after-eintr", last);
            WaitForLines(3, "the second read did not return");
            Assert.True(perl.WaitForExit(10_000));
            Assert.Contains("after " + FeedFormat.ToJsonLine(e).TrimEnd('\n'), Said());
        }
        finally { if (!perl.HasExited) perl.Kill(); }
    }

    [Fact]
    public void A_reader_that_falls_more_than_its_backlog_behind_gets_a_gap_line_and_goes_on()
    {
        Directory.CreateDirectory(C("gap"));
        WaitForEvent(e => e.Path == "gap", 0);
        int fd = OpenStream(S("events.jsonl"), nonBlocking: true);
        try
        {
            long first = fixture.Store.LastSeq + 1;
            for (int i = 0; i < StreamsMountFixture.Backlog * 3; i++) Write(C($"gap/f{i}"), "g");
            var lastEvent = WaitForEvent(e => e.Path == $"gap/f{StreamsMountFixture.Backlog * 3 - 1}" && e.Op == EventOp.Write, first - 1);
            // What was queued for the reader while it did not read: bounded (its backlog, then a gap line). The feed hands
            // a commit over just after the store shows it: give it a moment, so this read sees the queue, not a trickle.
            Thread.Sleep(200);
            var queued = LinesOf(Drain(fd));
            Assert.True(queued.Length <= StreamsMountFixture.Backlog + 2, $"{queued.Length} lines: the backlog was not bounded");
            // The store shows a commit a moment before the feed hands it to readers: read on until the last one is there.
            bool HasLast(IEnumerable<string> ls) => ls.Select(Json).Any(j => j.TryGetProperty("gap", out var g)
                ? g.GetProperty("last").GetInt64() >= lastEvent.Seq : j.GetProperty("seq").GetInt64() >= lastEvent.Seq);
            string[] lines = HasLast(queued) ? queued : [.. queued, .. DrainUntil(fd, HasLast)];
            var gap = lines.Select(Json).First(j => j.TryGetProperty("gap", out _)).GetProperty("gap");
            long gapFirst = gap.GetProperty("first").GetInt64(), gapLast = gap.GetProperty("last").GetInt64();
            output.WriteLine($"gap {gapFirst}..{gapLast} of {first}..{lastEvent.Seq}; {lines.Length} lines");
            // Every event from the open on is either in the gap's range or on a line of its own, in order, once.
            var seqs = new List<long>();
            foreach (var j in lines.Select(Json))
            {
                if (j.TryGetProperty("gap", out var g)) for (long s = g.GetProperty("first").GetInt64(); s <= g.GetProperty("last").GetInt64(); s++) seqs.Add(s);
                else seqs.Add(j.GetProperty("seq").GetInt64());
            }
            Assert.Equal(seqs.Distinct().Order(), seqs);
            Assert.Equal(first, seqs[0]);
            Assert.True(seqs[^1] >= lastEvent.Seq);
            Assert.Equal(seqs[^1] - first + 1, seqs.Count);
            // And it goes on.
            long last = fixture.Store.LastSeq;
            Write(C("gap/after"), "a");
            WaitForEvent(e => e.Path == "gap/after", last);
            Assert.Contains(DrainUntil(fd, ls => ls.Any(l => PathOf(l) == "gap/after")), l => PathOf(l) == "gap/after");
        }
        finally { Libc.Close(fd); }
    }

    [Fact]
    public void A_reader_sees_none_of_the_events_of_a_directory_it_may_not_read_while_another_reader_does()
    {
        Directory.CreateDirectory(C("private"));
        Directory.CreateDirectory(C("classified"));
        Directory.CreateDirectory(C("open"));
        Assert.Equal(0, Libc.Chown(C("private"), StreamsMountFixture.OwnerOfPrivate, StreamsMountFixture.OwnerOfPrivate));
        File.SetUnixFileMode(C("private"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        WaitForEvent(e => e.Path == "private" && e.Op == EventOp.SetAttributes && e.Attributes!.Mode == 0x1c0, 0);

        int before = fixture.Section.OpenStreams;
        using var root = new Reader(S("events.jsonl"));
        using var other = new Reader(S("events.jsonl"), StreamsMountFixture.OtherUid);   // POSIX: may not enter private/
        using var spy = new Reader(S("events.jsonl"), StreamsMountFixture.SpyUid);       // policy: classified/ is hidden from it
        WaitForOpenStreams(before + 3);

        Write(C("private/secret.txt"), "s");
        Write(C("classified/plan.txt"), "c");
        Write(C("open/last.txt"), "o");
        // Everyone sees the last one; by then each has been handed the two before it, or never will be.
        root.WaitFor(l => PathOf(l) == "open/last.txt");
        other.WaitFor(l => PathOf(l) == "open/last.txt");
        spy.WaitFor(l => PathOf(l) == "open/last.txt");

        var rootPaths = root.Lines.Select(l => PathOf(l.Line)).ToList();
        Assert.Contains("private/secret.txt", rootPaths);
        Assert.Contains("classified/plan.txt", rootPaths);
        var otherPaths = other.Lines.Select(l => PathOf(l.Line)).ToList();
        Assert.DoesNotContain(otherPaths, p => p!.StartsWith("private/", StringComparison.Ordinal));
        Assert.Contains("classified/plan.txt", otherPaths); // the policy rule is the spy's alone
        var spyPaths = spy.Lines.Select(l => PathOf(l.Line)).ToList();
        Assert.DoesNotContain(spyPaths, p => p!.StartsWith("classified", StringComparison.Ordinal));
        Assert.DoesNotContain(spyPaths, p => p!.StartsWith("private/", StringComparison.Ordinal));
        // Leaving an event out refuses nothing asked for: no denial is recorded for it.
        Assert.DoesNotContain(fixture.Store.EventsAfter(0, 10_000), e => e.Op == EventOp.Deny && e.Agent == "spy");
    }

    [Fact]
    public void Changes_under_streams_fail_with_EROFS_and_ls_shows_stable_sizes_and_times()
    {
        Assert.True(Libc.Open(S("new.jsonl"), Libc.O_WRONLY | Libc.O_CREAT, 0x1a4) < 0);
        Assert.Equal(Libc.EROFS, Libc.Errno);
        Assert.True(Libc.Open(S("events.jsonl"), Libc.O_WRONLY, 0) < 0);
        Assert.Equal(Libc.EROFS, Libc.Errno);
        Assert.True(Libc.Open(S("since/1"), Libc.O_RDWR, 0) < 0);
        Assert.Equal(Libc.EROFS, Libc.Errno);
        Assert.NotEqual(0, Libc.Mkdir(S("paths/newdir-made"), 0x1ed));
        Assert.True(Libc.Errno is Libc.EROFS or Libc.EEXIST); // every directory name resolves, so it already "exists"
        Assert.NotEqual(0, Libc.Mkdir(S("more"), 0x1ed));
        Assert.Equal(Libc.EROFS, Libc.Errno);

        // The time shown is the last event's (never "now"), sizes are 0; the same on the next look.
        var last = fixture.Store.EventsAfter(fixture.Store.LastSeq - 1, 1).Single();
        string first = LighthouseMountFixture.MustRun("ls", $"-l --time-style=+%s {fixture.Streams}");
        Thread.Sleep(1100);
        string second = LighthouseMountFixture.MustRun("ls", $"-l --time-style=+%s {fixture.Streams}");
        output.WriteLine(first);
        Assert.Equal(first, second);
        long expected = new DateTimeOffset(DateTime.SpecifyKind(last.TimeUtc, DateTimeKind.Utc)).ToUnixTimeSeconds();
        Assert.Contains($"-r--r--r-- 1 root root 0 {expected} events.jsonl", first);
        Assert.Contains($"dr-xr-xr-x 2 root root 0 {expected} since", first);
        // Read-only, direct I/O, non-seekable regular files: lseek is refused.
        int fd = OpenStream(S("events.jsonl"), nonBlocking: true);
        try
        {
            using var stream = new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(fd, ownsHandle: false), FileAccess.Read);
            Assert.False(stream.CanSeek);
        }
        finally { Libc.Close(fd); }
    }
}
