using System.Buffers.Binary;
using System.Text;

namespace Lighthouse.Fuse.Tests.Protocol;

/// <summary>Little-endian rows for golden-byte tests: each request or reply is written field by field, one row per field.</summary>
internal static class Wire
{
    public static byte[] U16(ushort v) { var b = new byte[2]; BinaryPrimitives.WriteUInt16LittleEndian(b, v); return b; }
    public static byte[] U32(uint v) { var b = new byte[4]; BinaryPrimitives.WriteUInt32LittleEndian(b, v); return b; }
    public static byte[] I32(int v) { var b = new byte[4]; BinaryPrimitives.WriteInt32LittleEndian(b, v); return b; }
    public static byte[] U64(ulong v) { var b = new byte[8]; BinaryPrimitives.WriteUInt64LittleEndian(b, v); return b; }
    public static byte[] Zeros(int n) => new byte[n];
    /// <summary>Bytes of <paramref name="s"/> as written (put "\0" in it where the wire has a NUL).</summary>
    public static byte[] Str(string s) => Encoding.UTF8.GetBytes(s);
    public static byte[] Bytes(params byte[][] rows) => rows.SelectMany(r => r).ToArray();

    /// <summary>fuse_entry_out as <see cref="RecordingFileSystem.Entry"/> fills it for <paramref name="node"/>.</summary>
    public static byte[] EntryOut(ulong node, uint mode, ulong size) => Bytes(
        U64(node),            // nodeid
        U64(1),               // generation
        U64(10),              // entry_valid (s)
        U64(20),              // attr_valid (s)
        U32(500),             // entry_valid_nsec
        U32(600),             // attr_valid_nsec
        U64(node),            // attr.ino
        U64(size),            // attr.size
        U64(1),               // attr.blocks
        U64(1_700_000_000),   // attr.atime
        U64(1_700_000_001),   // attr.mtime
        U64(1_700_000_002),   // attr.ctime
        U32(1), U32(2), U32(3), // attr.atimensec, mtimensec, ctimensec
        U32(mode),            // attr.mode
        U32(1),               // attr.nlink
        U32(1000),            // attr.uid
        U32(100),             // attr.gid
        U32(0),               // attr.rdev
        U32(4096),            // attr.blksize
        U32(0));              // attr.flags
}
