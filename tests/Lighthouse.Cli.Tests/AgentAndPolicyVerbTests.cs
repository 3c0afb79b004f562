using System.Text.Json;

namespace Lighthouse.Cli.Tests;

/// <summary>`lighthouse agent …` and `lighthouse policy …` as a user types them (no mount needed): what they print, what
/// they refuse, and their exit codes.</summary>
public sealed class AgentAndPolicyVerbTests
{
    [Fact]
    public void Agents_are_added_listed_mapped_and_removed_and_bad_input_is_refused_clearly()
    {
        using var p = new TempProject();
        Assert.Equal(0, p.Cli("agent", "add", "builder", "--role", "builder").Code);
        Assert.Equal(0, p.Cli("agent", "add", "reviewer", "--role", "reviewer").Code);
        var token = p.Cli("agent", "token", "builder", "--expires", "2h");
        Assert.True(token.Code == 0, token.ToString());
        Assert.StartsWith("lh1.builder.", token.Out.Trim());
        Assert.Contains("valid until", token.Err);
        Assert.Equal(0, p.Cli("agent", "map-uid", "0", "reviewer").Code);

        var list = p.Cli("agent", "list");
        Assert.Matches(@"builder\s+builder\s+1\s+-", list.Out);
        Assert.Matches(@"reviewer\s+reviewer\s+0\s+0", list.Out);
        var json = JsonDocument.Parse(p.Cli("agent", "list", "--json").Out).RootElement;
        Assert.Equal(2, json.GetArrayLength());
        Assert.DoesNotContain(token.Out.Trim(), p.Cli("agent", "list", "--json").Out); // token ids only, never the token

        var taken = p.Cli("agent", "add", "builder");
        Assert.NotEqual(0, taken.Code);
        Assert.Contains("already an agent named 'builder'", taken.Err);
        var bad = p.Cli("agent", "add", "../x");
        Assert.NotEqual(0, bad.Code);
        Assert.Contains("not a valid agent name", bad.Err);
        var reserved = p.Cli("agent", "add", "external");
        Assert.Contains("reserved", reserved.Err);
        Assert.Contains("not a duration", p.Cli("agent", "token", "builder", "--expires", "soon").Err);
        Assert.Contains("neither a uid nor a user", p.Cli("agent", "map-uid", "no-such-user-here", "builder").Err);

        Assert.Equal(0, p.Cli("agent", "remove", "reviewer").Code);
        Assert.Contains("uid 0 was not mapped", p.Cli("agent", "unmap-uid", "0").Out); // removing the agent unmapped it
        Assert.DoesNotContain("reviewer", p.Cli("agent", "list").Out);
        Assert.Contains("no reads noted", p.Cli("agent", "reads").Out);
    }

    [Fact]
    public void Policy_show_and_check_explain_the_rule_that_decides_and_an_invalid_file_is_named_with_its_line()
    {
        using var p = new TempProject();
        Assert.Contains("no policy", p.Cli("policy", "show").Out);
        Assert.Equal(0, p.Cli("policy", "check", "--agent", "x", "--op", "write", "src/a.txt").Code);
        p.Cli("agent", "add", "rev", "--role", "reviewer");
        File.WriteAllText(Path.Combine(p.Dir, ".lighthouse", "policy.yaml"), """
            rules:
              - name: reviewers only read sources
                paths: ["src/"]
                ops: [write, create, delete, rename, meta]
                roles: [reviewer]
                effect: deny
              - name: secrets hidden
                paths: ["*.pem"]
                effect: hide
            """);
        var show = p.Cli("policy", "show");
        Assert.Contains("rule 1 'reviewers only read sources'", show.Out);
        Assert.Contains("rule 2 'secrets hidden'", show.Out);

        var denied = p.Cli("policy", "check", "--agent", "rev", "--op", "write", "src/a.txt");
        Assert.Equal(1, denied.Code);
        Assert.Contains("refused: write src/a.txt by rev (role reviewer) -> EACCES", denied.Out);
        Assert.Contains("because: rule 1 'reviewers only read sources' (policy.yaml line 2): deny", denied.Out);
        var read = p.Cli("policy", "check", "--agent", "rev", "--op", "read", "src/a.txt");
        Assert.Equal(0, read.Code);
        Assert.Contains("no rule matched: default allow", read.Out);
        var hidden = p.Cli("policy", "check", "--agent", "someone", "--op", "read", "keys/server.pem");
        Assert.Contains("ENOENT (hidden)", hidden.Out);
        Assert.Contains("'someone' is not a registered agent", hidden.Err);
        Assert.Contains("is not one of read, list", p.Cli("policy", "check", "--agent", "rev", "--op", "erase", "src/a.txt").Err);

        File.WriteAllText(Path.Combine(p.Dir, ".lighthouse", "policy.yaml"), "rules:\n  - paths: [\"src/\"]\n    efect: deny\n");
        var invalid = p.Cli("policy", "show");
        Assert.NotEqual(0, invalid.Code);
        Assert.Contains("policy.yaml line 3", invalid.Err);
        Assert.Contains("efect", invalid.Err);
    }
}
