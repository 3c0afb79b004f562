namespace Lighthouse.Project.Policy;

/// <summary>
/// A gitignore-style path pattern, compiled at load time and matched against project-relative paths
/// (<c>src/a.c</c>: <c>/</c> separators, no leading slash) without allocating:
/// <list type="bullet">
/// <item><c>*</c>, <c>?</c> and <c>[abc]</c> stay within one segment; <c>**</c> as a whole segment crosses
///   segments (<c>a/**/b</c>, <c>**/x</c>; a trailing <c>x/**</c> is everything inside x, not x itself);</item>
/// <item>a pattern with no <c>/</c> but a trailing one matches a name at any depth; a leading or middle <c>/</c>
///   anchors it at the project root;</item>
/// <item>a trailing <c>/</c> matches directories only;</item>
/// <item>a pattern that matches a directory covers everything beneath it, as gitignore excludes a directory's
///   contents: <c>secrets/</c> covers <c>secrets/a/b.txt</c>.</item>
/// </list>
/// The project root (<c>""</c>) is covered by no pattern: only a rule without paths applies to it.
/// </summary>
internal sealed class PathGlob
{
    /// <summary>The segments; null stands for <c>**</c>. An unanchored pattern starts with one.</summary>
    private readonly Wildcard?[] _segments;
    private readonly bool _directoryOnly;

    public string Pattern { get; }

    private PathGlob(string pattern, Wildcard?[] segments, bool directoryOnly)
    {
        Pattern = pattern;
        _segments = segments;
        _directoryOnly = directoryOnly;
    }

    /// <exception cref="FormatException">What is wrong with the pattern, in words for the policy's author.</exception>
    public static PathGlob Compile(string pattern)
    {
        if (pattern.Contains('\0')) throw new FormatException("a path pattern contains a NUL character");
        if (pattern.Trim().Length == 0) throw new FormatException("a path pattern is empty");
        if (pattern.StartsWith('!'))
            throw new FormatException($"pattern '{pattern}': negation ('!') is not supported; put a rule with the other effect above instead");
        string body = pattern;
        bool directoryOnly = body.EndsWith('/');
        if (directoryOnly) body = body[..^1];
        bool anchored = body.StartsWith('/');
        if (anchored) body = body[1..];
        if (body.Length == 0)
            throw new FormatException($"pattern '{pattern}' names the project root; leave paths out to match every path");
        anchored |= body.Contains('/');

        var segments = new List<Wildcard?>();
        if (!anchored) segments.Add(null);
        foreach (string segment in body.Split('/'))
        {
            if (segment.Length == 0) throw new FormatException($"pattern '{pattern}' has an empty segment ('//')");
            if (segment is "." or "..")
                throw new FormatException($"pattern '{pattern}' has a '{segment}' segment; paths are relative to the project root");
            if (segment == "**")
            {
                if (segments.Count == 0 || segments[^1] is not null) segments.Add(null);
                continue;
            }
            try { segments.Add(Wildcard.ForSegment(segment)); }
            catch (FormatException e) { throw new FormatException($"pattern '{pattern}': {e.Message}", e); }
        }
        return new PathGlob(pattern, [.. segments], directoryOnly);
    }

    /// <summary>True when the pattern matches <paramref name="path"/> itself or one of the directories above it.</summary>
    public bool Covers(ReadOnlySpan<char> path, bool isDirectory) =>
        !path.IsEmpty && MatchFrom(0, path, 0, isDirectory);

    /// <summary>
    /// Whether segments from <paramref name="segment"/> on match the path from offset <paramref name="start"/> on
    /// (past <c>path.Length</c>: the path is used up). Recursion only at <c>**</c>, so as deep as a pattern has those.
    /// </summary>
    private bool MatchFrom(int segment, ReadOnlySpan<char> path, int start, bool isDirectory)
    {
        while (true)
        {
            bool pathLeft = start <= path.Length;
            if (segment == _segments.Length)
                // Used up with path left over: the pattern matched a directory above the path, which covers it.
                return pathLeft || !_directoryOnly || isDirectory;
            var glob = _segments[segment];
            if (glob is null)
            {
                int at = start;
                if (segment == _segments.Length - 1)
                {
                    // A trailing "**" is what lies inside: at least one more segment.
                    if (!pathLeft) return false;
                    at = NextStart(path, at);
                }
                while (true)
                {
                    if (MatchFrom(segment + 1, path, at, isDirectory)) return true;
                    if (at > path.Length) return false;
                    at = NextStart(path, at);
                }
            }
            if (!pathLeft) return false;
            int next = NextStart(path, start);
            if (!glob.Matches(path[start..(next - 1)])) return false;
            segment++;
            start = next;
        }
    }

    /// <summary>Where the segment after the one starting at <paramref name="start"/> starts; <c>path.Length + 1</c> after the last.</summary>
    private static int NextStart(ReadOnlySpan<char> path, int start)
    {
        int slash = path[start..].IndexOf('/');
        return slash < 0 ? path.Length + 1 : start + slash + 1;
    }

    public override string ToString() => Pattern;
}
