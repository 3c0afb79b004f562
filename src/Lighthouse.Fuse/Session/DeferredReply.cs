using System.Runtime.InteropServices;
using Lighthouse.Fuse.LowLevel;
using Lighthouse.Fuse.Protocol;

namespace Lighthouse.Fuse.Session;

/// <summary>
/// A reply finished later, from any thread (e.g. a read that blocks until a stream has data).
/// Exactly one Reply* call takes effect. <see cref="Cancelled"/> fires when the kernel sends
/// INTERRUPT for the request; the usual answer then is <c>ReplyError(EINTR)</c>.
/// </summary>
public sealed class DeferredReply
{
    private readonly FuseSession _session;
    private readonly CancellationTokenSource _cancel = new();
    private int _done;

    private readonly UringQueue? _ring;
    private readonly int _ringEntry;

    internal DeferredReply(FuseSession session, int fd, ulong unique, Opcode opcode, UringQueue? ring = null, int ringEntry = -1)
    {
        _session = session; DeviceFd = fd; Unique = unique; Opcode = opcode; _ring = ring; _ringEntry = ringEntry;
    }

    private void Send(int negativeError, ReadOnlySpan<byte> data)
    {
        if (_ring is not null) _ring.CompleteDeferred(_ringEntry, negativeError, data);
        else _session.SendReply(DeviceFd, Unique, negativeError, data);
    }

    internal int DeviceFd { get; }
    public ulong Unique { get; }
    public Opcode Opcode { get; }
    public CancellationToken Cancelled => _cancel.Token;
    public bool IsCompleted => Volatile.Read(ref _done) != 0;

    internal void Interrupt() { try { _cancel.Cancel(); } catch (ObjectDisposedException) { } }

    private bool Claim()
    {
        if (Interlocked.Exchange(ref _done, 1) != 0) return false;
        _session.ForgetDeferred(Unique);
        return true;
    }

    public bool ReplyError(int errno)
    {
        if (!Claim()) return false;
        Send(-errno, ReadOnlySpan<byte>.Empty);
        _cancel.Dispose();
        return true;
    }

    public bool ReplyData(ReadOnlySpan<byte> data)
    {
        if (!Claim()) return false;
        Send(0, data);
        _cancel.Dispose();
        return true;
    }

    public bool Reply<T>(in T value) where T : unmanaged
    {
        var copy = value;
        return ReplyData(MemoryMarshal.AsBytes(new ReadOnlySpan<T>(ref copy)));
    }

    public bool ReplyPoll(uint revents) => Reply(new PollOut { Revents = revents });
}
