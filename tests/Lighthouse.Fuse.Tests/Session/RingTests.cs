using Lighthouse.Fuse.LowLevel;
using Lighthouse.Fuse.Protocol;
using Lighthouse.Fuse.Session;
using Lighthouse.Interop;

namespace Lighthouse.Fuse.Tests.Session;

/// <summary>A root directory whose every name exists; each lookup records the CPU that served it.</summary>
internal sealed class CpuRecordingFileSystem : FuseFileSystem
{
    public readonly System.Collections.Concurrent.ConcurrentQueue<int> ServedOn = new();
    /// <summary>The scheduling policy of the thread that served each lookup.</summary>
    public readonly System.Collections.Concurrent.ConcurrentQueue<int> ServedWithPolicy = new();

    private static FuseAttr Attr(ulong ino, uint mode) => new() { Ino = ino, Mode = mode, Nlink = 1, BlkSize = 4096 };

    public override int Lookup(in RequestContext ctx, ulong parent, ReadOnlySpan<byte> name, out EntryOut entry)
    {
        ServedOn.Enqueue(Libc.SchedGetCpu());
        ServedWithPolicy.Enqueue(Libc.SchedGetScheduler(0));
        // No caching (valid 0): every stat of a name is a LOOKUP.
        entry = new EntryOut { NodeId = 2, Attr = Attr(2, 0x8000 | 0x1a4) };
        return 0;
    }

    public override int GetAttr(in RequestContext ctx, ulong node, ulong? fh, out AttrOut attr)
    {
        attr = new AttrOut { Attr = node == ProtocolConstants.RootId ? Attr(1, 0x4000 | 0x1ed) : Attr(2, 0x8000 | 0x1a4) };
        return 0;
    }
}

public partial class RingTests
{
    /// <summary>Waits until requests are served the way the mount was asked to (the kernel switches to the
    /// rings a moment after INIT, once every CPU's queue has registered).</summary>
    internal static void WaitUntilServedAsAsked(InProcessMount mount, bool ioUring)
    {
        if (!ioUring) return;
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (mount.Session.RingRequests == 0)
        {
            Assert.True(DateTime.UtcNow < deadline, $"no request came through io_uring within 10 s ({mount.Session.RingFailure})");
            try { File.Exists(mount.PathOf("probe-" + Guid.NewGuid().ToString("N"))); } catch (IOException) { }
            Thread.Sleep(20);
        }
    }

    [Fact]
    public unsafe void Requests_are_served_through_io_uring_on_the_cpu_of_their_caller()
    {
        var fs = new CpuRecordingFileSystem();
        using var mount = new InProcessMount(fs, ioUring: true);
        WaitUntilServedAsAsked(mount, ioUring: true);
        Assert.Null(mount.Session.RingFailure);
        Assert.Equal(UringQueue.PossibleCpus(), mount.Session.RingQueues);

        for (int cpu = 0; cpu < Math.Min(Environment.ProcessorCount, 4); cpu++)
        {
            // Run the caller on one CPU; every lookup must be served by that CPU's queue thread.
            var thread = new Thread(() =>
            {
                ulong mask = 1UL << cpu;
                Assert.Equal(0, Libc.SchedSetAffinity(0, sizeof(ulong), &mask));
                fs.ServedOn.Clear();
                for (int i = 0; i < 200; i++) Assert.True(File.Exists(mount.PathOf($"file-{i}")));
            });
            thread.Start();
            thread.Join();
            var served = fs.ServedOn.ToArray();
            Assert.True(served.Length >= 200, $"{served.Length} lookups reached the filesystem");
            Assert.All(served, c => Assert.Equal(cpu, c));
        }
    }

    [Fact]
    public void Without_io_uring_every_request_goes_through_dev_fuse()
    {
        var fs = new CpuRecordingFileSystem();
        using var mount = new InProcessMount(fs, ioUring: false);
        for (int i = 0; i < 50; i++) Assert.True(File.Exists(mount.PathOf($"file-{i}")));
        Assert.True(fs.ServedOn.Count >= 50);
        Assert.Equal(0, mount.Session.RingRequests);
        Assert.Equal(0, mount.Session.RingQueues);
    }

    private const int SchedOther = Libc.SCHED_OTHER;

    private static void LookUpMany(InProcessMount mount, CpuRecordingFileSystem fs, int count)
    {
        WaitUntilServedAsAsked(mount, ioUring: true);
        fs.ServedWithPolicy.Clear();
        for (int i = 0; i < count; i++) Assert.True(File.Exists(mount.PathOf($"file-{i}")));
        Assert.True(fs.ServedWithPolicy.Count >= count, $"{fs.ServedWithPolicy.Count} lookups reached the filesystem");
    }

    [Fact]
    public void Replies_go_out_at_idle_priority_but_requests_are_served_at_normal_priority()
    {
        Assert.True(CallerCpuKeeper.Available, "root may switch a thread to SCHED_IDLE and back");
        CallerCpuKeeper.OverrideLoadForTests(0.0);
        try
        {
            var fs = new CpuRecordingFileSystem();
            using var mount = new InProcessMount(fs, ioUring: true);
            LookUpMany(mount, fs, 300);
            // Not all 300: a submission that waited behind another task (tests run in parallel) pauses it for a second.
            Assert.True(mount.Session.RingIdleSubmits > 0, "no reply went out at idle priority");
            if (mount.Session.RingKeepPauses == 0)
                Assert.True(mount.Session.RingIdleSubmits >= 250, $"{mount.Session.RingIdleSubmits} idle-priority submissions for 300 replies, none paused");
            // A thread left at SCHED_IDLE would serve the next request at idle priority (starved by any busy task).
            Assert.All(fs.ServedWithPolicy, policy => Assert.Equal(SchedOther, policy));
        }
        finally { CallerCpuKeeper.OverrideLoadForTests(null); }
    }

    [Fact]
    public void Replies_go_out_at_normal_priority_when_switched_off_when_background_work_waits_or_when_every_cpu_is_busy()
    {
        var fs = new CpuRecordingFileSystem();
        using (var off = new InProcessMount(fs, ioUring: true, keepCallerOnCpu: false))
        {
            LookUpMany(off, fs, 100);
            Assert.Equal(0, off.Session.RingIdleSubmits);
        }
        CallerCpuKeeper.OverrideLoadForTests(0.0);
        try
        {
            bool pending = true;
            using var background = new InProcessMount(fs, ioUring: true, backgroundWorkPending: () => Volatile.Read(ref pending));
            LookUpMany(background, fs, 100);
            Assert.Equal(0, background.Session.RingIdleSubmits);
            Volatile.Write(ref pending, false);
            LookUpMany(background, fs, 100);
            Assert.True(background.Session.RingIdleSubmits > 0, "no idle-priority submission once the background work was done");
        }
        finally { CallerCpuKeeper.OverrideLoadForTests(null); }
        CallerCpuKeeper.OverrideLoadForTests(Environment.ProcessorCount + 1.5);
        try
        {
            using var saturated = new InProcessMount(fs, ioUring: true);
            LookUpMany(saturated, fs, 100);
            Assert.Equal(0, saturated.Session.RingIdleSubmits);
            Assert.All(fs.ServedWithPolicy, policy => Assert.Equal(SchedOther, policy));
        }
        finally { CallerCpuKeeper.OverrideLoadForTests(null); }
    }

    [Fact]
    public unsafe void A_queue_replies_at_normal_priority_for_a_while_after_waiting_behind_another_task()
    {
        CallerCpuKeeper.OverrideLoadForTests(0.0);
        var fs = new CpuRecordingFileSystem();
        using var mount = new InProcessMount(fs, ioUring: true);
        bool spin = true;
        // A busy task on the caller's CPU: after each reply the caller runs, blocks on its next request,
        // and the busy task takes the CPU from the ring thread while that is still at idle priority.
        var spinner = new Thread(() =>
        {
            ulong mask = 1UL;
            Libc.SchedSetAffinity(0, sizeof(ulong), &mask);
            while (Volatile.Read(ref spin)) { }
        }) { IsBackground = true };
        try
        {
            WaitUntilServedAsAsked(mount, ioUring: true);
            spinner.Start();
            var caller = new Thread(() =>
            {
                ulong mask = 1UL;
                Assert.Equal(0, Libc.SchedSetAffinity(0, sizeof(ulong), &mask));
                // Not every reply waits (the scheduler sometimes runs the ring thread first): go on until one has.
                var until = DateTime.UtcNow.AddSeconds(10);
                for (int i = 0; mount.Session.RingKeepPauses == 0 && DateTime.UtcNow < until; i++) File.Exists(mount.PathOf($"file-{i}"));
            });
            caller.Start();
            caller.Join();
            Assert.True(mount.Session.RingIdleSubmits > 0, "no reply went out at idle priority");
            Assert.True(mount.Session.RingKeepPauses > 0, $"{mount.Session.RingIdleSubmits} idle-priority replies beside a busy task, and the queue never noticed it waited");
        }
        finally
        {
            Volatile.Write(ref spin, false);
            CallerCpuKeeper.OverrideLoadForTests(null);
        }
    }

    [Theory]
    [InlineData("0.42 0.30 0.25 1/83 7219\n", 0.42)]
    [InlineData("12.05 9.00 3.10 5/300 1\n", 12.05)]
    [InlineData("3 2 1 1/1 1", 3.0)]
    [InlineData("", null)]
    [InlineData("n/a", null)]
    public void The_load_average_is_read_from_the_start_of_proc_loadavg(string text, double? expected)
    {
        var value = CallerCpuKeeper.ParseFirstNumber(System.Text.Encoding.ASCII.GetBytes(text));
        if (expected is null) Assert.Null(value);
        else Assert.Equal(expected.Value, value!.Value, 6);
    }
}
