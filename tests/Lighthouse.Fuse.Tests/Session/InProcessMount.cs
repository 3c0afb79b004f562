using Lighthouse.Fuse.Hosting;
using Lighthouse.Fuse.LowLevel;
using Lighthouse.Fuse.Mounting;
using Lighthouse.Fuse.Session;

namespace Lighthouse.Fuse.Tests.Session;

/// <summary>Mounts a filesystem inside the test process (direct mount(2), root) through <see cref="FuseServer"/> and always unmounts it.</summary>
public sealed class InProcessMount : IDisposable
{
    /// <param name="ioUring">Serve through FUSE over io_uring (switched on in the kernel first) or only through /dev/fuse.</param>
    public InProcessMount(FuseFileSystem fs, int threads = 2, bool ioUring = true,
        bool keepCallerOnCpu = true, Func<bool>? backgroundWorkPending = null)
    {
        if (Environment.UserName != "root" || !File.Exists("/dev/fuse"))
            throw new InvalidOperationException("mount tests need root and /dev/fuse (CI runs them as root)");
        Root = Path.Combine("/tmp/lighthouse-tests", "session-" + Guid.NewGuid().ToString("N")[..10]);
        if (ioUring && UringQueue.KernelEnabled() == false && !UringQueue.TryEnableInKernel())
            throw new InvalidOperationException("cannot switch on FUSE over io_uring (/sys/module/fuse/parameters/enable_uring)");
        Server = FuseServer.Start(fs, Path.Combine(Root, "mnt"), new FuseServerOptions
        {
            Mount = new MountOptions { FsName = "lighthouse-test", Subtype = "lighthouse-test" },
            Session = new SessionOptions { Threads = threads, IoUring = ioUring, KeepCallerOnCpu = keepCallerOnCpu, BackgroundWorkPending = backgroundWorkPending },
            InitTimeout = TimeSpan.FromSeconds(20),
            Log = TextWriter.Null,
        });
    }

    public string Root { get; }
    public FuseServer Server { get; }
    public string MountPoint => Server.MountPoint;
    public FuseSession Session => Server.Session;

    public string PathOf(string relative) => Path.Combine(MountPoint, relative);

    public void Dispose()
    {
        Server.Dispose();
        try { Directory.Delete(Root, true); } catch { }
    }
}
