using System.Runtime.InteropServices;
using Lighthouse.Fuse.Protocol;

namespace Lighthouse.Fuse.LowLevel;

/// <summary>
/// Fills a READDIR or READDIRPLUS reply in place. Check <see cref="HasRoomFor"/> before doing
/// any work for an entry (for READDIRPLUS that work is a lookup, which counts toward FORGET:
/// an entry that does not fit must not have been looked up).
/// </summary>
public ref struct DirectoryBuffer
{
    private readonly Span<byte> _buffer;
    private int _used;

    public DirectoryBuffer(Span<byte> buffer, bool plus) { _buffer = buffer; Plus = plus; _used = 0; }

    /// <summary>True for READDIRPLUS: entries carry attributes and a looked-up node id.</summary>
    public bool Plus { get; }
    public readonly int Length => _used;
    public readonly bool IsEmpty => _used == 0;

    private static int Align8(int n) => (n + 7) & ~7;
    private readonly int SizeFor(int nameLength) =>
        Align8((Plus ? Marshal.SizeOf<EntryOut>() : 0) + Marshal.SizeOf<DirentHeader>() + nameLength);

    public readonly bool HasRoomFor(int nameLength) => _used + SizeFor(nameLength) <= _buffer.Length;

    /// <summary>Adds an entry. <paramref name="nextOffset"/> is the cookie from which reading continues after it.
    /// For READDIRPLUS, <paramref name="entry"/> is the lookup result (node id 0: no lookup was done).</summary>
    public bool TryAdd(scoped ReadOnlySpan<byte> name, ulong ino, uint type, long nextOffset, in EntryOut entry)
    {
        int size = SizeFor(name.Length);
        if (_used + size > _buffer.Length) return false;
        var dest = _buffer.Slice(_used, size);
        int pos = 0;
        if (Plus)
        {
            var e = entry;
            MemoryMarshal.Write(dest, in e);
            pos = Marshal.SizeOf<EntryOut>();
        }
        var header = new DirentHeader { Ino = ino, Off = (ulong)nextOffset, NameLen = (uint)name.Length, Type = type };
        MemoryMarshal.Write(dest[pos..], in header);
        pos += Marshal.SizeOf<DirentHeader>();
        name.CopyTo(dest[pos..]);
        dest[(pos + name.Length)..].Clear();
        _used += size;
        return true;
    }
}
