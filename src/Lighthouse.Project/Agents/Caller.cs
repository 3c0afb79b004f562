namespace Lighthouse.Project.Agents;

/// <summary>
/// Who is asking, as every request carries it (a FUSE request's header, a Unix socket's peer
/// credentials, an HTTP token's owner): the thread id (0: the kernel itself), user and group.
/// </summary>
public readonly record struct Caller(uint Pid, uint Uid, uint Gid)
{
    /// <summary>The kernel's own requests (writeback, release): they carry no process.</summary>
    public bool IsKernel => Pid == 0;
}
