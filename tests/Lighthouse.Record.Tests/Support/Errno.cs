namespace Lighthouse.Record.Tests.Support;

/// <summary>errno values by their names, for reports ("ENOENT" reads better than 2).</summary>
internal static class Errno
{
    private static readonly Dictionary<int, string> Names = new()
    {
        [Libc.EPERM] = "EPERM", [Libc.ENOENT] = "ENOENT", [Libc.EINTR] = "EINTR", [Libc.EIO] = "EIO", [Libc.ENXIO] = "ENXIO",
        [Libc.E2BIG] = "E2BIG", [Libc.EBADF] = "EBADF", [Libc.EAGAIN] = "EAGAIN", [Libc.ENOMEM] = "ENOMEM", [Libc.EACCES] = "EACCES",
        [Libc.EBUSY] = "EBUSY", [Libc.EEXIST] = "EEXIST", [Libc.EXDEV] = "EXDEV", [Libc.ENODEV] = "ENODEV", [Libc.ENOTDIR] = "ENOTDIR",
        [Libc.EISDIR] = "EISDIR", [Libc.EINVAL] = "EINVAL", [Libc.EMFILE] = "EMFILE", [Libc.ENOTTY] = "ENOTTY", [Libc.ETXTBSY] = "ETXTBSY",
        [Libc.EFBIG] = "EFBIG", [Libc.ENOSPC] = "ENOSPC", [Libc.ESPIPE] = "ESPIPE", [Libc.EROFS] = "EROFS", [Libc.EMLINK] = "EMLINK",
        [Libc.ERANGE] = "ERANGE", [Libc.ENAMETOOLONG] = "ENAMETOOLONG", [Libc.ENOSYS] = "ENOSYS", [Libc.ENOTEMPTY] = "ENOTEMPTY",
        [Libc.ELOOP] = "ELOOP", [Libc.ENODATA] = "ENODATA", [Libc.EOVERFLOW] = "EOVERFLOW", [Libc.EOPNOTSUPP] = "EOPNOTSUPP",
        [Libc.ECONNABORTED] = "ECONNABORTED", [Libc.ENOTCONN] = "ENOTCONN", [Libc.ESTALE] = "ESTALE", [EFAULT] = "EFAULT",
    };

    public const int EFAULT = 14;

    public static string Name(int errno) => Names.TryGetValue(errno, out var name) ? name : $"errno {errno}";
}
