using Lighthouse.Fuse.Hosting;
using Lighthouse.Fuse.LowLevel;
using Lighthouse.Fuse.Mounting;
using Lighthouse.Fuse.Session;
using Lighthouse.Passthrough;

namespace Lighthouse.Fuse.Tests.Hosting;

/// <summary>FuseServer.Start returns only a usable mount, and leaves nothing mounted when it fails. Mounts for real (root).</summary>
public sealed class FuseServerTests : IDisposable
{
    private readonly string _root = Path.Combine("/tmp/lighthouse-tests", "server-" + Guid.NewGuid().ToString("N")[..10]);
    private string Source => Path.Combine(_root, "src");
    private string MountPoint => Path.Combine(_root, "mnt");

    public FuseServerTests()
    {
        if (Environment.UserName != "root" || !File.Exists("/dev/fuse"))
            throw new InvalidOperationException("mount tests need root and /dev/fuse (CI runs them as root)");
        Directory.CreateDirectory(Source);
        File.WriteAllText(Path.Combine(Source, "data"), "hello");
    }

    public void Dispose()
    {
        if (FuseMounter.IsMounted(MountPoint)) FuseMounter.CleanUpStale(MountPoint);
        try { Directory.Delete(_root, true); } catch { }
    }

    private static FuseServerOptions Options(TextWriter? log = null) => new()
    {
        Mount = new MountOptions { FsName = "lighthouse-test", Subtype = "lighthouse-test" },
        Session = new SessionOptions { Threads = 2, IoUring = false },
        InitTimeout = TimeSpan.FromSeconds(3),
        Log = log ?? TextWriter.Null,
    };

    [Fact]
    public async Task Start_returns_a_usable_mount_and_Dispose_unmounts_it()
    {
        var log = new StringWriter();
        using var fs = new PassthroughFileSystem(Source);
        var server = FuseServer.Start(fs, MountPoint, Options(log)); // the mount point does not exist yet
        try
        {
            Assert.Contains($"created mount point {MountPoint}", log.ToString());
            Assert.Equal(MountPoint, server.MountPoint);
            Assert.NotNull(server.Connection.Notifier);
            Assert.Equal("hello", File.ReadAllText(Path.Combine(MountPoint, "data")));
            Assert.False(server.Completion.IsCompleted);
        }
        finally { server.Dispose(); }
        Assert.False(FuseMounter.IsMounted(MountPoint));
        await server.Completion.WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public void Start_refuses_a_live_mount_and_leaves_it_serving()
    {
        using var fs = new PassthroughFileSystem(Source);
        using var first = FuseServer.Start(fs, MountPoint, Options());
        using var other = new PassthroughFileSystem(Source);
        var refused = Assert.Throws<FuseMountException>(() => FuseServer.Start(other, MountPoint, Options()));
        Assert.Contains("already mounted", refused.Message);
        Assert.Equal("hello", File.ReadAllText(Path.Combine(MountPoint, "data")));
    }

    [Fact]
    public void Start_that_never_completes_init_leaves_nothing_mounted()
    {
        // Init throws: INIT is answered EIO, the kernel refuses the connection and the mount never becomes usable.
        var fs = new FailingInit();
        Assert.Throws<TimeoutException>(() => FuseServer.Start(fs, MountPoint, Options()));
        Assert.False(FuseMounter.IsMounted(MountPoint));
    }

    [Fact]
    public async Task Unmount_ends_the_session_and_Completion_completes()
    {
        using var fs = new PassthroughFileSystem(Source);
        using var server = FuseServer.Start(fs, MountPoint, Options());
        Assert.True(server.Unmount());
        await server.Completion.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.True(server.WaitForExit(TimeSpan.Zero));
        Assert.False(FuseMounter.IsMounted(MountPoint));
    }

    private sealed class FailingInit : FuseFileSystem
    {
        public override void Init(ConnectionInfo connection) => throw new InvalidOperationException("this filesystem refuses to start (test)");
    }
}
