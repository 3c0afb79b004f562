namespace Lighthouse.Project.Policy;

/// <summary>
/// One compiled wildcard over a whole string: <c>*</c> any run of characters, <c>?</c> any one character, and — in
/// path segments only — <c>[abc]</c>, <c>[a-z]</c>, <c>[!a]</c> or <c>[^a]</c>. A backslash makes the next
/// character literal. Compiled at load time into a shape (literal, prefix, suffix, everything) where one exists, so
/// the usual patterns cost one span comparison; the rest use the classic single-backtrack match, which never
/// allocates and is linear in practice.
/// </summary>
internal sealed class Wildcard
{
    private enum Shape { Literal, Prefix, Suffix, Everything, General }
    private enum TokenKind : byte { Char, AnyChar, Star, Class }

    private readonly record struct Token(TokenKind Kind, char Char, int Class);

    /// <summary>A bracket expression: inclusive ranges, possibly negated.</summary>
    private sealed record CharClass((char Low, char High)[] Ranges, bool Negated)
    {
        public bool Contains(char c)
        {
            foreach (var (low, high) in Ranges)
                if (c >= low && c <= high) return !Negated;
            return Negated;
        }
    }

    private readonly Shape _shape;
    private readonly string _literal = "";
    private readonly Token[] _tokens = [];
    private readonly CharClass[] _classes = [];

    public string Pattern { get; }

    private Wildcard(string pattern, Shape shape, string literal, Token[] tokens, CharClass[] classes)
    {
        Pattern = pattern;
        _shape = shape;
        _literal = literal;
        _tokens = tokens;
        _classes = classes;
    }

    /// <summary>A glob on one path segment (gitignore rules: <c>*</c> and <c>?</c> never see a <c>/</c>, since a segment has none).</summary>
    /// <exception cref="FormatException">An unclosed or reversed bracket expression, or a trailing backslash.</exception>
    public static Wildcard ForSegment(string segment) => Compile(segment, brackets: true);

    /// <summary>
    /// A glob on a whole line (command line, agent name, role): <c>*</c> crosses spaces and slashes. No bracket
    /// expressions, so a command's own brackets are literal; <c>\*</c>, <c>\?</c> and <c>\\</c> escape, any other
    /// backslash is itself.
    /// </summary>
    public static Wildcard ForLine(string pattern) => Compile(pattern, brackets: false);

    /// <summary>
    /// Adds what any text this matches must have, as bits of <see cref="PathSegments"/>' summaries (length, first and
    /// last character, each taken modulo 64): a path lacking one of them is rejected without matching.
    /// </summary>
    public void AddRequirements(ref ulong lengths, ref ulong firsts, ref ulong lasts)
    {
        if (_shape == Shape.Literal) lengths |= PathSegments.Bit(_literal.Length);
        bool literalStart = _shape is Shape.Literal or Shape.Prefix && _literal.Length > 0;
        bool literalEnd = _shape is Shape.Literal or Shape.Suffix && _literal.Length > 0;
        if (literalStart) firsts |= PathSegments.Bit(_literal[0]);
        if (literalEnd) lasts |= PathSegments.Bit(_literal[^1]);
        if (_shape == Shape.General && _tokens[0].Kind == TokenKind.Char) firsts |= PathSegments.Bit(_tokens[0].Char);
        if (_shape == Shape.General && _tokens[^1].Kind == TokenKind.Char) lasts |= PathSegments.Bit(_tokens[^1].Char);
    }

    public bool Matches(ReadOnlySpan<char> text) => _shape switch
    {
        Shape.Literal => text.SequenceEqual(_literal),
        Shape.Prefix => text.StartsWith(_literal, StringComparison.Ordinal),
        Shape.Suffix => text.EndsWith(_literal, StringComparison.Ordinal),
        Shape.Everything => true,
        _ => MatchesGeneral(text),
    };

    private bool MatchesGeneral(ReadOnlySpan<char> text)
    {
        var tokens = _tokens;
        int t = 0, s = 0, starToken = -1, starText = 0;
        while (s < text.Length)
        {
            if (t < tokens.Length)
            {
                var token = tokens[t];
                if (token.Kind == TokenKind.Star) { starToken = t++; starText = s; continue; }
                if (MatchesOne(token, text[s])) { t++; s++; continue; }
            }
            // Mismatch: let the last star swallow one more character and retry from there.
            if (starToken < 0) return false;
            t = starToken + 1;
            s = ++starText;
        }
        while (t < tokens.Length && tokens[t].Kind == TokenKind.Star) t++;
        return t == tokens.Length;
    }

    private bool MatchesOne(Token token, char c) => token.Kind switch
    {
        TokenKind.Char => c == token.Char,
        TokenKind.AnyChar => true,
        _ => _classes[token.Class].Contains(c),
    };

    private static Wildcard Compile(string pattern, bool brackets)
    {
        var tokens = new List<Token>();
        var classes = new List<CharClass>();
        for (int i = 0; i < pattern.Length; i++)
        {
            char c = pattern[i];
            switch (c)
            {
                case '*':
                    // "**" inside a segment, or "***", is one star (gitignore: "other consecutive asterisks are regular").
                    if (tokens.Count == 0 || tokens[^1].Kind != TokenKind.Star) tokens.Add(new(TokenKind.Star, '\0', 0));
                    break;
                case '?':
                    tokens.Add(new(TokenKind.AnyChar, '\0', 0));
                    break;
                case '[' when brackets:
                    i = ParseClass(pattern, i, classes);
                    tokens.Add(new(TokenKind.Class, '\0', classes.Count - 1));
                    break;
                case '\\' when brackets:
                    if (i + 1 == pattern.Length) throw new FormatException($"pattern '{pattern}' ends with a lone backslash");
                    tokens.Add(new(TokenKind.Char, pattern[++i], 0));
                    break;
                case '\\' when i + 1 < pattern.Length && pattern[i + 1] is '*' or '?' or '\\':
                    tokens.Add(new(TokenKind.Char, pattern[++i], 0));
                    break;
                default:
                    tokens.Add(new(TokenKind.Char, c, 0));
                    break;
            }
        }
        return Shaped(pattern, tokens, classes);
    }

    /// <summary>Picks the cheapest shape that matches exactly what the tokens match.</summary>
    private static Wildcard Shaped(string pattern, List<Token> tokens, List<CharClass> classes)
    {
        int stars = tokens.Count(t => t.Kind == TokenKind.Star);
        bool plain = tokens.All(t => t.Kind is TokenKind.Char or TokenKind.Star);
        string Literal(IEnumerable<Token> chars) => string.Concat(chars.Select(t => t.Char));
        if (plain && stars == 0) return new(pattern, Shape.Literal, Literal(tokens), [], []);
        if (plain && stars == 1 && tokens.Count == 1) return new(pattern, Shape.Everything, "", [], []);
        if (plain && stars == 1 && tokens[^1].Kind == TokenKind.Star) return new(pattern, Shape.Prefix, Literal(tokens.SkipLast(1)), [], []);
        if (plain && stars == 1 && tokens[0].Kind == TokenKind.Star) return new(pattern, Shape.Suffix, Literal(tokens.Skip(1)), [], []);
        return new(pattern, Shape.General, "", [.. tokens], [.. classes]);
    }

    /// <summary>Parses the bracket expression opening at <paramref name="open"/>; returns the index of its closing bracket.</summary>
    private static int ParseClass(string pattern, int open, List<CharClass> classes)
    {
        int i = open + 1;
        bool negated = i < pattern.Length && pattern[i] is '!' or '^';
        if (negated) i++;
        var ranges = new List<(char, char)>();
        bool first = true;
        for (; i < pattern.Length; i++, first = false)
        {
            char c = pattern[i];
            if (c == ']' && !first)
            {
                classes.Add(new CharClass([.. ranges], negated));
                return i;
            }
            if (c == '\\')
            {
                if (++i == pattern.Length) break;
                c = pattern[i];
            }
            char high = c;
            if (i + 2 < pattern.Length && pattern[i + 1] == '-' && pattern[i + 2] != ']')
            {
                high = pattern[i + 2];
                i += 2;
                if (high == '\\' && ++i < pattern.Length) high = pattern[i];
                if (high < c) throw new FormatException($"pattern '{pattern}' has a reversed range '{c}-{high}'");
            }
            ranges.Add((c, high));
        }
        throw new FormatException($"pattern '{pattern}' has an unclosed '['");
    }

    public override string ToString() => Pattern;
}
