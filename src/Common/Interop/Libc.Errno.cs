using System.Runtime.InteropServices;

namespace Lighthouse.Interop;

/// <summary>errno: the last error of a call made with SetLastError, its text, and the values we test for
/// (Linux values; the same on every architecture .NET runs on).</summary>
internal static partial class Libc
{
    internal const int EPERM = 1, ENOENT = 2, ESRCH = 3, EINTR = 4, EIO = 5, ENXIO = 6, E2BIG = 7, EBADF = 9,
        EAGAIN = 11, ENOMEM = 12, EACCES = 13, EBUSY = 16, EEXIST = 17, EXDEV = 18, ENODEV = 19,
        ENOTDIR = 20, EISDIR = 21, EINVAL = 22, EMFILE = 24, ENOTTY = 25, ETXTBSY = 26, EFBIG = 27, ENOSPC = 28,
        ESPIPE = 29, EROFS = 30, EMLINK = 31, ERANGE = 34, ENAMETOOLONG = 36, ENOSYS = 38,
        ENOTEMPTY = 39, ELOOP = 40, ENODATA = 61, EOVERFLOW = 75, EOPNOTSUPP = 95, ECONNABORTED = 103,
        ENOTCONN = 107, ESTALE = 116;

    /// <summary>The errno of the last call made with <c>SetLastError = true</c> on this thread.</summary>
    internal static int Errno => Marshal.GetLastPInvokeError();

    /// <summary>strerror(errno), thread-safely (through the runtime).</summary>
    internal static string ErrorText(int errno) => Marshal.GetPInvokeErrorMessage(errno);
}
