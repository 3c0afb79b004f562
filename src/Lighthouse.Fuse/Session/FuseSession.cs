using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Lighthouse.Fuse.LowLevel;
using Lighthouse.Interop;
using Lighthouse.Fuse.Protocol;

namespace Lighthouse.Fuse.Session;

/// <summary>
/// Serves one FUSE connection: worker threads read requests from /dev/fuse (one cloned
/// descriptor each, so the kernel spreads requests and replies go back on the same queue),
/// decode them, call the <see cref="FuseFileSystem"/> and write the replies. Each worker owns
/// two unmanaged buffers (request and reply, 1 MiB + headers): the hot path allocates nothing.
/// </summary>
public sealed unsafe partial class FuseSession : IDisposable
{
    private readonly FuseFileSystem _fs;
    private readonly SessionOptions _options;
    private readonly ConcurrentDictionary<ulong, DeferredReply> _deferred = new();
    private readonly List<Thread> _workers = new();
    private readonly List<int> _clonedFds = new();
    private readonly TaskCompletionSource<ConnectionInfo> _initialized = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CountdownEvent _running = new(1);
    private int _masterFd = -1;
    private volatile bool _stopping;
    private int _umaskWarned;
    private ProtocolServer? _protocol; // from Start on

    /// <summary>Inodes the kernel has forgotten so far (FORGET and BATCH_FORGET entries).</summary>
    public long Forgotten => _protocol?.Forgotten ?? 0;

    public FuseSession(FuseFileSystem fileSystem, SessionOptions? options = null)
    {
        _fs = fileSystem;
        _options = options ?? new SessionOptions();
        Stats = new SessionStats(_options.SlowRequestThreshold, _options.UnmeasuredNodeTag);
    }

    /// <summary>What INIT negotiated; null before.</summary>
    public ConnectionInfo? Connection => _protocol?.Connection;
    public SessionStats Stats { get; }
    /// <summary>Created by <see cref="Start"/>; sends from INIT's reply on. The filesystem gets it as
    /// <see cref="ConnectionInfo.Notifier"/>.</summary>
    public Notifier? Notifier { get; private set; }
    public int WorkerCount { get { lock (_workers) return _workers.Count; } }
    /// <summary>Why the session ended, if it ended on an error rather than an unmount.</summary>
    public string? Failure { get; private set; }

    /// <summary>Starts serving <paramref name="deviceFd"/> (from mounting). The first worker answers
    /// INIT, then clones one descriptor per further worker. Returns at once.</summary>
    public void Start(int deviceFd)
    {
        if (_protocol is not null) throw new InvalidOperationException("the session has already started");
        _masterFd = deviceFd;
        Notifier = new Notifier(deviceFd);
        // Registering backing files needs CAP_SYS_ADMIN in the initial user namespace: without it the filesystem gets
        // none and serves data itself (should the kernel still say EPERM, DeviceBackingFiles stops asking, once).
        var backing = CanRegisterBackingFiles() ? new DeviceBackingFiles(deviceFd) : null;
        _protocol = new ProtocolServer(_fs, this, Notifier, backing, _options.IoUring);
        StartWorker(deviceFd, 0);
    }

    /// <summary>
    /// CAP_SYS_ADMIN, and in the initial user namespace (the kernel checks <c>capable()</c>, not the namespace's own
    /// capabilities): a root of a user namespace (a rootless container) has every capability in its /proc status but
    /// is refused. The initial namespace maps every uid to itself; any other maps a part.
    /// </summary>
    private static bool CanRegisterBackingFiles()
    {
        if (!Mounting.FuseMounter.IsPrivileged()) return false;
        try
        {
            var map = File.ReadAllText("/proc/self/uid_map").Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            return map is ["0", "0", "4294967295"];
        }
        catch (IOException) { return true; } // no user namespaces in this kernel: only the initial one
    }

    /// <summary>The protocol layer requests go through (null before <see cref="Start"/>).</summary>
    public ProtocolServer? Protocol => _protocol;

    /// <summary>Calls the filesystem's Destroy unless the kernel's DESTROY already did (once the session has ended).</summary>
    internal void DestroyFileSystem() => _protocol?.DestroyOnce();

    /// <summary>Completes when INIT has been answered (the mount is usable).</summary>
    public Task<ConnectionInfo> Initialized => _initialized.Task;

    /// <summary>Blocks until every worker has stopped (the filesystem was unmounted or aborted).</summary>
    public bool WaitForExit(TimeSpan timeout) => _running.Wait(timeout);
    public void WaitForExit() => _running.Wait();
    /// <summary>Signalled once every worker has stopped.</summary>
    internal WaitHandle ExitHandle => _running.WaitHandle;

    private void StartWorker(int fd, int index)
    {
        var thread = new Thread(() => WorkerLoop(fd)) { IsBackground = true, Name = $"fuse-worker-{index}" };
        lock (_workers) _workers.Add(thread);
        if (index > 0) _running.AddCount();
        thread.Start();
    }

    private void StartMoreWorkers()
    {
        for (int i = 1; i < _options.Threads; i++)
        {
            int fd = CloneDevice();
            StartWorker(fd < 0 ? _masterFd : fd, i); // without a clone, workers share the master fd
        }
    }

    private int CloneDevice()
    {
        fixed (byte* path = "/dev/fuse\0"u8)
        {
            int fd = Libc.Open(path, Libc.O_RDWR | Libc.O_CLOEXEC, 0);
            if (fd < 0) return -1;
            uint master = (uint)_masterFd;
            if (Libc.Ioctl(fd, ProtocolConstants.DevIocClone, &master) < 0) { Libc.Close(fd); return -1; }
            lock (_clonedFds) _clonedFds.Add(fd);
            return fd;
        }
    }

    private void WorkerLoop(int fd)
    {
        // Modes in requests already carry the caller's umask (applied by the kernel): the thread that
        // creates files must not apply another. A umask of our own per worker thread, so a filesystem
        // hosted inside a bigger process does not change that process's umask.
        if (Libc.Unshare(Libc.CLONE_FS) == 0) Libc.Umask(0);
        else if (Interlocked.Exchange(ref _umaskWarned, 1) == 0)
            Console.Error.WriteLine($"lighthouse: cannot give worker threads their own umask (unshare: errno {Libc.Errno}); new files also get this process's umask");

        byte* request = (byte*)NativeMemory.AlignedAlloc(ProtocolConstants.RequestBufferSize, 4096);
        byte* reply = (byte*)NativeMemory.AlignedAlloc(ProtocolConstants.RequestBufferSize, 4096);
        try
        {
            while (!_stopping)
            {
                nint n = Libc.Read(fd, request, ProtocolConstants.RequestBufferSize);
                if (n < 0)
                {
                    int errno = Libc.Errno;
                    if (errno is Errno.EINTR or Errno.EAGAIN or Errno.ENOENT) continue; // ENOENT: request interrupted before we read it
                    if (errno != Errno.ENODEV) Failure ??= $"reading /dev/fuse failed: errno {errno}";
                    StopRingQueues(); // entries the kernel still holds as ours (deferred replies) would keep them waiting
                    break; // ENODEV: unmounted
                }
                if (n < sizeof(InHeader)) { Failure ??= $"short request of {n} bytes"; break; }
                if (!Dispatch(fd, new Span<byte>(request, (int)n), reply)) break;
            }
        }
        catch (Exception e)
        {
            Failure ??= $"worker crashed: {e}";
            _initialized.TrySetException(e);
        }
        finally
        {
            NativeMemory.AlignedFree(request);
            NativeMemory.AlignedFree(reply);
            _initialized.TrySetException(new IOException(Failure ?? "the filesystem was unmounted before INIT"));
            _running.Signal();
        }
    }

    /// <summary>A request that came through a FUSE-over-io_uring queue (on that queue's thread).</summary>
    internal bool DispatchRing(UringQueue queue, int entry, Span<byte> request, byte* replyBuffer) =>
        Dispatch(_masterFd, request, replyBuffer, queue, entry);

    /// <summary>Handles one request (through <see cref="ProtocolServer.Serve"/>, the code path tests feed with bytes)
    /// and delivers its reply. Returns false when the session must stop.</summary>
    private bool Dispatch(int fd, Span<byte> request, byte* replyBuffer, UringQueue? ring = null, int ringEntry = -1)
    {
        ref readonly var header = ref MemoryMarshal.AsRef<InHeader>(request);
        var ctx = new RequestContext(this, fd, header, ring, ringEntry);
        _options.Trace?.Invoke($"{header.Opcode} unique={header.Unique} node={header.NodeId} uid={header.Uid} pid={header.Pid}");

        long start = Stopwatch.GetTimestamp();
        long allocatedBefore = _options.MeasureAllocations ? GC.GetAllocatedBytesForCurrentThread() : 0;
        var payload = new Span<byte>(replyBuffer + sizeof(OutHeader), ProtocolConstants.RequestBufferSize - sizeof(OutHeader));
        var protocol = _protocol!;
        int error = protocol.Serve(ctx, request, payload, out int payloadLength, out ulong entryNode, out bool keepGoing);
        if (!keepGoing && protocol.Failure is { } failure) Failure ??= failure;

        if (error == Errno.Deferred) { Stats.Record(header.Opcode, start, Stopwatch.GetTimestamp(), 0, 0, header.NodeId, header.Pid, header.Uid); return keepGoing; }
        // Every ring request takes a reply (FORGET and INTERRUPT come through /dev/fuse), or its entry stays ours.
        if (error == ProtocolServer.NoReply && ring is not null) error = 0;
        if (error != ProtocolServer.NoReply)
        {
            if (!Deliver(fd, ring, ringEntry, header.Unique, error, replyBuffer, payloadLength, entryNode))
            {
                if (entryNode != 0) _fs.Forget(entryNode, 1); // the kernel never saw this lookup
            }
            else if (header.Opcode == Opcode.Init && error == 0 && protocol.Connection is { } connection) AfterInit(connection);
        }
        if (_options.MeasureAllocations) Stats.RecordAllocation(GC.GetAllocatedBytesForCurrentThread() - allocatedBefore);
        Stats.Record(header.Opcode, start, Stopwatch.GetTimestamp(), error > 0 ? error : 0, error == 0 ? PayloadBytes(header.Opcode, payload, payloadLength) : 0,
            header.NodeId, header.Pid, header.Uid);
        return keepGoing;
    }

    /// <summary>Data bytes a successful request moved: READ's reply, WRITE's written count (its reply says how many).</summary>
    private static long PayloadBytes(Opcode opcode, ReadOnlySpan<byte> payload, int payloadLength) => opcode switch
    {
        Opcode.Read => payloadLength,
        Opcode.Write when payloadLength >= sizeof(WriteOut) => MemoryMarshal.Read<WriteOut>(payload).Size,
        _ => 0,
    };

    /// <summary>INIT's reply is written: other workers may read now (they would get nothing before), the kernel takes notifications.</summary>
    private void AfterInit(ConnectionInfo connection)
    {
        ThreadPool.QueueUserWorkItem(_ =>
        {
            Notifier!.Start();
            StartMoreWorkers();
            _initialized.TrySetResult(connection);
        });
        StartRingQueues();
    }

    /// <summary>INTERRUPT: cancel the request <paramref name="unique"/> if its reply is deferred (a blocked read).</summary>
    internal void Interrupt(ulong unique)
    {
        // The INTERRUPT may overtake its request on another worker, before the reply is deferred: note it first, then
        // look. Defer registers first, then looks at the notes, so one of the two always sees the other.
        NoteEarlyInterrupt(unique);
        if (_deferred.TryGetValue(unique, out var pending)) pending.Interrupt();
    }

    // Interrupts of requests not (yet) deferred, with when they came: bounded, entries of requests answered without
    // deferral are dropped after a second.
    private readonly ConcurrentDictionary<ulong, long> _earlyInterrupts = new();
    private const int EarlyInterruptsKept = 256;

    private void NoteEarlyInterrupt(ulong unique)
    {
        long now = Environment.TickCount64;
        _earlyInterrupts[unique] = now;
        if (_earlyInterrupts.Count <= EarlyInterruptsKept) return;
        foreach (var (key, when) in _earlyInterrupts)
            if (now - when > 1_000) _earlyInterrupts.TryRemove(key, out _);
        if (_earlyInterrupts.Count > EarlyInterruptsKept) // a flood of interrupts: keep the newest only
            foreach (var key in _earlyInterrupts.Keys)
                if (key != unique) _earlyInterrupts.TryRemove(key, out _);
    }

    /// <summary>Sends a reply the way its request came: committed to its ring entry (a refusal shows later, as the
    /// entry's next completion), or written to /dev/fuse. False if the kernel refused it.</summary>
    private static bool Deliver(int fd, UringQueue? ring, int ringEntry, ulong unique, int error, byte* buffer, int payloadLength, ulong entryNode)
    {
        if (ring is null) return Reply(fd, unique, error, buffer, payloadLength);
        ring.Commit(ringEntry, error, payloadLength, entryNode, buffer);
        return true;
    }

    /// <summary>Writes header + payload (already in the reply buffer). False if the kernel refused it.</summary>
    private static bool Reply(int fd, ulong unique, int error, byte* buffer, int payloadLength)
    {
        int length = ProtocolServer.WriteHeader(new Span<byte>(buffer, sizeof(OutHeader)), unique, error, payloadLength);
        return Libc.Write(fd, buffer, (nuint)length) >= 0;
    }

    internal void SendReply(int fd, ulong unique, int negativeError, ReadOnlySpan<byte> data)
    {
        var buffer = new byte[sizeof(OutHeader) + data.Length];
        var header = new OutHeader { Len = (uint)buffer.Length, Error = negativeError, Unique = unique };
        MemoryMarshal.Write(buffer, in header);
        data.CopyTo(buffer.AsSpan(sizeof(OutHeader)));
        fixed (byte* p = buffer) Libc.Write(fd, p, (nuint)buffer.Length);
    }

    internal DeferredReply Defer(in RequestContext ctx)
    {
        var deferred = new DeferredReply(this, ctx.DeviceFd, ctx.Unique, ctx.Opcode, ctx.Ring, ctx.RingEntry);
        _deferred[ctx.Unique] = deferred;
        if (_earlyInterrupts.TryRemove(ctx.Unique, out _)) deferred.Interrupt();
        return deferred;
    }

    internal void ForgetDeferred(ulong unique) => _deferred.TryRemove(unique, out _);

    /// <summary>Number of requests whose reply is still pending (deferred).</summary>
    public int PendingDeferred => _deferred.Count;

    public void Dispose()
    {
        _stopping = true;
        StopRingQueues();
        Notifier?.Dispose();
        lock (_clonedFds)
        {
            foreach (var fd in _clonedFds) Libc.Close(fd);
            _clonedFds.Clear();
        }
    }
}
