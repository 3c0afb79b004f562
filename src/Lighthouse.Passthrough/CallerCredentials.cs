using Lighthouse.Interop;
using Lighthouse.Fuse.Session;

namespace Lighthouse.Passthrough;

/// <summary>
/// Makes the current thread act as the caller (fsuid, fsgid, supplementary groups) for the
/// duration of a create, so new inodes belong to the caller and set-group-id directories and
/// permission checks behave as if the caller had made the call. Per thread: setfsuid/setfsgid
/// are per-thread, and groups are set with the raw syscall (glibc's setgroups changes every thread).
/// For callers that are root this does nothing.
/// </summary>
public readonly unsafe ref struct CallerCredentials
{
    private readonly bool _switched;

    private CallerCredentials(bool switched) => _switched = switched;

    public static CallerCredentials Assume(in RequestContext ctx)
    {
        if (ctx.Uid == 0 || Libc.GetEuid() != 0) return new CallerCredentials(false);
        Span<uint> groups = stackalloc uint[64];
        int count = ReadGroups(ctx.Pid, groups);
        fixed (uint* g = groups) Libc.SyscallSetGroups(Libc.SYS_setgroups, (nuint)count, g);
        Libc.SetFsGid(ctx.Gid);
        Libc.SetFsUid(ctx.Uid);
        return new CallerCredentials(true);
    }

    public void Dispose()
    {
        if (!_switched) return;
        Libc.SetFsUid(0);
        Libc.SetFsGid(0);
        Libc.SyscallSetGroups(Libc.SYS_setgroups, 0, null);
    }

    /// <summary>The caller's supplementary groups, from /proc/&lt;pid&gt;/status ("Groups:" line).</summary>
    private static int ReadGroups(uint pid, Span<uint> groups)
    {
        if (pid == 0) return 0;
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (!line.StartsWith("Groups:", StringComparison.Ordinal)) continue;
                int count = 0;
                foreach (var part in line.AsSpan(7).Split(' '))
                {
                    var token = line.AsSpan(7)[part].Trim();
                    if (token.IsEmpty || count == groups.Length) continue;
                    if (uint.TryParse(token, out uint gid)) groups[count++] = gid;
                }
                return count;
            }
        }
        catch (IOException) { } // the caller has exited: no groups
        catch (UnauthorizedAccessException) { }
        return 0;
    }
}
