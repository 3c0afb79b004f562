using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.RepresentationModel;

namespace Lighthouse.Project.Policy;

/// <summary>
/// policy.yaml to <see cref="AccessPolicy"/>, strictly: YamlDotNet parses, this checks every key, type and word and
/// reports the first mistake with its line and column. Nothing unknown is skipped — a misspelt <c>efect:</c> that was
/// ignored would turn a deny into the default.
/// </summary>
internal static class PolicyParser
{
    private static readonly string[] TopKeys = ["mode", "default", "rules"];
    private static readonly string[] RuleKeys = ["name", "path", "paths", "ops", "roles", "agents", "commands", "effect"];

    public static AccessPolicy Parse(string yaml, string sourceName)
    {
        var stream = new YamlStream();
        var parser = new PositionTrackingParser(new Parser(new StringReader(yaml)));
        try
        {
            stream.Load(parser);
        }
        catch (YamlException e)
        {
            // YamlDotNet's message repeats the position in its own format; ours carries it already.
            string problem = e.InnerException is YamlException inner ? inner.Message : e.Message;
            int cut = problem.IndexOf("): ", StringComparison.Ordinal);
            if (problem.StartsWith("(Line:", StringComparison.Ordinal) && cut >= 0) problem = problem[(cut + 3)..];
            throw new PolicyFormatException(sourceName, (int)e.Start.Line, (int)e.Start.Column, $"not valid YAML: {problem}", e);
        }
        catch (InvalidOperationException e)
        {
            // YamlDotNet 18.1.0's scanner throws this, with no position, on some malformed input (an unclosed flow
            // list running into the next line): report it after the last part that did parse.
            throw new PolicyFormatException(sourceName, (int)parser.LastGood.Line, (int)parser.LastGood.Column,
                "not valid YAML after this point (an unclosed '[', '{' or quote?)", e);
        }
        if (stream.Documents.Count == 0) return Empty(sourceName);
        if (stream.Documents.Count > 1)
            throw Error(sourceName, stream.Documents[1].RootNode, "more than one YAML document; a policy is one document");
        var root = stream.Documents[0].RootNode;
        if (IsNull(root)) return Empty(sourceName);
        var top = Expect<YamlMappingNode>(sourceName, root, "the policy", "a mapping with mode, default and rules");

        var mode = PolicyMode.Enforce;
        var defaultEffect = PolicyEffect.Allow;
        var rules = new List<PolicyRule>();
        foreach (var (keyNode, value) in Entries(sourceName, top, TopKeys, "at the top level"))
        {
            switch (keyNode.Value)
            {
                case "mode":
                    mode = (PolicyMode)Word(sourceName, value, PolicyNames.Modes, "mode");
                    break;
                case "default":
                    defaultEffect = (PolicyEffect)Word(sourceName, value, PolicyNames.Effects, "default effect");
                    break;
                case "rules":
                    if (IsNull(value)) break;
                    var list = Expect<YamlSequenceNode>(sourceName, value, "rules", "a list of rules (each starting with '- ')");
                    foreach (var item in list.Children)
                        rules.Add(Rule(sourceName, item, rules.Count + 1));
                    break;
            }
        }
        return new AccessPolicy(sourceName, mode, defaultEffect, rules);
    }

    private static AccessPolicy Empty(string sourceName) => new(sourceName, PolicyMode.Enforce, PolicyEffect.Allow, []);

    private static PolicyRule Rule(string sourceName, YamlNode node, int index)
    {
        var map = Expect<YamlMappingNode>(sourceName, node, $"rule {index}", "a mapping of criteria and an effect");
        string? name = null;
        PolicyEffect? effect = null;
        List<string>? paths = null, roles = null, agents = null, commands = null;
        List<PolicyOperation>? operations = null;
        YamlNode? pathNode = null;
        foreach (var (keyNode, value) in Entries(sourceName, map, RuleKeys, $"in rule {index}"))
        {
            string key = keyNode.Value!;
            string where = $"rule {index} '{key}'";
            switch (key)
            {
                case "name":
                    name = Scalar(sourceName, value, where);
                    break;
                case "path" or "paths":
                    if (pathNode is not null)
                        throw Error(sourceName, keyNode, $"rule {index} has both 'path' and 'paths'; use one");
                    pathNode = value;
                    paths = key == "path" ? [Scalar(sourceName, value, where)] : List(sourceName, value, where, "patterns");
                    foreach (var (pattern, at) in Zip(paths, value))
                        Check(sourceName, at, () => PathGlob.Compile(pattern));
                    break;
                case "ops":
                    operations = [];
                    foreach (var (word, at) in Zip(List(sourceName, value, where, "operations"), value))
                    {
                        var op = (PolicyOperation)Word(sourceName, at, PolicyNames.Operations, "operation", word);
                        if (!operations.Contains(op)) operations.Add(op);
                    }
                    break;
                case "roles":
                    roles = Globs(sourceName, value, where, "role globs");
                    break;
                case "agents":
                    agents = Globs(sourceName, value, where, "agent globs");
                    break;
                case "commands":
                    commands = Globs(sourceName, value, where, "command globs");
                    break;
                case "effect":
                    effect = (PolicyEffect)Word(sourceName, value, PolicyNames.Effects, "effect");
                    break;
            }
        }
        if (effect is null)
            throw Error(sourceName, map, $"rule {index} has no 'effect' (one of {string.Join(", ", PolicyNames.Effects)})");
        return new PolicyRule(index, (int)map.Start.Line, sourceName, name, effect.Value, paths, operations, roles, agents, commands);
    }

    /// <summary>The mapping's entries, each key checked against <paramref name="known"/> (and against repeats).</summary>
    private static List<(YamlScalarNode Key, YamlNode Value)> Entries(string sourceName, YamlMappingNode map, string[] known, string where)
    {
        var entries = new List<(YamlScalarNode, YamlNode)>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (keyNode, value) in map.Children)
        {
            if (keyNode is not YamlScalarNode { Value: { } key } scalar)
                throw Error(sourceName, keyNode, $"a key {where} is not a plain word");
            if (!known.Contains(key))
            {
                string? guess = Closest(key, known);
                string hint = guess is null ? $"known keys: {string.Join(", ", known)}" : $"did you mean '{guess}'?";
                throw Error(sourceName, keyNode, $"unknown key '{key}' {where} ({hint})");
            }
            if (!seen.Add(key)) throw Error(sourceName, keyNode, $"key '{key}' appears twice {where}");
            entries.Add((scalar, value));
        }
        return entries;
    }

    private static List<string> Globs(string sourceName, YamlNode value, string where, string what)
    {
        var globs = List(sourceName, value, where, what);
        foreach (var (glob, at) in Zip(globs, value))
            if (glob.Contains('\0')) throw Error(sourceName, at, $"{where}: a glob contains a NUL character");
        return globs;
    }

    /// <summary>A non-empty list of scalars. A single scalar is refused: the file says what it means, or it is wrong.</summary>
    private static List<string> List(string sourceName, YamlNode value, string where, string what)
    {
        var sequence = Expect<YamlSequenceNode>(sourceName, value, where, $"a list of {what}, like [a, b]");
        if (sequence.Children.Count == 0)
            throw Error(sourceName, value, $"{where} is an empty list, which matches nothing; leave the key out to match everything");
        return sequence.Children.Select(item => Scalar(sourceName, item, where)).ToList();
    }

    /// <summary>Pairs each parsed item with the node it came from (a list's items, or a single scalar itself), for error positions.</summary>
    private static IEnumerable<(string, YamlNode)> Zip(List<string> items, YamlNode value) =>
        value is YamlSequenceNode sequence ? items.Zip(sequence.Children) : items.Select(item => (item, value));

    private static string Scalar(string sourceName, YamlNode node, string where)
    {
        if (node is YamlScalarNode { Value: { } text } && !IsNull(node)) return text;
        throw Error(sourceName, node, $"{where} must be a single value, not {Kind(node)}");
    }

    /// <summary>One of <paramref name="words"/>; its index. Case matters: the file is read as written.</summary>
    private static int Word(string sourceName, YamlNode node, string[] words, string what, string? text = null)
    {
        text ??= Scalar(sourceName, node, what);
        int index = PolicyNames.Find(words, text);
        if (index >= 0) return index;
        string? guess = Closest(text, words);
        string hint = guess is null ? "" : $" (did you mean '{guess}'?)";
        throw Error(sourceName, node, $"unknown {what} '{text}'; expected one of {string.Join(", ", words)}{hint}");
    }

    private static void Check(string sourceName, YamlNode at, Action compile)
    {
        try { compile(); }
        catch (FormatException e) { throw Error(sourceName, at, e.Message); }
    }

    private static T Expect<T>(string sourceName, YamlNode node, string where, string expected) where T : YamlNode =>
        node as T ?? throw Error(sourceName, node, $"{where} must be {expected}, not {Kind(node)}");

    private static bool IsNull(YamlNode node) =>
        node is YamlScalarNode { Style: ScalarStyle.Plain, Value: null or "" or "~" or "null" or "Null" or "NULL" };

    private static string Kind(YamlNode node) => node switch
    {
        YamlMappingNode => "a mapping",
        YamlSequenceNode => "a list",
        _ when IsNull(node) => "nothing",
        YamlScalarNode scalar => $"'{scalar.Value}'",
        _ => "an alias",
    };

    private static PolicyFormatException Error(string sourceName, YamlNode node, string problem) =>
        new(sourceName, (int)node.Start.Line, (int)node.Start.Column, problem);

    /// <summary>The known word within two edits of <paramref name="word"/>, for "did you mean" hints.</summary>
    private static string? Closest(string word, string[] known)
    {
        string? best = null;
        int bestDistance = 3;
        foreach (string candidate in known)
        {
            int distance = EditDistance(word.ToLowerInvariant(), candidate);
            if (distance < bestDistance) (best, bestDistance) = (candidate, distance);
        }
        return best;
    }

    private static int EditDistance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++) previous[j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (int j = 1; j <= b.Length; j++)
                current[j] = Math.Min(Math.Min(current[j - 1], previous[j]) + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            (previous, current) = (current, previous);
        }
        return previous[b.Length];
    }

    /// <summary>Passes events through and remembers where the last one ended, for errors that carry no position.</summary>
    private sealed class PositionTrackingParser(IParser inner) : IParser
    {
        public Mark LastGood { get; private set; } = Mark.Empty;

        public ParsingEvent? Current => inner.Current;

        public bool MoveNext()
        {
            if (inner.Current is { } current) LastGood = current.End;
            return inner.MoveNext();
        }
    }
}
