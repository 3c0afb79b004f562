using System.Runtime.InteropServices;

namespace Lighthouse.Interop;

internal static unsafe partial class Libc
{
    [LibraryImport("libc", EntryPoint = "pread64", SetLastError = true)]
    internal static partial nint Pread(int fd, void* buf, nuint count, long offset);

    /// <summary>Reads until <paramref name="buffer"/> is full or end of file, retrying EINTR.
    /// Returns 0 or an errno (an error after some bytes were read is not one: those bytes count).</summary>
    internal static int PreadFully(int fd, Span<byte> buffer, long offset, out int bytesRead)
    {
        bytesRead = 0;
        fixed (byte* p = buffer)
        {
            while (bytesRead < buffer.Length)
            {
                nint n = Pread(fd, p + bytesRead, (nuint)(buffer.Length - bytesRead), offset + bytesRead);
                if (n < 0)
                {
                    int err = Marshal.GetLastPInvokeError();
                    if (err == 4) continue; // EINTR
                    return bytesRead == 0 ? err : 0;
                }
                if (n == 0) break;
                bytesRead += (int)n;
            }
        }
        return 0;
    }
}
