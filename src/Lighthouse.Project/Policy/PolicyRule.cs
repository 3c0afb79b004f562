using System.Text;

namespace Lighthouse.Project.Policy;

/// <summary>
/// One rule of a policy: the criteria a request must all meet (a criterion left out matches everything) and the
/// effect when it does. Built by <see cref="AccessPolicy.Parse"/> with its globs compiled, so matching allocates nothing.
/// </summary>
public sealed class PolicyRule
{
    private readonly PathGlob[]? _paths;
    private readonly Wildcard[]? _roles, _agents, _commands;
    private readonly bool _named;

    /// <summary>The rule's place in the file, from 1.</summary>
    public int Index { get; }

    /// <summary>The line of policy.yaml the rule starts on, from 1.</summary>
    public int Line { get; }

    /// <summary>The file the rule came from, as given to <see cref="AccessPolicy.Parse"/>.</summary>
    public string SourceName { get; }

    /// <summary>The rule's <c>name</c>, or "rule N (line L)" when it has none.</summary>
    public string Name { get; }

    /// <summary>Path globs; null: every path.</summary>
    public IReadOnlyList<string>? Paths { get; }

    /// <summary>Operations; null: every operation.</summary>
    public IReadOnlyList<PolicyOperation>? Operations { get; }

    /// <summary>Globs on the agent's role; null: any role, or none.</summary>
    public IReadOnlyList<string>? Roles { get; }

    /// <summary>Globs on the agent's name; null: any agent.</summary>
    public IReadOnlyList<string>? Agents { get; }

    /// <summary>Globs on the calling command line; null: any command, known or not.</summary>
    public IReadOnlyList<string>? Commands { get; }

    public PolicyEffect Effect { get; }

    internal PolicyRule(int index, int line, string sourceName, string? name, PolicyEffect effect,
        IReadOnlyList<string>? paths, IReadOnlyList<PolicyOperation>? operations,
        IReadOnlyList<string>? roles, IReadOnlyList<string>? agents, IReadOnlyList<string>? commands)
    {
        Index = index;
        Line = line;
        SourceName = sourceName;
        _named = name is not null;
        Name = name ?? $"rule {index} (line {line})";
        Effect = effect;
        Paths = paths;
        Operations = operations;
        Roles = roles;
        Agents = agents;
        Commands = commands;
        _paths = paths?.Select(PathGlob.Compile).ToArray();
        _roles = roles?.Select(Wildcard.ForLine).ToArray();
        _agents = agents?.Select(Wildcard.ForLine).ToArray();
        _commands = commands?.Select(Wildcard.ForLine).ToArray();
    }

    /// <summary>Whether the rule covers <paramref name="operation"/> (cheap: evaluation pre-sorts rules by operation).</summary>
    public bool AppliesTo(PolicyOperation operation) => Operations is null || Operations.Contains(operation);

    /// <summary>
    /// Whether every criterion but the operation matches. The subject's criteria are checked before the path:
    /// they are cheaper, and in most policies they are what rules out a rule.
    /// </summary>
    internal bool Matches(PolicySubject subject, scoped in PathSegments path, bool isDirectory)
    {
        if (_roles is not null && (subject.Role is null || !AnyMatches(_roles, subject.Role))) return false;
        if (_agents is not null && !AnyMatches(_agents, subject.Agent)) return false;
        // The path before the command line: the command line may have to be read from /proc first.
        if (!MatchesPath(path, isDirectory)) return false;
        return _commands is null || subject.Command() is { } line && AnyMatches(_commands, line);
    }

    /// <summary>Whether the rule's outcome depends on who asks (it names roles, agents or commands).</summary>
    internal bool DependsOnSubject => _roles is not null || _agents is not null || _commands is not null;

    /// <summary>Whether the path criterion alone matches (whoever asks).</summary>
    internal bool MatchesPath(scoped in PathSegments path, bool isDirectory)
    {
        if (_paths is null) return true;
        foreach (var glob in _paths)
            if (glob.Covers(path, isDirectory)) return true;
        return false;
    }

    private static bool AnyMatches(Wildcard[] globs, string text)
    {
        foreach (var glob in globs)
            if (glob.Matches(text)) return true;
        return false;
    }

    /// <summary>"rule 3 'secrets are hidden' (policy.yaml line 12): hide" — what <c>lighthouse policy check</c> prints.</summary>
    public string Describe()
    {
        string quotedName = _named ? $" '{Name}'" : "";
        return $"rule {Index}{quotedName} ({Path.GetFileName(SourceName)} line {Line}): {PolicyNames.Of(Effect)}";
    }

    /// <summary>The rule as a block of <c>lighthouse policy show</c>: every criterion, "any" or "all" where left out.</summary>
    internal void Render(StringBuilder text)
    {
        text.Append("rule ").Append(Index);
        if (_named) text.Append(" '").Append(Name).Append('\'');
        text.Append(" (line ").Append(Line).Append(")\n");
        Row(text, "paths", Paths, "every path");
        Row(text, "ops", Operations?.Select(PolicyNames.Of).ToList(), "all", quoted: false);
        Row(text, "roles", Roles, "any");
        Row(text, "agents", Agents, "any");
        Row(text, "commands", Commands, "any");
        text.Append("  effect:   ").Append(PolicyNames.Of(Effect));
        if (Effect == PolicyEffect.ReadOnly) text.Append(" (reads and listings allowed, changes refused)");
        text.Append('\n');
    }

    private static void Row(StringBuilder text, string key, IReadOnlyList<string>? values, string whenAbsent, bool quoted = true)
    {
        text.Append("  ").Append(key).Append(':').Append(' ', 9 - key.Length);
        text.Append(values is null ? whenAbsent : string.Join(", ", quoted ? values.Select(v => $"\"{v}\"") : values));
        text.Append('\n');
    }

    public override string ToString() => Describe();
}
