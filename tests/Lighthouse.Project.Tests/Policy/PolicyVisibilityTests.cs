using Lighthouse.Project.Policy;

namespace Lighthouse.Project.Tests.Policy;

/// <summary>Which names the kernel may cache for every caller: those whose visibility no caller changes.</summary>
public sealed class PolicyVisibilityTests
{
    private static readonly AccessPolicy Policy = AccessPolicy.Parse("""
        rules:
          - name: owners see vault
            paths: ["vault/"]
            roles: [owner]
            effect: allow
          - name: vault hidden
            paths: ["vault/"]
            effect: hide
          - name: keys hidden from all
            paths: ["*.key"]
            effect: hide
          - name: experts do not see drafts
            paths: ["drafts/"]
            agents: ["expert-*"]
            effect: hide
          - name: reviewers do not write src
            paths: ["src/"]
            ops: [write]
            roles: [reviewer]
            effect: deny
        """, "policy.yaml");

    [Theory]
    [InlineData("vault", true, true, false)]          // owners see it, others not
    [InlineData("vault/a.txt", false, true, false)]
    [InlineData("drafts", true, true, false)]         // a hide that names agents
    [InlineData("keys/server.key", false, false, true)] // hidden from everyone alike: cacheable (as absent)
    [InlineData("src/a.c", false, false, false)]      // a deny of writes does not hide
    [InlineData("docs/readme.md", false, false, false)]
    public void A_name_varies_only_when_who_asks_can_change_whether_it_is_hidden(string path, bool isDirectory, bool varies, bool hiddenFromAll)
    {
        Assert.Equal(varies, Policy.VisibilityVaries(path, isDirectory, out var hidden));
        Assert.Equal(hiddenFromAll, hidden);
        // What "hidden from all" claims, every subject's decision agrees with.
        if (!varies)
            foreach (var subject in new[] { new PolicySubject("a", "owner", null), new PolicySubject("expert-1", "reviewer", null), new PolicySubject("b", null, null) })
                Assert.Equal(hiddenFromAll, Policy.IsHidden(subject, path, isDirectory));
    }

    [Fact]
    public void In_audit_mode_nothing_is_hidden_so_everything_is_cacheable()
    {
        var audit = AccessPolicy.Parse("mode: audit\nrules:\n  - paths: [\"vault/\"]\n    roles: [owner]\n    effect: hide\n", "policy.yaml");
        Assert.False(audit.VisibilityVaries("vault", true, out var hidden));
        Assert.False(hidden);
        Assert.False(audit.CanHide);
    }
}
