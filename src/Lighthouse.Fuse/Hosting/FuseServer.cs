using Lighthouse.Fuse.LowLevel;
using Lighthouse.Fuse.Mounting;
using Lighthouse.Fuse.Session;

namespace Lighthouse.Fuse.Hosting;

/// <summary>
/// A mounted, serving filesystem. <see cref="Start"/> returns one only once mounting and INIT are
/// complete (fuser's lesson: a start that fails half-way leaves nothing mounted and no object to
/// forget to dispose). Dispose always unmounts; <see cref="Unmount"/> does it gracefully, aborting
/// the connection if requests are still in flight after the grace period.
/// </summary>
public sealed class FuseServer : IDisposable
{
    private static readonly TimeSpan TrimInterval = TimeSpan.FromSeconds(5);
    private const long ForgetsWorthATrim = 1000;

    private readonly FuseMountHandle _mount;
    private readonly FuseServerOptions _options;
    private readonly string _connectionNumber;
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly RegisteredWaitHandle _exitWait;
    private readonly Timer _trimmer;
    private readonly object _gate = new();
    private long _forgetsAtLastTrim;
    private bool _unmounted, _disposed;

    private FuseServer(FuseMountHandle mount, FuseSession session, ConnectionInfo connection, FuseServerOptions options)
    {
        _mount = mount; Session = session; Connection = connection; _options = options;
        _connectionNumber = ConnectionNumber(mount.MountPoint);
        _exitWait = ThreadPool.RegisterWaitForSingleObject(session.ExitHandle, (_, _) => _completion.TrySetResult(), null, Timeout.Infinite, executeOnlyOnce: true);
        _trimmer = new Timer(_ => TrimAfterForgets(), null, TrimInterval, TrimInterval);
    }

    /// <summary>The absolute mount point.</summary>
    public string MountPoint => _mount.MountPoint;
    /// <summary>How it was mounted (mount(2), fusermount3, fusermount).</summary>
    public MountMethod Method => _mount.Method;
    public FuseSession Session { get; }
    /// <summary>What INIT negotiated.</summary>
    public ConnectionInfo Connection { get; }
    /// <summary>Completes when the session has ended: unmounted (by us or anyone), aborted, or failed (see <see cref="FuseSession.Failure"/>).</summary>
    public Task Completion => _completion.Task;

    /// <summary>Blocks until the session ends or <paramref name="timeout"/> passes; true if it ended.</summary>
    public bool WaitForExit(TimeSpan timeout) => Session.WaitForExit(timeout);

    /// <summary>
    /// Mounts <paramref name="fileSystem"/> at <paramref name="mountPoint"/> and serves it: cleans up a stale
    /// mount left by a crashed daemon, refuses a live one, creates the mount point if missing, mounts,
    /// starts the session and waits for INIT. Returns once the mount is usable; on any failure nothing
    /// stays mounted and the exception says why: <see cref="FuseMountException"/> (mounting),
    /// <see cref="TimeoutException"/> (no INIT), <see cref="FuseStartException"/> (the session ended first).
    /// </summary>
    public static FuseServer Start(FuseFileSystem fileSystem, string mountPoint, FuseServerOptions? options = null)
    {
        options ??= new FuseServerOptions();
        var log = options.Log;
        mountPoint = Path.GetFullPath(mountPoint);
        var stale = FuseMounter.CleanUpStale(mountPoint);
        if (stale.WasStale) log.WriteLine($"lighthouse: {stale.Message}");
        // Never stat a live mount here: one whose daemon hangs would block us forever.
        if (FuseMounter.IsMounted(mountPoint))
            throw new FuseMountException($"{mountPoint} is already mounted (and answering or hung, not stale): unmount it first ({stale.Message})", 16);
        if (!Directory.Exists(mountPoint))
        {
            Directory.CreateDirectory(mountPoint);
            log.WriteLine($"lighthouse: created mount point {mountPoint}");
        }

        var mount = FuseMounter.Mount(mountPoint, options.Mount);
        FuseSession? session = null;
        try
        {
            session = new FuseSession(fileSystem, options.Session);
            session.Start(mount.DeviceFd);
            ConnectionInfo connection;
            try
            {
                if (!session.Initialized.Wait(options.InitTimeout))
                    throw new TimeoutException($"the kernel did not send INIT for {mountPoint} within {options.InitTimeout.TotalSeconds:0} s");
                connection = session.Initialized.Result;
            }
            catch (AggregateException e)
            {
                var inner = e.InnerException ?? e;
                throw new FuseStartException($"the FUSE session at {mountPoint} ended before INIT: {inner.Message}", inner);
            }
            return new FuseServer(mount, session, connection, options);
        }
        catch
        {
            // Nothing may stay mounted: unmount, let the workers see ENODEV, then close everything.
            string connection = ConnectionNumber(mountPoint);
            try { mount.Unmount(); } catch (Exception e) { log.WriteLine($"lighthouse: unmount: {e.Message}"); }
            if (session is not null && !session.WaitForExit(TimeSpan.FromSeconds(5)))
            {
                AbortConnection(connection);
                session.WaitForExit(TimeSpan.FromSeconds(5));
            }
            session?.Dispose();
            mount.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Unmounts (lazily if busy) and waits up to <see cref="FuseServerOptions.UnmountGrace"/> for in-flight
    /// requests; if some are still pending (files held open on the detached mount), aborts the connection
    /// (/sys/fs/fuse/connections/N/abort) so the session ends. Does nothing if the session has already
    /// ended (someone else unmounted). Returns true if the session has ended.
    /// </summary>
    public bool Unmount()
    {
        lock (_gate)
        {
            if (_unmounted) return Completion.IsCompleted || Session.WaitForExit(TimeSpan.Zero);
            _unmounted = true;
        }
        _trimmer.Dispose();
        if (Session.WaitForExit(TimeSpan.Zero)) return true;
        var log = _options.Log;
        log.WriteLine($"lighthouse: unmounting {MountPoint}");
        try { _mount.Unmount(); }
        catch (Exception e) { log.WriteLine($"lighthouse: unmount: {e.Message}"); }
        if (Session.WaitForExit(_options.UnmountGrace)) return true;
        // Files are still open on a lazily detached mount: end the connection so we can exit.
        log.WriteLine($"lighthouse: requests still pending after {_options.UnmountGrace.TotalSeconds:0} s; aborting the connection");
        AbortConnection(_connectionNumber);
        return Session.WaitForExit(TimeSpan.FromSeconds(5));
    }

    /// <summary>Unmounts if still mounted (see <see cref="Unmount"/>), stops the session, calls the filesystem's
    /// Destroy (unless the kernel's DESTROY did) and closes the device.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
        }
        try { Unmount(); }
        finally
        {
            _trimmer.Dispose();
            _exitWait.Unregister(null);
            if (Session.WaitForExit(TimeSpan.Zero)) _completion.TrySetResult();
            Session.Dispose();
            Session.DestroyFileSystem();
            _mount.Dispose();
        }
    }

    /// <summary>
    /// Keeps memory bounded: once the kernel has forgotten many inodes (memory pressure, drop_caches),
    /// what we held for them is garbage, but nothing allocates any more to make the GC run. Collect
    /// then, compacting and returning the memory to the system.
    /// </summary>
    private void TrimAfterForgets()
    {
        long forgotten = Session.Forgotten;
        if (forgotten - _forgetsAtLastTrim < ForgetsWorthATrim) return;
        _forgetsAtLastTrim = forgotten;
        try { _options.Trim?.Invoke(); } catch (Exception e) { _options.Log.WriteLine($"lighthouse: trimming caches: {e.Message}"); }
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

    public override string ToString() => $"{MountPoint} ({Method}; {Connection})";
}
