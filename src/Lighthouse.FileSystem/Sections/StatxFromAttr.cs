using Lighthouse.Fuse.Protocol;
using Lighthouse.Interop;

namespace Lighthouse.FileSystem.Sections;

/// <summary>A STATX reply from the attributes a section already computes for GETATTR (the basic fields; no birth time).</summary>
internal static class StatxFromAttr
{
    public static StatxOut Of(in FuseAttr a, ulong validSeconds, uint validNanoseconds)
    {
        var result = new StatxOut { AttrValid = validSeconds, AttrValidNsec = validNanoseconds };
        ref var x = ref result.Stat;
        x.Mask = Libc.STATX_BASIC_STATS; x.BlkSize = a.BlkSize; x.Nlink = a.Nlink; x.Uid = a.Uid; x.Gid = a.Gid; x.Mode = (ushort)a.Mode;
        x.Ino = a.Ino; x.Size = a.Size; x.Blocks = a.Blocks;
        x.RdevMajor = a.Rdev >> 8 & 0xfff; x.RdevMinor = (a.Rdev & 0xff) | (a.Rdev >> 12 & 0xfff00);
        x.Atime = new SxTime { Sec = (long)a.Atime, Nsec = a.AtimeNsec };
        x.Ctime = new SxTime { Sec = (long)a.Ctime, Nsec = a.CtimeNsec };
        x.Mtime = new SxTime { Sec = (long)a.Mtime, Nsec = a.MtimeNsec };
        return result;
    }
}
