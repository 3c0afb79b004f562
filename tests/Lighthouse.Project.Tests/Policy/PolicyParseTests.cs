using Lighthouse.Project.Policy;

namespace Lighthouse.Project.Tests.Policy;

/// <summary>Loading policy.yaml: what is accepted, and that every mistake is refused with its file, line and column.</summary>
public class PolicyParseTests
{
    private static readonly PolicySubject Anyone = new("someone", null, null);

    private static PolicyFormatException Refused(string yaml)
    {
        var e = Assert.Throws<PolicyFormatException>(() => AccessPolicy.Parse(yaml, "policy.yaml"));
        Assert.StartsWith($"policy.yaml line {e.Line}, column {e.Column}: ", e.Message);
        return e;
    }

    [Theory]
    [InlineData("")]
    [InlineData("# only a comment\n")]
    [InlineData("rules: []\n")]
    [InlineData("rules:\n")]
    [InlineData("mode: enforce\n")]
    public void An_empty_policy_allows_everything(string yaml)
    {
        var policy = AccessPolicy.Parse(yaml, "policy.yaml");

        Assert.Empty(policy.Rules);
        Assert.Equal(PolicyEffect.Allow, policy.DefaultEffect);
        foreach (var op in PolicyOperations.All)
        {
            var decision = policy.Decide(Anyone, op, "any/path", false);
            Assert.True(decision.Allowed);
            Assert.Equal("no rule matched: default allow", decision.Explain());
        }
    }

    [Fact]
    public void AllowAll_allows_everything()
    {
        Assert.Empty(AccessPolicy.AllowAll.Rules);
        Assert.True(AccessPolicy.AllowAll.Decide(Anyone, PolicyOperation.Delete, "x", false).Allowed);
    }

    [Fact]
    public void The_documented_example_loads_with_every_criterion()
    {
        string readme = File.ReadAllText(Path.Combine(RepositoryRoot(), "src/Lighthouse.Project/Policy/README.md"));
        int start = readme.IndexOf("```yaml\n", StringComparison.Ordinal) + "```yaml\n".Length;
        string example = readme[start..readme.IndexOf("```", start, StringComparison.Ordinal)];

        var policy = AccessPolicy.Parse(example, "README.md");

        Assert.NotEmpty(policy.Rules);
        Assert.Contains(policy.Rules, r => r.Paths is not null && r.Operations is not null && r.Roles is not null);
        Assert.Contains(policy.Rules, r => r.Agents is not null);
        Assert.Contains(policy.Rules, r => r.Commands is not null);
    }

    [Fact]
    public void Path_accepts_a_single_pattern_and_ops_are_kept_in_file_order_without_repeats()
    {
        var policy = AccessPolicy.Parse("rules:\n  - path: a.txt\n    ops: [write, read, write]\n    effect: deny\n", "p");

        Assert.Equal(["a.txt"], policy.Rules[0].Paths!);
        Assert.Equal([PolicyOperation.Write, PolicyOperation.Read], policy.Rules[0].Operations!);
    }

    [Fact]
    public void An_unknown_key_is_an_error_with_a_suggestion()
    {
        var e = Refused("rules:\n  - path: secrets/\n    efect: deny\n");

        Assert.Equal(3, e.Line);
        Assert.Equal(5, e.Column);
        Assert.Contains("unknown key 'efect' in rule 1", e.Message);
        Assert.Contains("did you mean 'effect'?", e.Message);
    }

    [Fact]
    public void An_unknown_top_level_key_is_an_error()
    {
        var e = Refused("mode: enforce\nrule:\n  - {effect: deny}\n");

        Assert.Equal(2, e.Line);
        Assert.Contains("unknown key 'rule' at the top level (did you mean 'rules'?)", e.Message);
    }

    [Fact]
    public void A_misspelt_effect_is_an_error()
    {
        var e = Refused("rules:\n  - path: a\n    effect: denny\n");

        Assert.Equal(3, e.Line);
        Assert.Equal(13, e.Column);
        Assert.Contains("unknown effect 'denny'", e.Message);
        Assert.Contains("did you mean 'deny'?", e.Message);
    }

    [Fact]
    public void A_rule_without_an_effect_is_an_error()
    {
        var e = Refused("rules:\n  - path: a\n    effect: allow\n  - name: forgot\n    path: b\n");

        Assert.Equal(4, e.Line);
        Assert.Contains("rule 2 has no 'effect'", e.Message);
    }

    [Fact]
    public void An_unknown_operation_is_an_error_at_its_item()
    {
        var e = Refused("rules:\n  - ops: [read, wrte]\n    effect: deny\n");

        Assert.Equal(2, e.Line);
        Assert.Equal(17, e.Column);
        Assert.Contains("unknown operation 'wrte'", e.Message);
    }

    [Fact]
    public void A_pattern_with_dot_dot_is_an_error_at_its_item()
    {
        var e = Refused("rules:\n  - paths:\n      - src/\n      - ../outside\n    effect: deny\n");

        Assert.Equal(4, e.Line);
        Assert.Contains("'..'", e.Message);
    }

    [Fact]
    public void A_bad_glob_is_an_error()
    {
        var e = Refused("rules:\n  - path: \"file[0-9\"\n    effect: deny\n");

        Assert.Equal(2, e.Line);
        Assert.Contains("unclosed '['", e.Message);
    }

    [Theory]
    [InlineData("rules:\n  - paths: secrets/\n    effect: deny\n", 2, "a list of patterns")]
    [InlineData("rules:\n  - ops: {read: true}\n    effect: deny\n", 2, "not a mapping")]
    [InlineData("rules:\n  - path: [a, b]\n    effect: deny\n", 2, "single value, not a list")]
    [InlineData("rules:\n  - effect: [deny]\n", 2, "single value, not a list")]
    [InlineData("rules:\n  deny: everything\n", 2, "rules must be a list")]
    [InlineData("mode: enforce\nrules:\n  - just a string\n", 3, "rule 1 must be a mapping")]
    [InlineData("- a\n- b\n", 1, "the policy must be a mapping")]
    [InlineData("rules:\n  - roles: []\n    effect: deny\n", 2, "empty list")]
    public void A_value_of_the_wrong_type_is_an_error(string yaml, int line, string problem)
    {
        var e = Refused(yaml);

        Assert.Equal(line, e.Line);
        Assert.Contains(problem, e.Message);
    }

    [Fact]
    public void Path_and_paths_together_are_an_error()
    {
        var e = Refused("rules:\n  - path: a\n    paths: [b]\n    effect: deny\n");

        Assert.Equal(3, e.Line);
        Assert.Contains("both 'path' and 'paths'", e.Message);
    }

    [Fact]
    public void An_unknown_mode_or_default_is_an_error()
    {
        Assert.Contains("unknown mode 'warn'", Refused("mode: warn\n").Message);
        Assert.Contains("unknown default effect 'readonly'", Refused("default: readonly\n").Message);
    }

    [Fact]
    public void Malformed_yaml_is_an_error_with_its_position()
    {
        var unclosedList = Refused("rules:\n  - path: [a, b\n    effect: deny\n");
        var badIndent = Refused("rules:\n  - path: a\n   effect: deny\n");

        Assert.Equal(2, unclosedList.Line);
        Assert.Contains("not valid YAML", unclosedList.Message);
        Assert.Equal(3, badIndent.Line);
        Assert.Contains("not valid YAML", badIndent.Message);
    }

    [Fact]
    public void A_repeated_key_is_an_error()
    {
        var e = Refused("rules:\n  - effect: allow\n    effect: deny\n");

        Assert.Equal(3, e.Line);
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Lighthouse.slnx"))) return dir.FullName;
        throw new InvalidOperationException($"no Lighthouse.slnx above {AppContext.BaseDirectory}");
    }
}
