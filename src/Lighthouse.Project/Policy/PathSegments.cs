namespace Lighthouse.Project.Policy;

/// <summary>
/// A project-relative path split into its segments once per decision, on the caller's stack, with a summary of
/// them — which lengths, first and last characters occur, each as a bit modulo 64 — so most path globs are ruled
/// out by three mask tests instead of a walk over the segments. Measured on a 50-rule policy (throwaway program,
/// Release, 2 cores at load average 4.6): 1.2-2.7 µs per decision walking segments, 0.41-0.60 µs with the summary,
/// against 2.6-7 µs for 50 compiled NonBacktracking regexes.
/// </summary>
internal readonly ref struct PathSegments
{
    /// <summary>Paths deeper than this take an array; shallower ones (all in practice) use the stack.</summary>
    public const int StackDepth = 48;

    private readonly ReadOnlySpan<char> _path;
    /// <summary>Where each segment starts; one more entry, <c>path.Length + 1</c>, closes the last.</summary>
    private readonly ReadOnlySpan<int> _starts;

    public int Count { get; }
    public ulong Lengths { get; }
    public ulong Firsts { get; }
    public ulong Lasts { get; }

    /// <param name="path">Project-relative, <c>/</c>-separated, no leading or trailing slash; empty for the root.</param>
    /// <param name="starts">At least <see cref="CountOf"/> + 1 entries.</param>
    public PathSegments(ReadOnlySpan<char> path, Span<int> starts)
    {
        _path = path;
        int count = 0, start = 0;
        ulong lengths = 0, firsts = 0, lasts = 0;
        while (!path.IsEmpty && start <= path.Length)
        {
            int slash = path[start..].IndexOf('/');
            int end = slash < 0 ? path.Length : start + slash;
            starts[count++] = start;
            lengths |= Bit(end - start);
            if (end > start)
            {
                firsts |= Bit(path[start]);
                lasts |= Bit(path[end - 1]);
            }
            start = end + 1;
        }
        starts[count] = path.Length + 1;
        _starts = starts[..(count + 1)];
        Count = count;
        Lengths = lengths;
        Firsts = firsts;
        Lasts = lasts;
    }

    /// <summary>How many segments <paramref name="path"/> has (0 for the root).</summary>
    public static int CountOf(ReadOnlySpan<char> path) => path.IsEmpty ? 0 : path.Count('/') + 1;

    public ReadOnlySpan<char> this[int index] => _path[_starts[index]..(_starts[index + 1] - 1)];

    public static ulong Bit(int value) => 1UL << (value & 63);
}
