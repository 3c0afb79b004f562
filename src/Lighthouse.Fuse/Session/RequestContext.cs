using Lighthouse.Fuse.Protocol;

namespace Lighthouse.Fuse.Session;

/// <summary>Who is asking and for what. Passed by reference to every operation; allocation-free.</summary>
public readonly struct RequestContext
{
    internal RequestContext(FuseSession session, int fd, in InHeader header)
    {
        Session = session; DeviceFd = fd;
        Unique = header.Unique; NodeId = header.NodeId; Opcode = header.Opcode;
        Uid = header.Uid; Gid = header.Gid; Pid = header.Pid;
    }

    internal FuseSession Session { get; }
    internal int DeviceFd { get; }
    public ulong Unique { get; }
    public ulong NodeId { get; }
    public Opcode Opcode { get; }
    /// <summary>Caller's fsuid/fsgid and thread-group id. Pid 0: the kernel itself (writeback, release).</summary>
    public uint Uid { get; }
    public uint Gid { get; }
    public uint Pid { get; }

    /// <summary>Take over the reply: return <see cref="FileSystem.Errno.Deferred"/> from the operation and
    /// answer later, from any thread, through the returned object. INTERRUPT cancels its token.</summary>
    public DeferredReply Defer() => Session.Defer(this);
}
