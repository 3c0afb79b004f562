using System.Runtime.CompilerServices;
using System.Text;

namespace Lighthouse.Project.Policy;

/// <summary>
/// A loaded policy.yaml: rules evaluated top-down, first match wins, the default when none matches. Immutable, so a
/// reload swaps the whole object and a request in flight keeps the policy it started with. <see cref="Decide"/> runs on
/// every FUSE request: it allocates nothing, and looks only at the rules that name the request's operation.
/// </summary>
public sealed class AccessPolicy
{
    /// <summary>The rules that cover each operation, in file order, indexed by <see cref="PolicyOperation"/>.</summary>
    private readonly PolicyRule[][] _rulesByOperation;

    /// <summary>No rules, default allow: what a project without policy.yaml (or with an empty one) gets.</summary>
    public static AccessPolicy AllowAll { get; } = new("(no policy)", PolicyMode.Enforce, PolicyEffect.Allow, []);

    /// <summary>The file the policy came from, as given to <see cref="Parse"/>.</summary>
    public string SourceName { get; }

    public PolicyMode Mode { get; }

    /// <summary>The effect when no rule matches.</summary>
    public PolicyEffect DefaultEffect { get; }

    public IReadOnlyList<PolicyRule> Rules { get; }

    internal AccessPolicy(string sourceName, PolicyMode mode, PolicyEffect defaultEffect, IReadOnlyList<PolicyRule> rules)
    {
        SourceName = sourceName;
        Mode = mode;
        DefaultEffect = defaultEffect;
        Rules = rules;
        _rulesByOperation = PolicyOperations.All.Select(op => rules.Where(r => r.AppliesTo(op)).ToArray()).ToArray();
        UsesCommands = rules.Any(r => r.Commands is not null);
        IsPermissive = mode == PolicyMode.Audit ? rules.Count == 0 && defaultEffect == PolicyEffect.Allow
            : defaultEffect == PolicyEffect.Allow && rules.All(r => r.Effect == PolicyEffect.Allow);
        _hides = defaultEffect == PolicyEffect.Hide || rules.Any(r => r.Effect == PolicyEffect.Hide);
    }

    private readonly bool _hides;

    /// <summary>Reads a policy from its YAML text. <paramref name="sourceName"/> names the file in errors and explanations.</summary>
    /// <exception cref="PolicyFormatException">The first thing wrong with the file, with its line and column.</exception>
    public static AccessPolicy Parse(string yaml, string sourceName) => PolicyParser.Parse(yaml, sourceName);

    /// <summary>
    /// What the policy does with <paramref name="operation"/> on <paramref name="path"/> by <paramref name="subject"/>.
    /// </summary>
    /// <param name="path">Project-relative, <c>/</c>-separated, no leading slash (<c>src/a.c</c>); the root is empty.</param>
    /// <param name="isDirectory">Whether the path is a directory (patterns ending in <c>/</c> match only directories).</param>
    [SkipLocalsInit]
    public PolicyDecision Decide(PolicySubject subject, PolicyOperation operation, ReadOnlySpan<char> path, bool isDirectory)
    {
        var rules = _rulesByOperation[(int)operation];
        if (rules.Length == 0) return Outcome(DefaultEffect, operation, null);
        int count = PathSegments.CountOf(path);
        Span<int> starts = count < PathSegments.StackDepth ? stackalloc int[PathSegments.StackDepth] : new int[count + 1];
        var segments = new PathSegments(path, starts);
        foreach (var rule in rules)
            if (rule.Matches(subject, segments, isDirectory))
                return Outcome(rule.Effect, operation, rule);
        return Outcome(DefaultEffect, operation, null);
    }

    /// <summary>Whether any rule looks at the caller's command line (reading it costs a /proc read).</summary>
    public bool UsesCommands { get; }

    /// <summary>Whether the policy can refuse anything at all (a server may skip every check when it cannot).</summary>
    public bool IsPermissive { get; }

    /// <summary>Whether anything can be hidden (else no lookup or listing needs a decision).</summary>
    public bool CanHide => _hides && Mode == PolicyMode.Enforce;

    /// <summary>
    /// Whether <paramref name="path"/> may be visible to some callers and hidden from others: a hide rule (or a hide
    /// default) could decide it, and who asks can change which rule decides. The kernel shares its cache of names and
    /// attributes between all callers, so such a path must not be cached: each caller's lookup has to reach the policy.
    /// Conservative: true whenever a subject-dependent rule that covers the path comes before the hide that covers it.
    /// </summary>
    public bool VisibilityVaries(ReadOnlySpan<char> path, bool isDirectory) => VisibilityVaries(path, isDirectory, out _);

    /// <summary>The same, and when it does not vary, whether the path is hidden from everyone
    /// (<paramref name="hiddenFromAll"/>): most lookups then need no decision of their own.</summary>
    [SkipLocalsInit]
    public bool VisibilityVaries(ReadOnlySpan<char> path, bool isDirectory, out bool hiddenFromAll)
    {
        hiddenFromAll = false;
        if (!CanHide) return false;
        int count = PathSegments.CountOf(path);
        Span<int> starts = count < PathSegments.StackDepth ? stackalloc int[PathSegments.StackDepth] : new int[count + 1];
        var segments = new PathSegments(path, starts);
        bool subjectRuleBefore = false;
        // Visibility is decided by the rules for listing (directories) or reading (files).
        foreach (var rule in _rulesByOperation[(int)(isDirectory ? PolicyOperation.List : PolicyOperation.Read)])
        {
            if (!rule.MatchesPath(segments, isDirectory)) continue;
            if (rule.Effect == PolicyEffect.Hide && (subjectRuleBefore || rule.DependsOnSubject)) return true;
            if (!rule.DependsOnSubject)
            {
                hiddenFromAll = rule.Effect == PolicyEffect.Hide && !subjectRuleBefore;
                return false; // decides for everyone from here on
            }
            subjectRuleBefore = true;
        }
        if (DefaultEffect == PolicyEffect.Hide && subjectRuleBefore) return true;
        hiddenFromAll = DefaultEffect == PolicyEffect.Hide;
        return false;
    }

    /// <summary>
    /// Whether a directory listing must leave the entry out: the decision for listing it (a directory) or reading it
    /// (a file) is to hide it, in enforce mode. In audit mode nothing is hidden.
    /// </summary>
    public bool IsHidden(PolicySubject subject, ReadOnlySpan<char> path, bool isDirectory)
    {
        var decision = Decide(subject, isDirectory ? PolicyOperation.List : PolicyOperation.Read, path, isDirectory);
        return decision.Effect == PolicyEffect.Hide && !decision.Allowed;
    }

    private PolicyDecision Outcome(PolicyEffect effect, PolicyOperation operation, PolicyRule? rule)
    {
        int errno = PolicyErrno.For(effect, operation);
        bool refused = errno != 0;
        bool enforced = refused && Mode == PolicyMode.Enforce;
        return new PolicyDecision(effect, Allowed: !enforced, WouldDeny: refused, Errno: enforced ? errno : 0, rule);
    }

    /// <summary>The policy in a normalized form for <c>lighthouse policy show</c>: mode, default, then one block per rule.</summary>
    public string Describe()
    {
        var text = new StringBuilder();
        text.Append("policy: ").Append(SourceName).Append('\n');
        text.Append("mode: ").Append(PolicyNames.Of(Mode));
        if (Mode == PolicyMode.Audit) text.Append(" (denials are reported, not enforced)");
        text.Append('\n');
        text.Append("default: ").Append(PolicyNames.Of(DefaultEffect)).Append(" (when no rule matches)\n");
        text.Append("rules: ").Append(Rules.Count).Append(" (first match wins)\n");
        foreach (var rule in Rules)
        {
            text.Append('\n');
            rule.Render(text);
        }
        return text.ToString();
    }

    public override string ToString() => Describe();
}
