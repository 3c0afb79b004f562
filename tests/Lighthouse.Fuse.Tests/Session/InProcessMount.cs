using Lighthouse.Fuse.LowLevel;
using Lighthouse.Fuse.Mounting;
using Lighthouse.Fuse.Session;

namespace Lighthouse.Fuse.Tests.Session;

/// <summary>Mounts a filesystem inside the test process (direct mount(2), root) and always unmounts it.</summary>
public sealed class InProcessMount : IDisposable
{
    /// <param name="ioUring">Serve through FUSE over io_uring (switched on in the kernel first) or only through /dev/fuse.</param>
    public InProcessMount(FuseFileSystem fs, Action<FuseMountHandle>? beforeServing = null, int threads = 2, bool ioUring = true,
        bool keepCallerOnCpu = true, Func<bool>? backgroundWorkPending = null)
    {
        if (Environment.UserName != "root" || !File.Exists("/dev/fuse"))
            throw new InvalidOperationException("mount tests need root and /dev/fuse (CI runs them as root)");
        Root = Path.Combine("/tmp/lighthouse-tests", "session-" + Guid.NewGuid().ToString("N")[..10]);
        MountPoint = Path.Combine(Root, "mnt");
        Directory.CreateDirectory(MountPoint);
        if (ioUring && UringQueue.KernelEnabled() == false && !UringQueue.TryEnableInKernel())
            throw new InvalidOperationException("cannot switch on FUSE over io_uring (/sys/module/fuse/parameters/enable_uring)");
        Handle = FuseMounter.Mount(MountPoint, new MountOptions { FsName = "lighthouse-test", Subtype = "lighthouse-test" });
        try
        {
            beforeServing?.Invoke(Handle);
            Session = new FuseSession(fs, new SessionOptions { Threads = threads, IoUring = ioUring, KeepCallerOnCpu = keepCallerOnCpu, BackgroundWorkPending = backgroundWorkPending });
            Session.Start(Handle.DeviceFd);
            if (!Session.Initialized.Wait(TimeSpan.FromSeconds(20))) throw new TimeoutException("no INIT from the kernel");
        }
        catch
        {
            Handle.Dispose();
            throw;
        }
    }

    public string Root { get; }
    public string MountPoint { get; }
    public FuseMountHandle Handle { get; }
    public FuseSession Session { get; }

    public string PathOf(string relative) => Path.Combine(MountPoint, relative);

    public void Dispose()
    {
        try { Handle.Unmount(); } catch { /* already gone */ }
        Session.WaitForExit(TimeSpan.FromSeconds(10));
        Session.Dispose();
        Handle.Dispose();
        try { Directory.Delete(Root, true); } catch { }
    }
}
