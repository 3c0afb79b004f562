using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Lighthouse.Fuse.LowLevel;
using Lighthouse.Interop;
using Lighthouse.Fuse.Protocol;

namespace Lighthouse.Fuse.Session;

/// <summary>
/// One queue of FUSE over io_uring (kernel 6.14+): a thread pinned to one CPU, its own io_uring,
/// and a few ring entries registered with the kernel for that CPU's queue. The kernel puts a
/// request into the queue of the CPU its caller runs on and completes one of our entries there,
/// so the request is served on the caller's CPU: no wake-up of another CPU on the way in or out
/// (on this kind of VM such a wake-up costs ~90 µs; `tar x` of 5,000 files took 0.77 s with the
/// daemon on the caller's CPU and 2.1 s with it on the other one). Replying and fetching the next
/// request is one submission (COMMIT_AND_FETCH) instead of a write and a read.
///
/// Entry memory: a 288-byte header block (in/out header, the opcode's own header, the entry's
/// in/out sizes) and a payload buffer the size of the largest request. The request handed to the
/// dispatcher is rebuilt in front of the payload (header and opcode header copied just before it),
/// so it reads as one contiguous /dev/fuse request without copying the payload.
/// </summary>
internal sealed unsafe class UringQueue
{
    private const int HeaderBlock = 4096;                  // struct fuse_uring_req_header (288 bytes), page-aligned
    private const int OpInOffset = 128, EntInOutOffset = 256, OpInMax = 128;
    private const int Front = 4096;                       // room to rebuild in-header + opcode header before the payload
    private const int PayloadSize = ProtocolConstants.RequestBufferSize; // >= max(max_write, max_pages * 4096)
    private const int EntryStride = HeaderBlock + Front + PayloadSize;
    private const uint CmdRegister = 1, CmdCommitAndFetch = 2;
    private const int SqeSize = 128;                       // IORING_SETUP_SQE128: uring_cmd needs the 80-byte command area
    private const ulong EventTag = ulong.MaxValue;

    private readonly FuseSession _session;
    private readonly int _deviceFd;
    private readonly int _entries;
    private readonly ConcurrentQueue<int> _deferredDone = new();
    private readonly ulong[] _unique;        // request being served in each entry
    private readonly ulong[] _lookupNode;    // node whose lookup count the last reply added (undone if the commit fails)
    private readonly bool[] _live;
    private readonly Thread _thread;
    private byte* _memory;
    private byte* _reply;
    private int _ringFd = -1, _eventFd = -1;
    private byte* _ringMap; private nuint _ringMapSize;
    private byte* _sqeMap; private nuint _sqeMapSize;
    private uint* _sqHead, _sqTail, _sqArray; private uint _sqMask, _sqEntries, _sqTailLocal, _toSubmit;
    private uint* _cqHead, _cqTail; private uint _cqMask; private IoUringCqe* _cqes;
    private ulong* _eventValue;                 // where the eventfd read lands (unmanaged: the kernel writes it later)
    private volatile bool _stop;
    private readonly object _memoryGate = new();
    private int _liveCount;

    private bool _keepCallerCpu;
    private long _keepPausedUntil;   // Stopwatch ticks: replies at normal priority until then
    private readonly Func<bool>? _backgroundWorkPending;

    public UringQueue(FuseSession session, int deviceFd, int cpu, int entries, SessionOptions options)
    {
        _session = session; _deviceFd = deviceFd; Cpu = cpu; _entries = entries;
        _keepCallerCpu = options.KeepCallerOnCpu;
        _backgroundWorkPending = options.BackgroundWorkPending;
        _unique = new ulong[entries]; _lookupNode = new ulong[entries]; _live = new bool[entries];
        _thread = new Thread(Run) { IsBackground = true, Name = $"fuse-ring-{cpu}" };
    }

    public int Cpu { get; }
    /// <summary>Entries registered with the kernel and not yet released by it.</summary>
    public int Registered => Volatile.Read(ref _liveCount);
    public string? Failure { get; private set; }
    /// <summary>Set when the queue has registered its entries (or failed to).</summary>
    public ManualResetEventSlim Started { get; } = new(false);

    public void Start() => _thread.Start();

    /// <summary>Stops the thread (it may be waiting for a request that will never come).</summary>
    public void Stop()
    {
        _stop = true;
        Wake();
    }

    /// <summary>Wakes the queue's thread (its eventfd read completes).</summary>
    private void Wake()
    {
        if (_eventFd < 0) return;
        ulong one = 1;
        Libc.Write(_eventFd, &one, 8);
    }

    /// <summary>Requests this queue has served (written by its thread only).</summary>
    public long Served => Volatile.Read(ref _served);
    private long _served;
    /// <summary>Submissions made as SCHED_IDLE (written by its thread only).</summary>
    public long IdleSubmits => Volatile.Read(ref _idleSubmits);
    private long _idleSubmits;
    /// <summary>Times the queue went back to normal-priority replies for a while, having waited behind another task.</summary>
    public long KeepPauses => Volatile.Read(ref _keepPauses);
    private long _keepPauses;

    private byte* Headers(int i) => _memory + (long)i * EntryStride;
    private byte* Payload(int i) => Headers(i) + HeaderBlock + Front;
    /// <summary>fuse_uring_ent_in_out.payload_sz: bytes of the request's payload, then of our reply's.</summary>
    private uint* PayloadLength(int i) => (uint*)(Headers(i) + EntInOutOffset + 16);

    private void Run()
    {
        try
        {
            Pin();
            // Only from SCHED_OTHER, and where we may return to it: a policy given at start (chrt --batch,
            // --idle, real-time) is kept.
            _keepCallerCpu &= Libc.SchedGetScheduler(0) == Libc.SCHED_OTHER && CallerCpuKeeper.Available;
            // As the /dev/fuse workers: our own umask (0), since request modes already carry the caller's.
            if (Libc.Unshare(Libc.CLONE_FS) == 0) Libc.Umask(0);
            _memory = (byte*)NativeMemory.AlignedAlloc((nuint)((long)EntryStride * _entries), 4096);
            _reply = (byte*)NativeMemory.AlignedAlloc(ProtocolConstants.RequestBufferSize, 4096);
            _eventValue = (ulong*)NativeMemory.Alloc(8);
            if (!SetUpRing()) return;
            _eventFd = Libc.EventFd(0, Libc.EFD_CLOEXEC);
            if (_eventFd < 0) { Failure = $"eventfd: errno {Libc.Errno}"; return; }
            for (int i = 0; i < _entries; i++) Register(i);
            ArmEvent();
            Loop();
        }
        catch (Exception e)
        {
            Failure ??= $"crashed: {e}";
            Console.Error.WriteLine($"lighthouse: FUSE ring queue {Cpu} {Failure}");
        }
        finally
        {
            Started.Set();
            TearDown();
            _session.RingQueueStopped();
        }
    }

    private void Pin()
    {
        if (Cpu >= 64) return;
        ulong mask = 1UL << Cpu;
        Libc.SchedSetAffinity(0, sizeof(ulong), &mask); // refused (CPU offline or not ours): serve unpinned
    }

    private bool SetUpRing()
    {
        uint want = 4;
        while (want < (uint)_entries * 2 + 2) want <<= 1;
        var p = new IoUringParams
        {
            Flags = Libc.IORING_SETUP_SQE128 | Libc.IORING_SETUP_SINGLE_ISSUER | Libc.IORING_SETUP_DEFER_TASKRUN,
        };
        long fd = Libc.SyscallIoUringSetup(Libc.SYS_io_uring_setup, want, &p);
        if (fd < 0) { Failure = $"io_uring_setup: errno {Libc.Errno}"; return false; }
        _ringFd = (int)fd;
        if ((p.Features & Libc.IORING_FEAT_SINGLE_MMAP) == 0) { Failure = "io_uring without IORING_FEAT_SINGLE_MMAP (kernel too old)"; return false; }
        _ringMapSize = Math.Max(p.SqOff.Array + p.SqEntries * 4, p.CqOff.Cqes + p.CqEntries * (uint)sizeof(IoUringCqe));
        _ringMap = (byte*)Libc.Mmap(null, _ringMapSize, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED | Libc.MAP_POPULATE, _ringFd, Libc.IORING_OFF_SQ_RING);
        if (_ringMap == (byte*)-1) { _ringMap = null; Failure = $"mmap of the io_uring rings: errno {Libc.Errno}"; return false; }
        _sqeMapSize = p.SqEntries * (nuint)SqeSize;
        _sqeMap = (byte*)Libc.Mmap(null, _sqeMapSize, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED | Libc.MAP_POPULATE, _ringFd, Libc.IORING_OFF_SQES);
        if (_sqeMap == (byte*)-1) { _sqeMap = null; Failure = $"mmap of the io_uring submission entries: errno {Libc.Errno}"; return false; }
        _sqHead = (uint*)(_ringMap + p.SqOff.Head); _sqTail = (uint*)(_ringMap + p.SqOff.Tail);
        _sqArray = (uint*)(_ringMap + p.SqOff.Array); _sqMask = *(uint*)(_ringMap + p.SqOff.RingMask); _sqEntries = p.SqEntries;
        _sqTailLocal = *_sqTail;
        _cqHead = (uint*)(_ringMap + p.CqOff.Head); _cqTail = (uint*)(_ringMap + p.CqOff.Tail);
        _cqMask = *(uint*)(_ringMap + p.CqOff.RingMask); _cqes = (IoUringCqe*)(_ringMap + p.CqOff.Cqes);
        return true;
    }

    private IoUringSqe* NextSqe()
    {
        if (_sqTailLocal - Volatile.Read(ref *_sqHead) >= _sqEntries) Enter(0, 0); // full: hand over what is queued
        uint index = _sqTailLocal & _sqMask;
        var sqe = (IoUringSqe*)(_sqeMap + index * SqeSize);
        new Span<byte>(sqe, SqeSize).Clear();
        _sqArray[index] = index;
        return sqe;
    }

    private void Queue()
    {
        _sqTailLocal++;
        Volatile.Write(ref *_sqTail, _sqTailLocal);
        _toSubmit++;
    }

    private void UringCommand(int entry, uint command, ulong commitId)
    {
        var sqe = NextSqe();
        sqe->Opcode = Libc.IORING_OP_URING_CMD;
        sqe->Fd = _deviceFd;
        sqe->Off = command;                                    // cmd_op
        sqe->UserData = (ulong)entry;
        byte* cmd = (byte*)sqe + 48;                           // struct fuse_uring_cmd_req {u64 flags; u64 commit_id; u16 qid; u8 pad[6]}
        *(ulong*)(cmd + 8) = commitId;
        *(ushort*)(cmd + 16) = (ushort)Cpu;
        if (command == CmdRegister)
        {
            // sqe->addr: iovec[2] = { headers, payload }; kept in the entry's header block after the 288 bytes the kernel uses.
            var iov = (IoVec*)(Headers(entry) + 512);
            iov[0] = new IoVec { Base = Headers(entry), Len = 288 };
            iov[1] = new IoVec { Base = Payload(entry), Len = PayloadSize };
            sqe->Addr = (ulong)iov;
            sqe->Len = 2;
        }
        Queue();
    }

    private void Register(int entry) => UringCommand(entry, CmdRegister, 0);

    private void ArmEvent()
    {
        var sqe = NextSqe();
        sqe->Opcode = Libc.IORING_OP_READ;
        sqe->Fd = _eventFd;
        sqe->Addr = (ulong)_eventValue;
        sqe->Len = 8;
        sqe->Off = ulong.MaxValue;                                    // -1: the file position (eventfd has none)
        sqe->UserData = EventTag;
        Queue();
    }

    private long Enter(uint minComplete, uint flags)
    {
        while (true)
        {
            long n = Libc.SyscallIoUringEnter(Libc.SYS_io_uring_enter, _ringFd, _toSubmit, minComplete, flags, null, 0);
            if (n >= 0) { _toSubmit -= (uint)Math.Min(n, _toSubmit); return n; }
            int errno = Libc.Errno;
            if (errno == Errno.EINTR) continue;
            return -errno;
        }
    }

    private void Loop()
    {
        // Registration answers at once only when it fails (a successful one completes with the first
        // request): submit, count the refusals, and the rest are live.
        _liveCount = _entries;
        for (int i = 0; i < _entries; i++) _live[i] = true;
        long rc = Enter(0, 0);
        if (rc < 0) { Failure = $"io_uring_enter: errno {-rc}"; return; }
        Reap();
        Started.Set();
        while (!_stop && Volatile.Read(ref _liveCount) > 0)
        {
            SubmitKeepingCallerCpu();
            rc = Enter(1, Libc.IORING_ENTER_GETEVENTS);
            if (rc < 0 && rc != -Errno.EAGAIN && rc != -16 /* EBUSY: completions to reap first */)
            {
                Failure = $"io_uring_enter: errno {-rc}";
                return;
            }
            Reap();
        }
    }

    /// <summary>Submits the queued replies as SCHED_IDLE, so their callers wake on this CPU (see
    /// <see cref="CallerCpuKeeper"/>); the wait for the next request that follows is at normal priority.</summary>
    private void SubmitKeepingCallerCpu()
    {
        if (!_keepCallerCpu || _toSubmit == 0 || _backgroundWorkPending?.Invoke() == true) return;
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        if (start < _keepPausedUntil || !CallerCpuKeeper.TryEnterIdle(start)) return;
        Enter(0, 0); // an error shows again in the Enter that waits
        Volatile.Write(ref _idleSubmits, _idleSubmits + 1);
        if (!CallerCpuKeeper.LeaveIdle())
        {
            _keepCallerCpu = false;
            Console.Error.WriteLine($"lighthouse: FUSE ring queue {Cpu} could not leave SCHED_IDLE (errno {Libc.Errno}); it keeps serving at idle priority");
            return;
        }
        // A long way back to normal priority means another task held this CPU meanwhile (the woken
        // caller runs only until its next request): at idle priority we wait behind such a task, so
        // reply at normal priority for a while.
        if (System.Diagnostics.Stopwatch.GetTimestamp() - start > CallerCpuKeeper.StarvedTicks)
        {
            _keepPausedUntil = start + CallerCpuKeeper.PauseTicks;
            Volatile.Write(ref _keepPauses, _keepPauses + 1);
        }
    }

    private void Reap()
    {
        uint head = *_cqHead;
        uint tail = Volatile.Read(ref *_cqTail);
        while (head != tail && !_stop)
        {
            var cqe = _cqes[head & _cqMask];
            head++;
            Volatile.Write(ref *_cqHead, head);
            if (cqe.UserData == EventTag) { CommitDeferred(); ArmEvent(); }
            else Complete((int)cqe.UserData, cqe.Res);
        }
    }

    private void Complete(int entry, int res)
    {
        if (res == 0)
        {
            _lookupNode[entry] = 0; // the previous reply was accepted (a new request came)
            Serve(entry);
            return;
        }
        // An error: the entry is no longer the kernel's. ENOTCONN/ECONNABORTED/ECANCELED at unmount.
        if (_lookupNode[entry] != 0) { _session.UndoLookup(_lookupNode[entry]); _lookupNode[entry] = 0; }
        if (!_live[entry]) return;
        _live[entry] = false;
        Interlocked.Decrement(ref _liveCount);
        if (-res is not (107 /* ENOTCONN */ or 103 /* ECONNABORTED */ or 125 /* ECANCELED */))
            Failure ??= $"the kernel ended ring entry {entry} with errno {-res}";
    }

    /// <summary>Rebuilds the request in front of the payload, dispatches it and, unless deferred, commits the reply.</summary>
    private void Serve(int entry)
    {
        byte* headers = Headers(entry);
        ref var header = ref *(InHeader*)headers;
        uint payloadSize = *PayloadLength(entry);
        int opSize = (int)header.Len - sizeof(InHeader) - (int)payloadSize;
        _unique[entry] = header.Unique;
        if (opSize < 0 || opSize > OpInMax || payloadSize > PayloadSize)
        {
            Commit(entry, Errno.EIO, 0, 0);
            return;
        }
        byte* start = Payload(entry) - opSize - sizeof(InHeader);
        Buffer.MemoryCopy(headers, start, sizeof(InHeader), sizeof(InHeader));
        if (opSize > 0) Buffer.MemoryCopy(headers + OpInOffset, start + sizeof(InHeader), opSize, opSize);
        Volatile.Write(ref _served, _served + 1);
        _session.DispatchRing(this, entry, new Span<byte>(start, (int)header.Len), _reply);
    }

    /// <summary>Called by the dispatcher on this queue's thread: the reply is in <paramref name="reply"/> (after room for the out header).</summary>
    internal void Commit(int entry, int error, int payloadLength, ulong lookupNode, byte* reply = null)
    {
        WriteReply(entry, -error, new ReadOnlySpan<byte>(reply + sizeof(OutHeader), payloadLength));
        _lookupNode[entry] = lookupNode;
        UringCommand(entry, CmdCommitAndFetch, _unique[entry]);
    }

    /// <summary>Puts a reply into the entry's buffers: out header in the header block, payload in the payload buffer.</summary>
    private void WriteReply(int entry, int negativeError, ReadOnlySpan<byte> payload)
    {
        var oh = (OutHeader*)Headers(entry);
        oh->Len = (uint)(sizeof(OutHeader) + payload.Length);
        oh->Error = negativeError;
        oh->Unique = _unique[entry];
        payload.CopyTo(new Span<byte>(Payload(entry), PayloadSize));
        *PayloadLength(entry) = (uint)payload.Length;
    }

    /// <summary>A deferred reply, from any thread: the entry is ours until we commit it, so its buffers can be
    /// filled here; the commit itself is submitted by the queue's thread (the ring has a single issuer).</summary>
    internal void CompleteDeferred(int entry, int negativeError, ReadOnlySpan<byte> data)
    {
        lock (_memoryGate) // a reply that comes after the queue ended must not write into freed entry memory
        {
            if (_memory == null || _stop) return;
            WriteReply(entry, negativeError, data);
            _deferredDone.Enqueue(entry);
            Wake();
        }
    }

    private void CommitDeferred()
    {
        while (_deferredDone.TryDequeue(out int entry))
        {
            _lookupNode[entry] = 0;
            UringCommand(entry, CmdCommitAndFetch, _unique[entry]);
        }
    }

    private void TearDown()
    {
        if (_ringFd >= 0) Libc.Close(_ringFd); // cancels what the kernel still holds
        if (_ringMap != null) Libc.Munmap(_ringMap, _ringMapSize);
        if (_sqeMap != null) Libc.Munmap(_sqeMap, _sqeMapSize);
        if (_eventFd >= 0) { int fd = _eventFd; _eventFd = -1; Libc.Close(fd); }
        // The kernel writes requests into entry memory from this thread's context only; with the ring closed
        // and the thread ending nothing writes there any more.
        lock (_memoryGate)
            if (_memory != null) { NativeMemory.AlignedFree(_memory); _memory = null; }
        if (_reply != null) { NativeMemory.AlignedFree(_reply); _reply = null; }
        if (_eventValue != null) { NativeMemory.Free(_eventValue); _eventValue = null; }
    }

    /// <summary>Highest possible CPU number + 1 (the kernel makes one queue per possible CPU).</summary>
    public static int PossibleCpus()
    {
        try
        {
            string text = File.ReadAllText("/sys/devices/system/cpu/possible").Trim();
            int max = 0;
            foreach (var part in text.Split(','))
            {
                var last = part.Split('-')[^1];
                if (int.TryParse(last, out int n)) max = Math.Max(max, n);
            }
            return max + 1;
        }
        catch (IOException) { return Environment.ProcessorCount; }
    }

    /// <summary>Kernel support switched on (the fuse module's enable_uring parameter), or null if it cannot be told.</summary>
    public static bool? KernelEnabled()
    {
        try { return File.ReadAllText("/sys/module/fuse/parameters/enable_uring").Trim() == "Y"; }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }

    /// <summary>Switches kernel support on (root only; it only lets servers that ask for it use it).</summary>
    public static bool TryEnableInKernel()
    {
        try { File.WriteAllText("/sys/module/fuse/parameters/enable_uring", "Y"); return KernelEnabled() == true; }
        catch (IOException) { return false; }
        catch (UnauthorizedAccessException) { return false; }
    }
}
