using Lighthouse.Fuse.Protocol;

namespace Lighthouse.Fuse.Session;

/// <summary>Who is asking and for what. Passed by reference to every operation; allocation-free.</summary>
public readonly struct RequestContext
{
    internal RequestContext(FuseSession? session, int fd, in InHeader header, UringQueue? ring = null, int ringEntry = -1)
    {
        Session = session; DeviceFd = fd; Ring = ring; RingEntry = ringEntry;
        Unique = header.Unique; NodeId = header.NodeId; Opcode = header.Opcode;
        Uid = header.Uid; Gid = header.Gid; Pid = header.Pid;
    }

    /// <summary>Null when a <see cref="Protocol.ProtocolServer"/> runs without a session (requests fed as bytes).</summary>
    internal FuseSession? Session { get; }
    internal int DeviceFd { get; }
    /// <summary>The io_uring queue and entry the request came through (null: /dev/fuse).</summary>
    internal UringQueue? Ring { get; }
    internal int RingEntry { get; }
    public ulong Unique { get; }
    public ulong NodeId { get; }
    public Opcode Opcode { get; }
    /// <summary>Caller's fsuid/fsgid and thread-group id. Pid 0: the kernel itself (writeback, release).</summary>
    public uint Uid { get; }
    public uint Gid { get; }
    public uint Pid { get; }
    /// <summary>READ only: the file's status flags as the kernel sends them with the request (its f_flags, so an
    /// O_NONBLOCK set later with fcntl counts); 0 for every other request.</summary>
    public int FileFlags { get; init; }

    /// <summary>Take over the reply: return <see cref="FileSystem.Errno.Deferred"/> from the operation and
    /// answer later, from any thread, through the returned object. INTERRUPT cancels its token.</summary>
    public DeferredReply Defer() =>
        Session?.Defer(this) ?? throw new InvalidOperationException("a deferred reply needs a FuseSession to send it; this request came without one");
}
