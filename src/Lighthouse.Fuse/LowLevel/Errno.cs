namespace Lighthouse.Fuse.LowLevel;

/// <summary>Linux errno values returned by filesystem operations (0 = success).</summary>
public static class Errno
{
    public const int EPERM = 1, ENOENT = 2, EINTR = 4, EIO = 5, EBADF = 9, EAGAIN = 11, ENOMEM = 12,
        EACCES = 13, EBUSY = 16, EEXIST = 17, EXDEV = 18, ENODEV = 19, ENOTDIR = 20, EISDIR = 21,
        EINVAL = 22, ENFILE = 23, EMFILE = 24, EFBIG = 27, ENOSPC = 28, ESPIPE = 29, EROFS = 30,
        EMLINK = 31, ERANGE = 34, ENAMETOOLONG = 36, ENOSYS = 38, ENOTEMPTY = 39, ELOOP = 40,
        ENODATA = 61, EOPNOTSUPP = 95, ESTALE = 116;

    /// <summary>Returned by a handler that will reply later through <see cref="Session.RequestContext.Defer"/>.</summary>
    public const int Deferred = -1;
}
