using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Lighthouse.Fuse.LowLevel;
using Lighthouse.Fuse.Session;

namespace Lighthouse.Fuse.Protocol;

/// <summary>
/// Turns request bytes into calls on a <see cref="FuseFileSystem"/> and the calls' results into reply
/// bytes, and never touches a file descriptor (go-fuse's protocol-server.go): what reads and writes
/// /dev/fuse or an io_uring queue is <see cref="FuseSession"/>'s job, and it dispatches every request
/// through <see cref="Serve"/>, so what tests feed this class as bytes is what runs under a mount.
/// Decoding reads the arguments in place and replies are written straight into the caller's buffer:
/// nothing is allocated per request.
/// </summary>
public sealed unsafe class ProtocolServer
{
    /// <summary>Returned by Serve for requests that take no reply (FORGET, INTERRUPT).</summary>
    internal const int NoReply = int.MinValue;

    private readonly FuseFileSystem _fs;
    private readonly FuseSession? _session;
    private readonly IFuseNotifier _notifier;
    private readonly IBackingFiles? _backingFiles;
    private readonly bool _ioUring;
    private long _forgets;
    private int _destroyed;

    /// <summary>A protocol server on its own, for feeding it requests as bytes (tests, other transports).</summary>
    /// <param name="notifier">Handed to the filesystem at INIT.</param>
    /// <param name="backingFiles">Handed to the filesystem at INIT when the kernel offers passthrough.</param>
    public ProtocolServer(FuseFileSystem fileSystem, IFuseNotifier notifier, IBackingFiles? backingFiles = null)
        : this(fileSystem, null, notifier, backingFiles, ioUring: false) { }

    internal ProtocolServer(FuseFileSystem fileSystem, FuseSession? session, IFuseNotifier notifier, IBackingFiles? backingFiles, bool ioUring)
    {
        _fs = fileSystem; _session = session; _notifier = notifier; _backingFiles = backingFiles; _ioUring = ioUring;
    }

    public FuseFileSystem FileSystem => _fs;
    /// <summary>Set once INIT has been negotiated.</summary>
    public ConnectionInfo? Connection { get; private set; }
    /// <summary>Inodes the kernel has forgotten so far (FORGET and BATCH_FORGET entries).</summary>
    public long Forgotten => Interlocked.Read(ref _forgets);
    /// <summary>Why the connection cannot go on (a kernel too old), when that happened.</summary>
    public string? Failure { get; private set; }

    /// <summary>
    /// Handles one request: <paramref name="request"/> holds fuse_in_header and its body, the reply
    /// (fuse_out_header and payload) is written to <paramref name="reply"/> (room for the largest reply:
    /// <see cref="ProtocolConstants.RequestBufferSize"/>). Returns the reply's length, or 0 when the request
    /// takes no reply (FORGET, BATCH_FORGET, INTERRUPT) or the filesystem deferred it (nothing can answer
    /// a deferred request here: there is no session).
    /// </summary>
    public int HandleRequest(ReadOnlySpan<byte> request, Span<byte> reply)
    {
        if (request.Length < sizeof(InHeader)) throw new ArgumentException($"a request is at least {sizeof(InHeader)} bytes (fuse_in_header)", nameof(request));
        ref readonly var header = ref MemoryMarshal.AsRef<InHeader>(request);
        var ctx = new RequestContext(null, -1, header);
        int error = Serve(ctx, request, reply[sizeof(OutHeader)..], out int length, out _, out _);
        if (error is NoReply or Errno.Deferred) return 0;
        return WriteHeader(reply, header.Unique, error, length);
    }

    /// <summary>Writes fuse_out_header in front of a payload already in <paramref name="reply"/>; returns the reply's length.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int WriteHeader(Span<byte> reply, ulong unique, int error, int payloadLength)
    {
        ref var header = ref MemoryMarshal.AsRef<OutHeader>(reply);
        header.Len = (uint)(sizeof(OutHeader) + payloadLength);
        header.Error = -error;
        header.Unique = unique;
        return (int)header.Len;
    }

    /// <summary>
    /// The one path every request takes (the session's workers and ring queues, and
    /// <see cref="HandleRequest"/>): checks the lengths, calls the filesystem, leaves the reply's payload in
    /// <paramref name="payload"/>. Returns 0 or an errno for the reply, <see cref="NoReply"/>, or
    /// <see cref="Errno.Deferred"/>. <paramref name="entryNode"/>: non-zero when the reply adds a lookup
    /// to that node (to undo if the kernel refuses the reply). <paramref name="keepGoing"/>: false when
    /// the connection must end (DESTROY, a kernel too old).
    /// </summary>
    internal int Serve(in RequestContext ctx, ReadOnlySpan<byte> request, Span<byte> payload, out int payloadLength, out ulong entryNode, out bool keepGoing)
    {
        ref readonly var header = ref MemoryMarshal.AsRef<InHeader>(request);
        payloadLength = 0;
        entryNode = 0;
        keepGoing = true;
        int bodyLength = (int)header.Len - sizeof(InHeader) - header.TotalExtLen * 8;
        if (bodyLength < 0 || header.Len > request.Length) return Errno.EIO;
        var body = request.Slice(sizeof(InHeader), bodyLength);
        int error;
        try
        {
            error = Handle(ctx, header.Opcode, body, payload, ref payloadLength, ref entryNode, ref keepGoing);
        }
        catch (Exception e)
        {
            // A bug in a handler must not take the mount down: answer EIO and say why.
            Console.Error.WriteLine($"lighthouse: {header.Opcode} on node {header.NodeId} failed: {e}");
            error = Errno.EIO;
        }
        if (error != 0) { payloadLength = 0; entryNode = 0; }
        return error;
    }

    /// <summary>Calls <see cref="FuseFileSystem.Destroy"/> unless it was called already (DESTROY came).</summary>
    internal void DestroyOnce()
    {
        if (Interlocked.Exchange(ref _destroyed, 1) == 0) _fs.Destroy();
    }

    private int Handle(in RequestContext ctx, Opcode opcode, ReadOnlySpan<byte> body, Span<byte> payload,
        ref int length, ref ulong entryNode, ref bool keepGoing)
    {
        ulong node = ctx.NodeId;
        int pos = 0;
        int rc;
        switch (opcode)
        {
            case Opcode.Init:
                return HandleInit(body, payload, ref length, ref keepGoing);

            case Opcode.Lookup:
            {
                rc = _fs.Lookup(ctx, node, CString(body, ref pos), out var entry);
                if (rc == 0) { length = Put(payload, entry); entryNode = entry.NodeId; }
                return rc;
            }
            case Opcode.Forget:
                _fs.Forget(node, Arg<ForgetIn>(body).Nlookup);
                Interlocked.Increment(ref _forgets);
                return NoReply;
            case Opcode.BatchForget:
            {
                ref readonly var batch = ref Arg<BatchForgetIn>(body);
                var items = MemoryMarshal.Cast<byte, ForgetOne>(body[sizeof(BatchForgetIn)..]);
                int count = (int)Math.Min(batch.Count, (uint)items.Length);
                for (int i = 0; i < count; i++) _fs.Forget(items[i].NodeId, items[i].Nlookup);
                Interlocked.Add(ref _forgets, count);
                return NoReply;
            }
            case Opcode.GetAttr:
            {
                ref readonly var a = ref Arg<GetAttrIn>(body);
                ulong? fh = (a.GetAttrFlags & ProtocolConstants.GetAttrFh) != 0 ? a.Fh : null;
                rc = _fs.GetAttr(ctx, node, fh, out var attr);
                if (rc == 0) length = Put(payload, attr);
                return rc;
            }
            case Opcode.SetAttr:
            {
                rc = _fs.SetAttr(ctx, node, Arg<SetAttrIn>(body), out var attr);
                if (rc == 0) length = Put(payload, attr);
                return rc;
            }
            case Opcode.Statx:
            {
                ref readonly var a = ref Arg<StatxIn>(body);
                ulong? fh = (a.GetAttrFlags & ProtocolConstants.GetAttrFh) != 0 ? a.Fh : null;
                rc = _fs.Statx(ctx, node, fh, a.SxFlags, a.SxMask, out var result);
                if (rc == 0) length = Put(payload, result);
                return rc;
            }
            case Opcode.ReadLink:
            {
                rc = _fs.ReadLink(ctx, node, payload[..4096], out int n);
                if (rc == 0) length = n;
                return rc;
            }
            case Opcode.Symlink:
            {
                var name = CString(body, ref pos);
                var target = CString(body, ref pos);
                rc = _fs.Symlink(ctx, node, name, target, out var entry);
                if (rc == 0) { length = Put(payload, entry); entryNode = entry.NodeId; }
                return rc;
            }
            case Opcode.MkNod:
            {
                ref readonly var a = ref Arg<MkNodIn>(body);
                pos = sizeof(MkNodIn);
                rc = _fs.MkNod(ctx, node, CString(body, ref pos), a.Mode, a.Rdev, a.Umask, out var entry);
                if (rc == 0) { length = Put(payload, entry); entryNode = entry.NodeId; }
                return rc;
            }
            case Opcode.MkDir:
            {
                ref readonly var a = ref Arg<MkDirIn>(body);
                pos = sizeof(MkDirIn);
                rc = _fs.MkDir(ctx, node, CString(body, ref pos), a.Mode, a.Umask, out var entry);
                if (rc == 0) { length = Put(payload, entry); entryNode = entry.NodeId; }
                return rc;
            }
            case Opcode.Unlink:
                return _fs.Unlink(ctx, node, CString(body, ref pos));
            case Opcode.RmDir:
                return _fs.RmDir(ctx, node, CString(body, ref pos));
            case Opcode.Rename:
            {
                ulong newDir = Arg<RenameIn>(body).NewDir;
                pos = sizeof(RenameIn);
                var oldName = CString(body, ref pos);
                return _fs.Rename(ctx, node, oldName, newDir, CString(body, ref pos), 0);
            }
            case Opcode.Rename2:
            {
                ref readonly var a = ref Arg<Rename2In>(body);
                pos = sizeof(Rename2In);
                var oldName = CString(body, ref pos);
                return _fs.Rename(ctx, node, oldName, a.NewDir, CString(body, ref pos), a.Flags);
            }
            case Opcode.Link:
            {
                ulong oldNode = Arg<LinkIn>(body).OldNodeId;
                pos = sizeof(LinkIn);
                rc = _fs.Link(ctx, oldNode, node, CString(body, ref pos), out var entry);
                if (rc == 0) { length = Put(payload, entry); entryNode = entry.NodeId; }
                return rc;
            }
            case Opcode.Open:
            {
                ref readonly var a = ref Arg<OpenIn>(body);
                rc = _fs.Open(ctx, node, (int)a.Flags, a.OpenFlags, out var open);
                if (rc == 0) length = Put(payload, open);
                return rc;
            }
            case Opcode.Create:
            case Opcode.TmpFile:
            {
                ref readonly var a = ref Arg<CreateIn>(body);
                pos = sizeof(CreateIn);
                EntryOut entry;
                OpenOut open;
                rc = opcode == Opcode.Create
                    ? _fs.Create(ctx, node, CString(body, ref pos), (int)a.Flags, a.Mode, a.Umask, out entry, out open)
                    : _fs.TmpFile(ctx, node, (int)a.Flags, a.Mode, a.Umask, out entry, out open);
                if (rc == 0)
                {
                    length = Put(payload, entry);
                    length += Put(payload[length..], open);
                    entryNode = entry.NodeId;
                }
                return rc;
            }
            case Opcode.Read:
            {
                ref readonly var a = ref Arg<ReadIn>(body);
                int size = (int)Math.Min(a.Size, (uint)payload.Length);
                rc = _fs.Read(ctx with { FileFlags = (int)a.Flags }, node, a.Fh, (long)a.Offset, payload[..size], out int n);
                if (rc == 0) length = n;
                return rc;
            }
            case Opcode.Write:
            {
                ref readonly var a = ref Arg<WriteIn>(body);
                var data = body[sizeof(WriteIn)..];
                if (data.Length > a.Size) data = data[..(int)a.Size];
                rc = _fs.Write(ctx, node, a.Fh, (long)a.Offset, data, a.WriteFlags, out int written);
                if (rc == 0) length = Put(payload, new WriteOut { Size = (uint)written });
                return rc;
            }
            case Opcode.Flush:
                return _fs.Flush(ctx, node, Arg<FlushIn>(body).Fh);
            case Opcode.Release:
            {
                ref readonly var a = ref Arg<ReleaseIn>(body);
                return _fs.Release(ctx, node, a.Fh, (int)a.Flags);
            }
            case Opcode.Fsync:
            {
                ref readonly var a = ref Arg<FsyncIn>(body);
                return _fs.Fsync(ctx, node, a.Fh, (a.FsyncFlags & ProtocolConstants.FsyncFdatasync) != 0);
            }
            case Opcode.OpenDir:
            {
                rc = _fs.OpenDir(ctx, node, (int)Arg<OpenIn>(body).Flags, out var open);
                if (rc == 0) length = Put(payload, open);
                return rc;
            }
            case Opcode.ReadDir:
            case Opcode.ReadDirPlus:
            {
                ref readonly var a = ref Arg<ReadIn>(body);
                var buffer = new DirectoryBuffer(payload[..(int)Math.Min(a.Size, (uint)payload.Length)], opcode == Opcode.ReadDirPlus);
                rc = _fs.ReadDir(ctx, node, a.Fh, (long)a.Offset, ref buffer);
                if (rc == 0) length = buffer.Length;
                return rc;
            }
            case Opcode.ReleaseDir:
                return _fs.ReleaseDir(ctx, node, Arg<ReleaseIn>(body).Fh);
            case Opcode.FsyncDir:
            {
                ref readonly var a = ref Arg<FsyncIn>(body);
                return _fs.FsyncDir(ctx, node, a.Fh, (a.FsyncFlags & ProtocolConstants.FsyncFdatasync) != 0);
            }
            case Opcode.StatFs:
            {
                rc = _fs.StatFs(ctx, node, out var stat);
                if (rc == 0) length = Put(payload, stat);
                return rc;
            }
            case Opcode.Access:
                return _fs.Access(ctx, node, (int)Arg<AccessIn>(body).Mask);
            case Opcode.SetXattr:
            {
                ref readonly var a = ref Arg<SetXattrIn>(body);
                pos = Connection!.Has(InitFlags.SetxattrExt) ? sizeof(SetXattrIn) : 8;
                var name = CString(body, ref pos);
                var value = body[pos..];
                if (value.Length > a.Size) value = value[..(int)a.Size];
                return _fs.SetXattr(ctx, node, name, value, (int)a.Flags);
            }
            case Opcode.GetXattr:
            {
                ref readonly var a = ref Arg<GetXattrIn>(body);
                pos = sizeof(GetXattrIn);
                var name = CString(body, ref pos);
                return XattrReply(a.Size, payload, ref length,
                    _fs.GetXattr(ctx, node, name, a.Size == 0 ? Span<byte>.Empty : payload[..(int)Math.Min(a.Size, (uint)payload.Length)], out int size), size);
            }
            case Opcode.ListXattr:
            {
                ref readonly var a = ref Arg<GetXattrIn>(body);
                return XattrReply(a.Size, payload, ref length,
                    _fs.ListXattr(ctx, node, a.Size == 0 ? Span<byte>.Empty : payload[..(int)Math.Min(a.Size, (uint)payload.Length)], out int size), size);
            }
            case Opcode.RemoveXattr:
                return _fs.RemoveXattr(ctx, node, CString(body, ref pos));
            case Opcode.Fallocate:
            {
                ref readonly var a = ref Arg<FallocateIn>(body);
                return _fs.Fallocate(ctx, node, a.Fh, (long)a.Offset, (long)a.Length, (int)a.Mode);
            }
            case Opcode.Lseek:
            {
                ref readonly var a = ref Arg<LseekIn>(body);
                rc = _fs.Lseek(ctx, node, a.Fh, (long)a.Offset, (int)a.Whence, out long result);
                if (rc == 0) length = Put(payload, new LseekOut { Offset = (ulong)result });
                return rc;
            }
            case Opcode.CopyFileRange:
            {
                ref readonly var a = ref Arg<CopyFileRangeIn>(body);
                rc = _fs.CopyFileRange(ctx, node, a.FhIn, (long)a.OffIn, a.NodeIdOut, a.FhOut, (long)a.OffOut,
                    (long)Math.Min(a.Len, uint.MaxValue), a.Flags, out long copied);
                if (rc == 0) length = Put(payload, new WriteOut { Size = (uint)copied });
                return rc;
            }
            case Opcode.Poll:
            {
                ref readonly var a = ref Arg<PollIn>(body);
                rc = _fs.Poll(ctx, node, a.Fh, a.Kh, (a.Flags & ProtocolConstants.PollScheduleNotify) != 0, a.Events, out uint revents);
                if (rc == 0) length = Put(payload, new PollOut { Revents = revents });
                return rc;
            }
            case Opcode.SyncFs:
                return _fs.SyncFs(ctx);
            case Opcode.Interrupt:
                _session?.Interrupt(Arg<InterruptIn>(body).Unique);
                return NoReply;
            case Opcode.NotifyReply:
                return NoReply;
            case Opcode.Destroy:
                DestroyOnce();
                keepGoing = false;
                return 0;
            default:
                // GETLK/SETLK (locks stay local to the kernel: we do not negotiate them), IOCTL,
                // BMAP, DAX mappings and anything newer than us: the kernel remembers ENOSYS.
                return Errno.ENOSYS;
        }
    }

    private static int XattrReply(uint requested, Span<byte> payload, ref int length, int rc, int size)
    {
        if (rc != 0) return rc;
        if (requested == 0) length = Put(payload, new GetXattrOut { Size = (uint)size });
        else if (size > requested) return Errno.ERANGE;
        else length = size;
        return 0;
    }

    private int HandleInit(ReadOnlySpan<byte> body, Span<byte> payload, ref int length, ref bool keepGoing)
    {
        // fuse_init_in grew from 16 bytes to 64 in 7.36 (flags2, reserved space): read what the kernel sent, zeros for the rest.
        InitIn a = default;
        body[..Math.Min(body.Length, sizeof(InitIn))].CopyTo(new Span<byte>(&a, sizeof(InitIn)));
        var init = new InitOut { Major = ProtocolConstants.KernelMajor, Minor = ProtocolConstants.MaxMinor };
        if (a.Major > ProtocolConstants.KernelMajor)
        {
            // A newer major: answer with ours; the kernel retries INIT at our version.
            length = Put(payload, init);
            return 0;
        }
        if (a.Major < ProtocolConstants.KernelMajor || a.Minor < ProtocolConstants.MinMinor)
        {
            Failure = $"kernel FUSE protocol {a.Major}.{a.Minor} is older than the oldest supported (7.{ProtocolConstants.MinMinor})";
            keepGoing = false;
            return 71; // EPROTO
        }
        ulong offered = a.Flags;
        if ((a.Flags & (uint)InitFlags.InitExt) != 0) offered |= (ulong)a.Flags2 << 32;
        // Not HANDLE_KILLPRIV(_V2): then the kernel clears set-user/group-id itself on write and truncate
        // (with a SETATTR), which also covers writes that go through kernel passthrough, not through us.
        var connection = new ConnectionInfo
        {
            KernelMajor = a.Major, KernelMinor = a.Minor, Offered = (InitFlags)offered, MaxReadahead = a.MaxReadahead,
            Notifier = _notifier,
            BackingFiles = ((InitFlags)offered & InitFlags.Passthrough) != 0 ? _backingFiles : null,
            Want = InitFlags.AsyncRead | InitFlags.BigWrites | InitFlags.MaxPages | InitFlags.ParallelDirops |
                   InitFlags.AutoInvalData | InitFlags.DoReaddirplus | InitFlags.ReaddirplusAuto | InitFlags.AsyncDio |
                   InitFlags.SetxattrExt | InitFlags.InitExt | InitFlags.AtomicOTrunc |
                   InitFlags.CacheSymlinks | InitFlags.HasExpireOnly |
                   (_ioUring ? InitFlags.OverIoUring : InitFlags.None),
        };
        _fs.Init(connection);
        var negotiated = connection.Want & connection.Offered;
        connection.Negotiated = negotiated;
        connection.Minor = Math.Min(a.Minor, ProtocolConstants.MaxMinor);
        Connection = connection;

        init.Minor = connection.Minor;
        init.MaxReadahead = connection.MaxReadahead;
        init.Flags = (uint)negotiated;
        init.Flags2 = (uint)((ulong)negotiated >> 32);
        init.MaxBackground = connection.MaxBackground;
        init.CongestionThreshold = connection.CongestionThreshold;
        init.MaxWrite = connection.MaxWrite;
        init.TimeGran = connection.TimeGranularityNs;
        if ((negotiated & InitFlags.MaxPages) != 0) init.MaxPages = (ushort)ProtocolConstants.MaxPages;
        if ((negotiated & InitFlags.Passthrough) != 0) init.MaxStackDepth = 1; // our backing files live on ordinary filesystems
        length = Put(payload, init);

        return 0;
    }

    private static ReadOnlySpan<byte> CString(ReadOnlySpan<byte> body, ref int position)
    {
        var rest = body[position..];
        int end = rest.IndexOf((byte)0);
        if (end < 0) end = rest.Length;
        position += end + 1;
        return rest[..end];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ref readonly T Arg<T>(ReadOnlySpan<byte> body) where T : unmanaged =>
        ref MemoryMarshal.AsRef<T>(body[..sizeof(T)]);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Put<T>(Span<byte> payload, in T value) where T : unmanaged
    {
        MemoryMarshal.Write(payload, in value);
        return sizeof(T);
    }
}
