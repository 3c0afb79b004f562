using Lighthouse.Fuse.LowLevel;
using Lighthouse.Fuse.Protocol;
using Lighthouse.Fuse.Session;
using Lighthouse.Fuse.Tests.Protocol;
using Lighthouse.Passthrough;

namespace Lighthouse.Fuse.Tests.LowLevel;

/// <summary>
/// The services a filesystem gets at INIT (<see cref="ConnectionInfo.Notifier"/>, <see cref="ConnectionInfo.BackingFiles"/>)
/// are the ones it uses: with fakes, a filesystem is driven in-process, no mount, no kernel.
/// </summary>
public sealed class ConnectionServicesTests : IDisposable
{
    private readonly string _source = Path.Combine("/tmp/lighthouse-tests", "services-" + Guid.NewGuid().ToString("N")[..10]);

    public ConnectionServicesTests()
    {
        Directory.CreateDirectory(_source);
        File.WriteAllText(Path.Combine(_source, "data"), "hello");
    }

    public void Dispose() => Directory.Delete(_source, true);

    [Fact]
    public void Passthrough_registers_each_open_file_through_the_backing_files_it_was_given()
    {
        var backing = new FakeBackingFiles();
        using var fs = new PassthroughFileSystem(_source);
        var connection = new ConnectionInfo { Offered = InitFlags.Passthrough, Notifier = new FakeNotifier(), BackingFiles = backing };
        fs.Init(connection);
        Assert.True((connection.Want & InitFlags.Passthrough) != 0, "offered passthrough with backing files: the filesystem asks for it");
        Assert.True(fs.UsingKernelPassthrough);

        RequestContext ctx = default;
        Assert.Equal(0, fs.Lookup(ctx, ProtocolConstants.RootId, "data"u8, out var entry));
        Assert.Equal(0, fs.Open(ctx, entry.NodeId, 0 /* O_RDONLY */, 0, out var first));
        Assert.Equal(0, fs.Open(ctx, entry.NodeId, 0, 0, out var second));
        // One backing file per inode, shared by its opens (the kernel wants one).
        Assert.Single(backing.Opened);
        Assert.Equal(OpenReplyFlags.Passthrough, first.OpenFlags);
        Assert.Equal(101, first.BackingId);
        Assert.Equal(101, second.BackingId);

        Assert.Equal(0, fs.Release(ctx, entry.NodeId, first.Fh, 0));
        Assert.Empty(backing.Closed);
        Assert.Equal(0, fs.Release(ctx, entry.NodeId, second.Fh, 0));
        Assert.Equal(new[] { 101 }, backing.Closed);
    }

    [Fact]
    public void Without_passthrough_offered_at_init_no_backing_files_are_handed_over_and_none_are_used()
    {
        var backing = new FakeBackingFiles();
        using var fs = new PassthroughFileSystem(_source);
        var server = new ProtocolServer(fs, new FakeNotifier(), backing);
        var init = new byte[104];
        BitConverter.TryWriteBytes(init.AsSpan(0), 104u);                    // in.len
        BitConverter.TryWriteBytes(init.AsSpan(4), (uint)Opcode.Init);      // in.opcode
        BitConverter.TryWriteBytes(init.AsSpan(40), 7u);                     // init_in.major
        BitConverter.TryWriteBytes(init.AsSpan(44), 45u);                    // init_in.minor
        BitConverter.TryWriteBytes(init.AsSpan(52), (uint)InitFlags.InitExt); // flags; flags2 0: no PASSTHROUGH
        Assert.Equal(80, server.HandleRequest(init, new byte[ProtocolConstants.RequestBufferSize]));
        Assert.Null(server.Connection!.BackingFiles);
        Assert.False(fs.UsingKernelPassthrough);

        RequestContext ctx = default;
        Assert.Equal(0, fs.Lookup(ctx, ProtocolConstants.RootId, "data"u8, out var entry));
        Assert.Equal(0, fs.Open(ctx, entry.NodeId, 0, 0, out var open));
        Assert.Equal(0, open.BackingId);
        Assert.Empty(backing.Opened);
        Assert.Equal(0, fs.Release(ctx, entry.NodeId, open.Fh, 0));
    }

    [Fact]
    public void When_the_kernel_refuses_backing_files_for_good_every_open_is_served_in_user_space_and_the_status_says_why()
    {
        var backing = new RefusingBackingFiles();
        using var fs = new PassthroughFileSystem(_source);
        fs.Init(new ConnectionInfo { Offered = InitFlags.Passthrough, Notifier = new FakeNotifier(), BackingFiles = backing });
        Assert.True(fs.UsingKernelPassthrough);
        Assert.Null(fs.KernelPassthroughOff);

        RequestContext ctx = default;
        Assert.Equal(0, fs.Lookup(ctx, ProtocolConstants.RootId, "data"u8, out var entry));
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(0, fs.Open(ctx, entry.NodeId, 0, 0, out var open));
            Assert.Equal(0, open.BackingId);
            Assert.NotEqual(OpenReplyFlags.Passthrough, open.OpenFlags & OpenReplyFlags.Passthrough);
            Assert.Equal(0, fs.Release(ctx, entry.NodeId, open.Fh, 0));
        }
        Assert.False(fs.UsingKernelPassthrough);
        Assert.Contains("EPERM", fs.KernelPassthroughOff);
        Assert.Empty(backing.Closed);
    }

    [Fact]
    public void Offered_passthrough_without_backing_files_is_not_asked_for_and_the_reason_is_the_missing_privilege()
    {
        using var fs = new PassthroughFileSystem(_source);
        var connection = new ConnectionInfo { Offered = InitFlags.Passthrough, Notifier = new FakeNotifier(), BackingFiles = null };
        fs.Init(connection);
        Assert.Equal((InitFlags)0, connection.Want & InitFlags.Passthrough);
        Assert.False(fs.UsingKernelPassthrough);
        Assert.Contains("needs CAP_SYS_ADMIN", fs.KernelPassthroughOff);
    }

    /// <summary>What the device's backing files do without CAP_SYS_ADMIN: the first registration fails (EPERM) and they
    /// stay refused, so later opens are not even tried.</summary>
    private sealed class RefusingBackingFiles : IBackingFiles
    {
        public bool Refused { get; private set; }
        public List<int> Closed { get; } = [];
        public int Open(int fd) { Refused = true; return 0; }
        public void Close(int backingId) => Closed.Add(backingId);
    }
}
