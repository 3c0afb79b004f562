namespace Lighthouse.Fuse.LowLevel;

/// <summary>
/// The kernel passthrough backing file of one inode. The kernel wants a single backing file per
/// inode, shared by all its passthrough opens: the first open registers its descriptor
/// (<see cref="IBackingFiles.Open"/>), later opens share the id, the last release unregisters it.
/// Not thread-safe: call under the inode's own lock.
/// </summary>
public struct BackingFile
{
    private int _id, _users;

    /// <summary>Registers <paramref name="fd"/> (or shares the registered file) and returns the backing id for
    /// fuse_open_out, or 0 if the kernel refused: then serve this open in user space.</summary>
    public int Acquire(IBackingFiles backing, int fd)
    {
        if (_id == 0)
        {
            int id = backing.Open(fd);
            if (id <= 0) return 0;
            _id = id;
        }
        _users++;
        return _id;
    }

    /// <summary>Ends one open acquired with <see cref="Acquire"/>.</summary>
    public void Release(IBackingFiles backing)
    {
        if (_users == 0 || --_users > 0) return;
        backing.Close(_id);
        _id = 0;
    }
}
