using Lighthouse.Interop;

namespace Lighthouse.Passthrough;

/// <summary>
/// A node's attributes as the passthrough read them from the backing file (one statx(2) call), in the
/// form an owner of the filesystem (an <see cref="IPassthroughObserver"/>, a caller of
/// <see cref="PassthroughFileSystem.TryStat(Node, int, out NodeStat)"/>) sees them. A plain value: copying it allocates nothing.
/// </summary>
public readonly struct NodeStat
{
    internal NodeStat(in StatxBuf st)
    {
        Mode = st.Mode;
        Size = (long)st.Size;
        Nlink = st.Nlink;
        Uid = st.Uid;
        Gid = st.Gid;
        Ino = st.Ino;
        Dev = st.Dev;
        Rdev = ((ulong)st.RdevMajor << 32) | st.RdevMinor;
        AtimeNs = st.AtimeSec * 1_000_000_000L + st.AtimeNsec;
        MtimeNs = st.MtimeSec * 1_000_000_000L + st.MtimeNsec;
        CtimeNs = st.CtimeSec * 1_000_000_000L + st.CtimeNsec;
    }

    /// <summary>st_mode: the file type (<see cref="FileType"/>) and the permission bits.</summary>
    public uint Mode { get; }
    public long Size { get; }
    public uint Nlink { get; }
    public uint Uid { get; }
    public uint Gid { get; }
    public ulong Ino { get; }
    /// <summary>The device holding the file, as major &lt;&lt; 32 | minor (the same value as <see cref="Node.Dev"/>).</summary>
    public ulong Dev { get; }
    /// <summary>The device a character or block special file stands for, as major &lt;&lt; 32 | minor.</summary>
    public ulong Rdev { get; }
    /// <summary>Times in nanoseconds since the Unix epoch.</summary>
    public long AtimeNs { get; }
    public long MtimeNs { get; }
    public long CtimeNs { get; }

    /// <summary>The file type bits of <see cref="Mode"/> (S_IFMT): 0x4000 directory, 0x8000 regular file, 0xA000 symlink, ...</summary>
    public uint FileType => Mode & 0xF000;
    /// <summary>The permission bits of <see cref="Mode"/>, set-id and sticky bits included.</summary>
    public uint Permissions => Mode & 0xFFF;
    public bool IsDirectory => FileType == 0x4000;
    public bool IsRegularFile => FileType == 0x8000;
    public bool IsSymlink => FileType == 0xA000;
}
