using System.Runtime.InteropServices;
using Lighthouse.Fuse.LowLevel;
using Lighthouse.Fuse.Protocol;

namespace Lighthouse.Fuse.Session;

// Decoding of each opcode's arguments and encoding of its reply.
public sealed unsafe partial class FuseSession
{
    /// <summary>Returned by Handle for requests that take no reply (FORGET, INTERRUPT).</summary>
    private const int NoReply = int.MinValue;

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
                rc = _fs.Read(ctx, node, a.Fh, (long)a.Offset, payload[..size], out int n);
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
                if (_deferred.TryGetValue(Arg<InterruptIn>(body).Unique, out var pending)) pending.Interrupt();
                return NoReply;
            case Opcode.NotifyReply:
                return NoReply;
            case Opcode.Destroy:
                _fs.Destroy();
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
        ref readonly var a = ref Arg<InitIn>(body);
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
        if ((a.Flags & (uint)InitFlags.InitExt) != 0 && body.Length >= sizeof(InitIn)) offered |= (ulong)a.Flags2 << 32;
        // Not HANDLE_KILLPRIV(_V2): then the kernel clears set-user/group-id itself on write and truncate
        // (with a SETATTR), which also covers writes that go through kernel passthrough, not through us.
        var connection = new ConnectionInfo
        {
            KernelMajor = a.Major, KernelMinor = a.Minor, Offered = (InitFlags)offered, MaxReadahead = a.MaxReadahead,
            Want = InitFlags.AsyncRead | InitFlags.BigWrites | InitFlags.MaxPages | InitFlags.ParallelDirops |
                   InitFlags.AutoInvalData | InitFlags.DoReaddirplus | InitFlags.ReaddirplusAuto | InitFlags.AsyncDio |
                   InitFlags.SetxattrExt | InitFlags.InitExt | InitFlags.AtomicOTrunc |
                   InitFlags.CacheSymlinks | InitFlags.HasExpireOnly |
                   (_options.IoUring ? InitFlags.OverIoUring : InitFlags.None),
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

        // INIT's reply must be written before other workers start reading (they would get nothing
        // until then anyway); the notifier and the rest of the workers are started just after.
        ThreadPool.QueueUserWorkItem(_ =>
        {
            Notifier = new Notifier(_masterFd);
            StartMoreWorkers();
            _initialized.TrySetResult(connection);
        });
        return 0;
    }
}
