namespace Lighthouse.Fuse.LowLevel;

/// <summary>
/// Notifications a filesystem sends the kernel on its own initiative: cache invalidations and poll
/// wake-ups. Handed to the filesystem in <see cref="Session.ConnectionInfo.Notifier"/> at INIT (rather
/// than reached through the session), so a filesystem can be driven in-process with a fake.
/// Calls only queue the message and return: it is sent later, from a thread of the session's own.
/// </summary>
public interface IFuseNotifier
{
    /// <summary>Drop cached data of <paramref name="node"/> in [offset, offset+length) (length 0: to the end; offset -1: attributes only).</summary>
    void InvalidateInode(ulong node, long offset = 0, long length = 0);

    /// <summary>Drop the kernel's cached entry <paramref name="name"/> in <paramref name="parent"/>.</summary>
    void InvalidateEntry(ulong parent, ReadOnlySpan<byte> name);

    /// <summary>Tell the kernel <paramref name="name"/> in <paramref name="parent"/>, which was <paramref name="child"/>, is gone.</summary>
    void Delete(ulong parent, ulong child, ReadOnlySpan<byte> name);

    /// <summary>Wake pollers waiting on the poll handle <paramref name="kh"/> (from <see cref="FuseFileSystem.Poll"/>).</summary>
    void PollWakeup(ulong kh);
}
