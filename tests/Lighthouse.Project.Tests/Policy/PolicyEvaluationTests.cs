using Lighthouse.Project.Policy;

namespace Lighthouse.Project.Tests.Policy;

/// <summary>How a parsed policy decides: ordering, effects and their errno, audit mode, and each criterion.</summary>
public class PolicyEvaluationTests
{
    private static readonly PolicySubject Builder = new("builder-1", "builder", "make all");
    private static readonly PolicyOperation[] Mutations =
        [PolicyOperation.Write, PolicyOperation.Create, PolicyOperation.Delete, PolicyOperation.Rename, PolicyOperation.Meta];

    private static AccessPolicy Policy(string yaml) => AccessPolicy.Parse(yaml, "policy.yaml");

    [Fact]
    public void The_first_matching_rule_wins()
    {
        var policy = Policy("""
            rules:
              - name: the public key is readable
                path: keys/public.pem
                effect: allow
              - name: other keys are denied
                paths: ["keys/"]
                effect: deny
              - path: keys/public.pem
                effect: hide
            """);

        var pub = policy.Decide(Builder, PolicyOperation.Read, "keys/public.pem", isDirectory: false);
        Assert.True(pub.Allowed);
        Assert.Equal(1, pub.Rule!.Index);
        var other = policy.Decide(Builder, PolicyOperation.Read, "keys/private.pem", isDirectory: false);
        Assert.False(other.Allowed);
        Assert.Equal(PolicyErrno.EACCES, other.Errno);
        Assert.Equal("other keys are denied", other.Rule!.Name);
    }

    [Fact]
    public void Order_decides_when_two_rules_match_the_same_path()
    {
        var denyFirst = Policy("rules:\n  - {path: a.txt, effect: deny}\n  - {path: a.txt, effect: allow}\n");
        var allowFirst = Policy("rules:\n  - {path: a.txt, effect: allow}\n  - {path: a.txt, effect: deny}\n");

        Assert.False(denyFirst.Decide(Builder, PolicyOperation.Read, "a.txt", false).Allowed);
        Assert.True(allowFirst.Decide(Builder, PolicyOperation.Read, "a.txt", false).Allowed);
    }

    [Theory]
    [InlineData("allow", PolicyEffect.Allow)]
    [InlineData("deny", PolicyEffect.Deny)]
    [InlineData("hide", PolicyEffect.Hide)]
    [InlineData("read-only", PolicyEffect.ReadOnly)]
    public void Every_effect_gives_its_errno_for_every_operation(string word, PolicyEffect effect)
    {
        var policy = Policy($"rules:\n  - paths: [\"x/\"]\n    effect: {word}\n");
        foreach (var op in PolicyOperations.All)
        {
            var decision = policy.Decide(Builder, op, "x/file", isDirectory: false);
            int expected = effect switch
            {
                PolicyEffect.Allow => 0,
                PolicyEffect.Deny => 13,
                PolicyEffect.Hide => 2,
                _ => op.IsMutation() ? 30 : 0,
            };
            Assert.Equal(effect, decision.Effect);
            Assert.Equal(expected, decision.Errno);
            Assert.Equal(expected == 0, decision.Allowed);
            Assert.Equal(expected != 0, decision.WouldDeny);
            Assert.Equal(1, decision.Rule!.Index);
        }
    }

    [Fact]
    public void A_read_only_rule_first_allows_reads_and_listings_and_refuses_each_mutation_with_EROFS()
    {
        var policy = Policy("""
            rules:
              - name: vendored code is read-only
                paths: ["vendor/"]
                effect: read-only
              - paths: ["vendor/"]
                effect: deny
            """);

        Assert.True(policy.Decide(Builder, PolicyOperation.Read, "vendor/lib.c", false).Allowed);
        var listing = policy.Decide(Builder, PolicyOperation.List, "vendor", true);
        Assert.True(listing.Allowed);
        Assert.Equal(PolicyEffect.ReadOnly, listing.Effect);
        Assert.Equal("vendored code is read-only", listing.Rule!.Name);
        foreach (var op in Mutations)
        {
            var decision = policy.Decide(Builder, op, "vendor/lib.c", false);
            Assert.False(decision.Allowed);
            Assert.Equal(PolicyErrno.EROFS, decision.Errno);
            Assert.Equal(1, decision.Rule!.Index);
        }
    }

    [Fact]
    public void A_rule_with_ops_applies_only_to_those_operations()
    {
        var policy = Policy("rules:\n  - {paths: [\"*.lock\"], ops: [delete, rename], effect: deny}\n");

        Assert.False(policy.Decide(Builder, PolicyOperation.Delete, "Cargo.lock", false).Allowed);
        Assert.False(policy.Decide(Builder, PolicyOperation.Rename, "Cargo.lock", false).Allowed);
        Assert.True(policy.Decide(Builder, PolicyOperation.Write, "Cargo.lock", false).Allowed);
        Assert.Null(policy.Decide(Builder, PolicyOperation.Write, "Cargo.lock", false).Rule);
    }

    [Fact]
    public void The_default_applies_when_no_rule_matches_and_names_no_rule()
    {
        var policy = Policy("default: deny\nrules:\n  - {paths: [\"src/\"], effect: allow}\n");

        var outside = policy.Decide(Builder, PolicyOperation.Read, "notes.txt", false);
        Assert.False(outside.Allowed);
        Assert.Equal(PolicyErrno.EACCES, outside.Errno);
        Assert.Null(outside.Rule);
        Assert.Equal("no rule matched: default deny", outside.Explain());
        Assert.True(policy.Decide(Builder, PolicyOperation.Write, "src/a.c", false).Allowed);
    }

    [Fact]
    public void Audit_mode_allows_everything_but_reports_what_it_would_deny()
    {
        var policy = Policy("mode: audit\nrules:\n  - {name: no secrets, paths: [\"secrets/\"], effect: hide}\n");

        var decision = policy.Decide(Builder, PolicyOperation.Read, "secrets/key", false);
        Assert.True(decision.Allowed);
        Assert.True(decision.WouldDeny);
        Assert.Equal(0, decision.Errno);
        Assert.Equal(PolicyEffect.Hide, decision.Effect);
        Assert.Equal("no secrets", decision.Rule!.Name);
        Assert.Contains("audit", decision.Explain());
        Assert.False(policy.IsHidden(Builder, "secrets/key", false));
        var ordinary = policy.Decide(Builder, PolicyOperation.Read, "src/a.c", false);
        Assert.False(ordinary.WouldDeny);
    }

    [Fact]
    public void Hidden_entries_are_left_out_of_listings_in_enforce_mode()
    {
        var policy = Policy("rules:\n  - {paths: [\"secrets/\", \"*.pem\"], effect: hide}\n  - {paths: [\"private/\"], effect: deny}\n");

        Assert.True(policy.IsHidden(Builder, "secrets", isDirectory: true));
        Assert.True(policy.IsHidden(Builder, "certs/server.pem", isDirectory: false));
        Assert.False(policy.IsHidden(Builder, "private", isDirectory: true));
        Assert.False(policy.IsHidden(Builder, "src", isDirectory: true));
        Assert.Equal(PolicyErrno.ENOENT, policy.Decide(Builder, PolicyOperation.Read, "secrets/a", false).Errno);
    }

    [Fact]
    public void Roles_and_agents_are_matched_by_glob_and_a_missing_role_matches_no_roles_rule()
    {
        var policy = Policy("""
            rules:
              - {roles: ["review*"], paths: ["src/"], ops: [write], effect: deny}
              - {agents: ["expert-*"], paths: ["docs/"], effect: read-only}
            """);

        var reviewer = new PolicySubject("anna", "reviewer", null);
        var roleless = new PolicySubject("anna", null, null);
        var expert = new PolicySubject("expert-fuse", "builder", null);
        Assert.False(policy.Decide(reviewer, PolicyOperation.Write, "src/a.c", false).Allowed);
        Assert.True(policy.Decide(roleless, PolicyOperation.Write, "src/a.c", false).Allowed);
        Assert.True(policy.Decide(Builder, PolicyOperation.Write, "src/a.c", false).Allowed);
        Assert.Equal(PolicyErrno.EROFS, policy.Decide(expert, PolicyOperation.Write, "docs/x.md", false).Errno);
        Assert.True(policy.Decide(Builder, PolicyOperation.Write, "docs/x.md", false).Allowed);
    }

    [Fact]
    public void A_rule_with_commands_never_matches_a_caller_whose_command_line_is_unknown()
    {
        var policy = Policy("rules:\n  - {commands: [\"*\"], effect: deny}\n");

        Assert.False(policy.Decide(new PolicySubject("a", null, "ls -l"), PolicyOperation.Read, "x", false).Allowed);
        Assert.True(policy.Decide(new PolicySubject("a", null, null), PolicyOperation.Read, "x", false).Allowed);
    }

    [Fact]
    public void Git_reset_hard_is_denied_to_builders_but_allowed_to_owners()
    {
        var policy = Policy("""
            rules:
              - name: builders may not throw work away
                roles: [builder]
                commands: ["git reset --hard*", "git clean *"]
                effect: deny
            """);
        var builderReset = new PolicySubject("builder-1", "builder", "git reset --hard HEAD~3");
        var ownerReset = new PolicySubject("alice", "owner", "git reset --hard HEAD~3");
        var builderStatus = new PolicySubject("builder-1", "builder", "git status");

        var denied = policy.Decide(builderReset, PolicyOperation.Write, "src/main.c", false);
        Assert.False(denied.Allowed);
        Assert.Equal(PolicyErrno.EACCES, denied.Errno);
        Assert.Equal("rule 1 'builders may not throw work away' (policy.yaml line 2): deny", denied.Explain());
        Assert.True(policy.Decide(ownerReset, PolicyOperation.Write, "src/main.c", false).Allowed);
        Assert.True(policy.Decide(builderStatus, PolicyOperation.Write, "src/main.c", false).Allowed);
        Assert.False(policy.Decide(new("b", "builder", "git clean -fdx"), PolicyOperation.Delete, "build/x.o", false).Allowed);
    }

    [Fact]
    public void A_rule_without_paths_covers_the_project_root_and_one_with_paths_does_not()
    {
        var policy = Policy("rules:\n  - {paths: [\"**\"], ops: [list], effect: deny}\n  - {ops: [meta], effect: read-only}\n");

        Assert.True(policy.Decide(Builder, PolicyOperation.List, "", true).Allowed);
        Assert.False(policy.Decide(Builder, PolicyOperation.List, "src", true).Allowed);
        Assert.Equal(PolicyErrno.EROFS, policy.Decide(Builder, PolicyOperation.Meta, "", true).Errno);
    }

    [Fact]
    public void A_directory_only_pattern_applies_to_files_inside_but_not_to_a_file_of_that_name()
    {
        var policy = Policy("rules:\n  - {paths: [\"build/\"], effect: hide}\n");

        Assert.Equal(PolicyErrno.ENOENT, policy.Decide(Builder, PolicyOperation.Read, "build/out.o", false).Errno);
        Assert.Equal(PolicyErrno.ENOENT, policy.Decide(Builder, PolicyOperation.List, "build", true).Errno);
        Assert.True(policy.Decide(Builder, PolicyOperation.Read, "build", false).Allowed);
    }

    [Fact]
    public void Rules_describe_themselves_with_number_name_file_line_and_effect()
    {
        var policy = Policy("""
            mode: enforce
            rules:
              - {path: a, effect: allow}
              - name: secrets are hidden
                paths: ["secrets/"]
                effect: hide
            """);

        Assert.Equal("rule 1 (policy.yaml line 3): allow", policy.Rules[0].Describe());
        Assert.Equal("rule 1 (line 3)", policy.Rules[0].Name);
        Assert.Equal("rule 2 'secrets are hidden' (policy.yaml line 4): hide", policy.Rules[1].Describe());
        Assert.Equal(2, policy.Rules[1].Index);
        Assert.Equal(4, policy.Rules[1].Line);
    }

    [Fact]
    public void Describe_renders_mode_default_and_each_rule_with_its_criteria()
    {
        var policy = Policy("""
            mode: audit
            default: read-only
            rules:
              - name: secrets
                paths: ["secrets/", "*.pem"]
                ops: [read, list]
                roles: [builder]
                effect: hide
            """);

        string text = policy.Describe();
        Assert.Contains("mode: audit", text);
        Assert.Contains("default: read-only", text);
        Assert.Contains("rule 1 'secrets' (line 4)", text);
        Assert.Contains("paths:    \"secrets/\", \"*.pem\"", text);
        Assert.Contains("ops:      read, list", text);
        Assert.Contains("roles:    \"builder\"", text);
        Assert.Contains("agents:   any", text);
        Assert.Contains("effect:   hide", text);
    }
}
