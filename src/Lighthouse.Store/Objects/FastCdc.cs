namespace Lighthouse.Store.Objects;

/// <summary>
/// Content-defined chunking (FastCDC, Xia et al., USENIX ATC 2016, with normalized chunking): a cut falls where a
/// rolling "gear" hash of the last bytes matches a mask, so an insertion or deletion moves the cuts near it only and
/// the chunks of the rest of the file keep their bytes, and their hashes: versions of a file share all the chunks
/// an edit did not touch. Sizes: at least <see cref="MinSize"/>, about <see cref="AverageSize"/> on average, at most
/// <see cref="MaxSize"/>.
/// </summary>
public static class FastCdc
{
    public const int MinSize = 16 * 1024;
    public const int AverageSize = 64 * 1024;
    public const int MaxSize = 256 * 1024;
    /// <summary>Where the harder mask gives way to the easier one: below the average, since cuts after it come
    /// 16 KiB later on average (measured on source text: about 60 KiB per chunk; with the switch at 64 KiB, 74.5).</summary>
    private const int NormalSize = 48 * 1024;

    // Normalized chunking: a harder mask (more bits) before the average size, an easier one after, so sizes cluster
    // around the average. 64 KiB average = 16 bits, ±2; the bits are spread over bits 40-63 of the hash, each of which
    // depends on the last 41-64 bytes (the hash shifts left one bit per byte).
    private const ulong MaskHard = 0xdddb_bb00_0000_0000UL; // 18 bits
    private const ulong MaskEasy = 0xad5a_b500_0000_0000UL; // 14 bits

    /// <summary>The gear table: 256 pseudo-random 64-bit values, fixed forever (a different table moves every cut,
    /// which would stop new versions from sharing chunks with old ones).</summary>
    private static readonly ulong[] Gear = MakeGear();

    private static ulong[] MakeGear()
    {
        var table = new ulong[256];
        ulong state = 0x4c69_6768_7468_6f75UL; // "Lighthou"
        for (int i = 0; i < table.Length; i++)
        {
            // splitmix64: fixed, well-mixed values without a dependency on a random generator's implementation.
            state += 0x9E37_79B9_7F4A_7C15UL;
            ulong z = state;
            z = (z ^ (z >> 30)) * 0xBF58_476D_1CE4_E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D0_49BB_1331_11EBUL;
            table[i] = z ^ (z >> 31);
        }
        return table;
    }

    /// <summary>
    /// The length of the first chunk of <paramref name="data"/>. With <paramref name="final"/> false, data shorter
    /// than <see cref="MaxSize"/> may hold no cut yet: -1 then (read more and ask again with the same start).
    /// </summary>
    public static int NextCut(ReadOnlySpan<byte> data, bool final)
    {
        int n = data.Length;
        if (n <= MinSize) return final ? n : (n == 0 ? 0 : -1);
        // A run of one repeated byte (zeros written out, a fill pattern) is cut at the maximum size without rolling the
        // hash over it: the rolling hash of a constant run is constant, so it would cut there or at a fixed place anyway,
        // at a cost of a nanosecond a byte. Still a function of the content alone.
        if (n >= MaxSize && data[..MaxSize].IndexOfAnyExcept(data[0]) < 0) return MaxSize;
        int normal = Math.Min(n, NormalSize);
        int end = Math.Min(n, MaxSize);
        ulong hash = 0;
        int i = MinSize;
        for (; i < normal; i++)
        {
            hash = (hash << 1) + Gear[data[i]];
            if ((hash & MaskHard) == 0) return i + 1;
        }
        for (; i < end; i++)
        {
            hash = (hash << 1) + Gear[data[i]];
            if ((hash & MaskEasy) == 0) return i + 1;
        }
        if (end == MaxSize) return MaxSize;
        return final ? n : -1;
    }
}
