using System.Runtime.InteropServices;
using Lighthouse.Fuse.LowLevel;
using Lighthouse.Fuse.Mounting;
using Lighthouse.Fuse.Session;

namespace Lighthouse.Fuse.Hosting;

/// <summary>
/// Runs a filesystem in the foreground the way a user expects of a mount command, on top of
/// <see cref="FuseServer"/>: mounts (see <see cref="FuseServer.Start"/>), serves until SIGINT/SIGTERM or
/// an external unmount, then unmounts, lets in-flight requests finish and reports what it served.
/// </summary>
public sealed class FuseHost
{
    public required FuseFileSystem FileSystem { get; init; }
    public required string MountPoint { get; init; }
    public MountOptions MountOptions { get; init; } = new();
    public SessionOptions SessionOptions { get; init; } = new();
    /// <summary>Called once INIT has been answered and the mount is usable.</summary>
    public Action<FuseServer>? Ready { get; init; }
    public TextWriter Log { get; init; } = Console.Error;
    public TimeSpan ShutdownGrace { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>Called when the kernel has forgotten many inodes, before memory is given back (drop caches of your own).</summary>
    public Action? Trim { get; init; }

    public int Run(CancellationToken cancel = default)
    {
        using var stop = new ManualResetEventSlim();
        using var onInt = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Set(); });
        using var onTerm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Set(); });
        using var onCancel = cancel.Register(stop.Set);

        EnableIoUring();
        FuseServer server;
        try
        {
            server = FuseServer.Start(FileSystem, MountPoint, new FuseServerOptions
            {
                Mount = MountOptions, Session = SessionOptions, Trim = Trim, Log = Log, UnmountGrace = ShutdownGrace,
            });
        }
        catch (FuseStartException e)
        {
            Log.WriteLine($"lighthouse: mount failed: {e.InnerException?.Message}");
            return 1;
        }
        var session = server.Session;
        using (server)
        {
            Ready?.Invoke(server);
            // Serve until asked to stop, or until the workers end (someone unmounted us).
            WaitHandle.WaitAny(new[] { stop.WaitHandle, ((IAsyncResult)server.Completion).AsyncWaitHandle });
            if (!server.Completion.IsCompleted) server.Unmount();
            if (session.Failure is { } failure) Log.WriteLine($"lighthouse: session ended: {failure}");
        } // Dispose: the filesystem's Destroy, the device closed
        long requests = session.Stats.MeasuredRequests;
        Log.WriteLine($"lighthouse: served {session.Stats.TotalRequests} requests ({session.RingRequests} through io_uring" +
                      (session.RingFailure is { } ringFailure ? $"; not in use: {ringFailure}" : "") + "); " +
                      $"allocated {session.Stats.AllocatedBytes} bytes on worker threads " +
                      $"({(requests == 0 ? 0 : (double)session.Stats.AllocatedBytes / requests):0.0} per request); " +
                      // Collections stop every thread (workstation, non-concurrent GC): what they cost the requests.
                      $"garbage collections {GC.CollectionCount(0)}/{GC.CollectionCount(1)}/{GC.CollectionCount(2)} (gen 0/1/2), paused {GC.GetTotalPauseDuration().TotalMilliseconds:0} ms");
        return session.Failure is null ? 0 : 1;
    }

    /// <summary>
    /// FUSE over io_uring is off in the kernel by default (the fuse module's enable_uring). As root we
    /// switch it on: it only lets servers that ask for it use it, and the kernel offers it at INIT only
    /// when it is on at mount time.
    /// </summary>
    private void EnableIoUring()
    {
        if (!SessionOptions.IoUring || Lighthouse.Interop.Libc.GetEuid() != 0 || UringQueue.KernelEnabled() != false) return;
        if (UringQueue.TryEnableInKernel())
            Log.WriteLine("lighthouse: switched on FUSE over io_uring in the kernel (/sys/module/fuse/parameters/enable_uring = Y; --no-io-uring to do without)");
    }
}
