using System.Runtime.InteropServices;
using Lighthouse.Interop;

namespace Lighthouse.Project.Restore;

/// <summary>Setting a restored entry's modification time to the nanosecond (System.IO keeps only 100 ns ticks).</summary>
internal static unsafe class ModificationTime
{
    /// <summary>Sets the mtime of <paramref name="path"/>, not following a final symlink; atime is left alone.</summary>
    /// <exception cref="IOException">the system refused.</exception>
    public static void Set(string path, long mtimeNs)
    {
        var times = stackalloc Timespec[2];
        times[0] = new Timespec { Nsec = Libc.UTIME_OMIT };
        times[1] = new Timespec { Sec = Math.DivRem(mtimeNs, 1_000_000_000L, out var ns), Nsec = ns };
        if (times[1].Nsec < 0) { times[1].Sec--; times[1].Nsec += 1_000_000_000L; }
        var bytes = System.Text.Encoding.UTF8.GetBytes(path + "\0");
        fixed (byte* p = bytes)
            if (Libc.UtimensAt(Libc.AT_FDCWD, p, times, Libc.AT_SYMLINK_NOFOLLOW) != 0)
                throw new IOException($"cannot set the modification time of {path}: {Marshal.GetPInvokeErrorMessage(Libc.Errno)}");
    }
}
