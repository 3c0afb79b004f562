using System.Diagnostics;
using System.Text;
using Lighthouse.Fuse.LowLevel;
using Lighthouse.Interop;
using Lighthouse.Fuse.Protocol;
using Lighthouse.Fuse.Session;

namespace Lighthouse.Fuse.Tests.Session;

/// <summary>
/// A root directory with one file, "wait", whose reads block until the test answers them from
/// another thread (as stream files will), or until the kernel interrupts them.
/// </summary>
internal class BlockingFileSystem : FuseFileSystem
{
    /// <summary>Set when a read reaches the filesystem, before it is deferred.</summary>
    public readonly ManualResetEventSlim ReadArrived = new();
    /// <summary>How long a read holds its worker before deferring (0: not at all).</summary>
    public int HoldBeforeDeferMs;

    private const ulong WaitNode = 2;
    public readonly System.Collections.Concurrent.BlockingCollection<DeferredReply> PendingReads = new();
    public int Interrupted;

    private static FuseAttr Attr(ulong ino, uint mode) => new() { Ino = ino, Mode = mode, Nlink = 1, BlkSize = 4096 };

    public override int Lookup(in RequestContext ctx, ulong parent, ReadOnlySpan<byte> name, out EntryOut entry)
    {
        entry = default;
        if (parent != ProtocolConstants.RootId || !name.SequenceEqual("wait"u8)) return Errno.ENOENT;
        entry = new EntryOut { NodeId = WaitNode, Attr = Attr(WaitNode, 0x8000 | 0x1a4) };
        return 0;
    }

    public override int GetAttr(in RequestContext ctx, ulong node, ulong? fh, out AttrOut attr)
    {
        attr = new AttrOut { Attr = node == ProtocolConstants.RootId ? Attr(1, 0x4000 | 0x1ed) : Attr(WaitNode, 0x8000 | 0x1a4) };
        return 0;
    }

    public override int Open(in RequestContext ctx, ulong node, int flags, uint openFlags, out OpenOut open)
    {
        // Direct I/O and non-seekable: every read reaches us, like a live stream.
        open = new OpenOut { Fh = 7, OpenFlags = OpenReplyFlags.DirectIo | OpenReplyFlags.NonSeekable };
        return 0;
    }

    public override int Read(in RequestContext ctx, ulong node, ulong fh, long offset, Span<byte> buffer, out int bytesRead)
    {
        bytesRead = 0;
        ReadArrived.Set();
        if (HoldBeforeDeferMs > 0) Thread.Sleep(HoldBeforeDeferMs); // the INTERRUPT overtakes us on another worker
        var reply = ctx.Defer();
        reply.Cancelled.Register(() =>
        {
            if (reply.ReplyError(Errno.EINTR)) Interlocked.Increment(ref Interrupted);
        });
        PendingReads.Add(reply);
        return Errno.Deferred;
    }
}

public class DeferredReplyTests
{
    private static Process StartCat(string path)
    {
        var psi = new ProcessStartInfo("cat", path) { RedirectStandardOutput = true, RedirectStandardError = true };
        return Process.Start(psi)!;
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_deferred_read_is_answered_later_from_another_thread(bool ioUring)
    {
        var fs = new BlockingFileSystem();
        using var mount = new InProcessMount(fs, ioUring: ioUring);
        RingTests.WaitUntilServedAsAsked(mount, ioUring);
        using var cat = StartCat(mount.PathOf("wait"));
        Assert.True(fs.PendingReads.TryTake(out var pending, TimeSpan.FromSeconds(10)), "the read never reached the filesystem");
        Assert.Equal(1, mount.Session.PendingDeferred);
        Assert.False(cat.HasExited);
        // Answer from this (non-worker) thread; cat then asks again and gets end-of-file.
        Assert.True(pending!.ReplyData("hello from later\n"u8));
        Assert.False(pending.ReplyError(Errno.EIO)); // only the first reply counts
        Assert.True(fs.PendingReads.TryTake(out var second, TimeSpan.FromSeconds(10)));
        second!.ReplyData(ReadOnlySpan<byte>.Empty);
        Assert.True(cat.WaitForExit(10_000));
        Assert.Equal("hello from later\n", cat.StandardOutput.ReadToEnd());
        Assert.Equal(0, cat.ExitCode);
        Assert.Equal(0, mount.Session.PendingDeferred);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_signal_interrupts_a_blocked_read_and_the_handler_sees_it(bool ioUring)
    {
        var fs = new BlockingFileSystem();
        using var mount = new InProcessMount(fs, ioUring: ioUring);
        RingTests.WaitUntilServedAsAsked(mount, ioUring);
        using var cat = StartCat(mount.PathOf("wait"));
        Assert.True(fs.PendingReads.TryTake(out _, TimeSpan.FromSeconds(10)), "the read never reached the filesystem");
        Assert.Equal(0, Libc.Kill(cat.Id, 2)); // SIGINT: the kernel sends FUSE_INTERRUPT for the read
        Assert.True(cat.WaitForExit(10_000), "cat stayed blocked after SIGINT: INTERRUPT did not cancel the read");
        // The handler counts after its EINTR reply went out, and that reply is what lets cat exit: wait for the count.
        SpinWait.SpinUntil(() => Volatile.Read(ref fs.Interrupted) > 0, TimeSpan.FromSeconds(5));
        Assert.Equal(1, Volatile.Read(ref fs.Interrupted));
        Assert.Equal(0, mount.Session.PendingDeferred);
    }

    [Fact]
    public void An_interrupt_that_overtakes_its_read_before_the_reply_is_deferred_still_cancels_it()
    {
        var fs = new BlockingFileSystem { HoldBeforeDeferMs = 300 };
        using var mount = new InProcessMount(fs, ioUring: false);
        using var cat = StartCat(mount.PathOf("wait"));
        Assert.True(fs.ReadArrived.Wait(TimeSpan.FromSeconds(10)), "the read never reached the filesystem");
        Assert.Equal(0, Libc.Kill(cat.Id, 2)); // INTERRUPT now, while the read still holds its worker
        bool exited = cat.WaitForExit(5_000);
        if (!exited) cat.Kill();
        Assert.True(exited, "cat stayed blocked: the INTERRUPT that came before the deferral was lost");
        SpinWait.SpinUntil(() => Volatile.Read(ref fs.Interrupted) > 0, TimeSpan.FromSeconds(5));
        Assert.Equal(1, Volatile.Read(ref fs.Interrupted));
    }
}
