using System.Runtime.InteropServices;
using Lighthouse.Fuse.LowLevel;
using Lighthouse.Fuse.Mounting;
using Lighthouse.Fuse.Session;

namespace Lighthouse.Fuse.Hosting;

/// <summary>
/// Runs a filesystem in the foreground the way a user expects of a mount command: cleans up a
/// stale mount left by a crashed daemon, mounts, serves until SIGINT/SIGTERM or an external
/// unmount, then unmounts, lets in-flight requests finish and reports what it served.
/// </summary>
public sealed class FuseHost
{
    public required FuseFileSystem FileSystem { get; init; }
    public required string MountPoint { get; init; }
    public MountOptions MountOptions { get; init; } = new();
    public SessionOptions SessionOptions { get; init; } = new();
    /// <summary>Called after mounting, before serving (e.g. to hand the device fd to the filesystem).</summary>
    public Action<FuseMountHandle>? BeforeServing { get; init; }
    /// <summary>Called once INIT has been answered and the mount is usable.</summary>
    public Action<FuseSession, FuseMountHandle>? Ready { get; init; }
    public TextWriter Log { get; init; } = Console.Error;
    public TimeSpan ShutdownGrace { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>Called when the kernel has forgotten many inodes, before memory is given back (drop caches of your own).</summary>
    public Action? Trim { get; init; }

    public int Run(CancellationToken cancel = default)
    {
        string mountPoint = Path.GetFullPath(MountPoint);
        var stale = FuseMounter.CleanUpStale(mountPoint);
        if (stale.WasStale) Log.WriteLine($"lighthouse: {stale.Message}");
        // Never stat a live mount here: one whose daemon hangs would block us forever.
        if (FuseMounter.IsMounted(mountPoint))
            throw new FuseMountException($"{mountPoint} is already mounted (and answering or hung, not stale): unmount it first ({stale.Message})", 16);
        if (!Directory.Exists(mountPoint))
        {
            Directory.CreateDirectory(mountPoint);
            Log.WriteLine($"lighthouse: created mount point {mountPoint}");
        }

        using var stop = new ManualResetEventSlim();
        using var onInt = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Set(); });
        using var onTerm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Set(); });
        using var onCancel = cancel.Register(stop.Set);

        EnableIoUring();
        using var mount = FuseMounter.Mount(mountPoint, MountOptions);
        BeforeServing?.Invoke(mount);
        using var session = new FuseSession(FileSystem, SessionOptions);
        session.Start(mount.DeviceFd);
        try
        {
            if (!session.Initialized.Wait(TimeSpan.FromSeconds(30)))
                throw new TimeoutException($"the kernel did not send INIT for {mountPoint} within 30 s");
        }
        catch (AggregateException e)
        {
            Log.WriteLine($"lighthouse: mount failed: {e.InnerException?.Message}");
            return 1;
        }
        string connection = ConnectionNumber(mountPoint);
        Ready?.Invoke(session, mount);
        using var trimmer = new Timer(_ => TrimAfterForgets(session), null, TrimInterval, TrimInterval);

        // Serve until asked to stop, or until the workers end (someone unmounted us).
        var exited = Task.Run(session.WaitForExit);
        WaitHandle.WaitAny(new[] { stop.WaitHandle, ((IAsyncResult)exited).AsyncWaitHandle });

        if (!exited.IsCompleted)
        {
            Log.WriteLine($"lighthouse: unmounting {mountPoint}");
            try { mount.Unmount(); }
            catch (Exception e) { Log.WriteLine($"lighthouse: unmount: {e.Message}"); }
            if (!session.WaitForExit(ShutdownGrace))
            {
                // Files are still open on a lazily detached mount: end the connection so we can exit.
                Log.WriteLine($"lighthouse: requests still pending after {ShutdownGrace.TotalSeconds:0} s; aborting the connection");
                AbortConnection(connection);
                session.WaitForExit(TimeSpan.FromSeconds(5));
            }
        }
        if (session.Failure is { } failure) Log.WriteLine($"lighthouse: session ended: {failure}");
        FileSystem.Destroy();
        long requests = session.Stats.MeasuredRequests;
        Log.WriteLine($"lighthouse: served {session.Stats.TotalRequests} requests ({session.RingRequests} through io_uring" +
                      (session.RingFailure is { } ringFailure ? $"; not in use: {ringFailure}" : "") + "); " +
                      $"allocated {session.Stats.AllocatedBytes} bytes on worker threads " +
                      $"({(requests == 0 ? 0 : (double)session.Stats.AllocatedBytes / requests):0.0} per request)");
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

    private static readonly TimeSpan TrimInterval = TimeSpan.FromSeconds(5);
    private const long ForgetsWorthATrim = 1000;
    private long _forgetsAtLastTrim;

    /// <summary>
    /// Keeps memory bounded: once the kernel has forgotten many inodes (memory pressure, drop_caches),
    /// what we held for them is garbage, but nothing allocates any more to make the GC run. Collect
    /// then, compacting and returning the memory to the system.
    /// </summary>
    private void TrimAfterForgets(FuseSession session)
    {
        long forgotten = session.Forgotten;
        if (forgotten - _forgetsAtLastTrim < ForgetsWorthATrim) return;
        _forgetsAtLastTrim = forgotten;
        try { Trim?.Invoke(); } catch (Exception e) { Log.WriteLine($"lighthouse: trimming caches: {e.Message}"); }
        GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
    }

    /// <summary>The FUSE connection number (the minor device of the mount), for /sys/fs/fuse/connections.</summary>
    private static string ConnectionNumber(string mountPoint) =>
        MountInfo.Find(mountPoint)?.Minor.ToString() ?? "";

    private static void AbortConnection(string connection)
    {
        if (connection.Length == 0) return;
        try { File.WriteAllText($"/sys/fs/fuse/connections/{connection}/abort", "1"); }
        catch (Exception) { /* not root, or already gone */ }
    }
}
