using System.Runtime.InteropServices;
using Lighthouse.Fuse.FileSystem;
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

    internal DeferredReply(FuseSession session, int fd, ulong unique, Opcode opcode)
    {
        _session = session; DeviceFd = fd; Unique = unique; Opcode = opcode;
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
        _session.SendReply(DeviceFd, Unique, -errno, ReadOnlySpan<byte>.Empty);
        _cancel.Dispose();
        return true;
    }

    public bool ReplyData(ReadOnlySpan<byte> data)
    {
        if (!Claim()) return false;
        _session.SendReply(DeviceFd, Unique, 0, data);
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
