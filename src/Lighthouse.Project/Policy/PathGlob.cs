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
    /// <summary>What some segment of a covered path must have (see <see cref="PathSegments"/>): checked before matching.</summary>
    private readonly ulong _lengths, _firsts, _lasts;

    public string Pattern { get; }

    private PathGlob(string pattern, Wildcard?[] segments, bool directoryOnly)
    {
        Pattern = pattern;
        _segments = segments;
        _directoryOnly = directoryOnly;
        foreach (var glob in segments) glob?.AddRequirements(ref _lengths, ref _firsts, ref _lasts);
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
    public bool Covers(ReadOnlySpan<char> path, bool isDirectory)
    {
        int count = PathSegments.CountOf(path);
        Span<int> starts = count < PathSegments.StackDepth ? stackalloc int[PathSegments.StackDepth] : new int[count + 1];
        return Covers(new PathSegments(path, starts), isDirectory);
    }

    /// <inheritdoc cref="Covers(ReadOnlySpan{char}, bool)"/>
    public bool Covers(scoped in PathSegments path, bool isDirectory)
    {
        if (path.Count == 0) return false;
        if ((path.Lengths & _lengths) != _lengths || (path.Firsts & _firsts) != _firsts || (path.Lasts & _lasts) != _lasts)
            return false;
        if (_segments.Length == 2 && _segments[0] is null && _segments[1] is { } name)
        {
            // A name at any depth (the usual pattern): no recursion.
            for (int i = 0; i < path.Count; i++)
                if (name.Matches(path[i]) && (i < path.Count - 1 || !_directoryOnly || isDirectory)) return true;
            return false;
        }
        return MatchFrom(0, path, 0, isDirectory);
    }

    /// <summary>
    /// Whether pattern segments from <paramref name="segment"/> on match path segments from <paramref name="at"/> on
    /// (<c>at == path.Count</c>: the path is used up). Recursion only at <c>**</c>, so as deep as a pattern has those.
    /// </summary>
    private bool MatchFrom(int segment, scoped in PathSegments path, int at, bool isDirectory)
    {
        while (true)
        {
            if (segment == _segments.Length)
                // Used up with path left over: the pattern matched a directory above the path, which covers it.
                return at < path.Count || !_directoryOnly || isDirectory;
            var glob = _segments[segment];
            if (glob is null)
            {
                // "**" takes zero or more segments; a trailing one is what lies inside, so at least one.
                int from = segment == _segments.Length - 1 ? at + 1 : at;
                for (int next = from; next <= path.Count; next++)
                    if (MatchFrom(segment + 1, path, next, isDirectory)) return true;
                return false;
            }
            if (at == path.Count || !glob.Matches(path[at])) return false;
            segment++;
            at++;
        }
    }

    public override string ToString() => Pattern;
}
