namespace Lighthouse.Interop;

/// <summary>struct dirent64, as getdents64(2) and readdir64(3) return it.</summary>
internal static partial class Libc
{
    internal const byte DT_UNKNOWN = 0, DT_FIFO = 1, DT_CHR = 2, DT_DIR = 4, DT_BLK = 6, DT_REG = 8, DT_LNK = 10, DT_SOCK = 12;

    /// <summary>d_ino u64 at 0, d_off i64 at 8, d_reclen u16 at 16, d_type u8 at 18, d_name[] at 19.</summary>
    internal const int DirentNameOffset = 19;
}
