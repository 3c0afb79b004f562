using Lighthouse.Project.Agents;

namespace Lighthouse.Project.Tests;

/// <summary>The project's named agents and their tokens: what is accepted, what is refused and why, and that the
/// registry stays private to the project's owner.</summary>
public sealed class AgentRegistryTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("lh-agents-").FullName;
    public void Dispose() => Directory.Delete(_root, true);

    private string NewProject(string name) => Directory.CreateDirectory(Path.Combine(_root, name)).FullName;

    [Fact]
    public void A_token_names_its_agent_until_it_expires_or_is_revoked()
    {
        var registry = new AgentRegistry(NewProject("p"));
        registry.Add("builder", "builder");
        var (issued, text) = registry.IssueToken("builder", TimeSpan.FromHours(1));

        var (result, agent, token) = registry.Check(text);
        Assert.Equal(TokenCheck.Valid, result);
        Assert.Equal("builder", agent!.Name);
        Assert.Equal(issued.Id, token!.Id);
        Assert.Equal(TokenCheck.Expired, registry.Check(text, DateTime.UtcNow.AddHours(2)).Result);

        Assert.Equal(1, registry.Revoke(issued.Id));
        Assert.Equal(TokenCheck.Revoked, registry.Check(text).Result);
        Assert.Equal(0, registry.Revoke(text)); // the whole token names it too; already revoked
    }

    [Fact]
    public void Forged_altered_and_other_projects_tokens_are_refused()
    {
        var registry = new AgentRegistry(NewProject("p"));
        registry.Add("builder", "builder");
        registry.Add("owner", "owner");
        var (_, text) = registry.IssueToken("builder", TimeSpan.FromHours(1));
        var parts = text.Split('.');

        Assert.Equal(TokenCheck.Malformed, registry.Check("hello").Result);
        Assert.Equal(TokenCheck.Malformed, registry.Check(string.Join('.', parts[..4])).Result);
        // Another agent's name, a later expiry, another signature: each breaks the signature.
        Assert.Equal(TokenCheck.BadSignature, registry.Check(string.Join('.', parts[0], "owner", parts[2], parts[3], parts[4])).Result);
        Assert.Equal(TokenCheck.BadSignature, registry.Check(string.Join('.', parts[0], parts[1], parts[2], long.Parse(parts[3]) + 86400, parts[4])).Result);
        Assert.Equal(TokenCheck.BadSignature, registry.Check(text[..^3] + (text[^3] == 'A' ? "BBB" : "AAA")).Result);

        var other = new AgentRegistry(NewProject("q"));
        other.Add("builder", "builder");
        var (_, foreign) = other.IssueToken("builder", TimeSpan.FromHours(1));
        Assert.Equal(TokenCheck.BadSignature, registry.Check(foreign).Result);
    }

    [Fact]
    public void Removing_an_agent_revokes_its_tokens_and_unmaps_its_uids()
    {
        var registry = new AgentRegistry(NewProject("p"));
        registry.Add("builder", null);
        registry.MapUid(1001, "builder");
        var (_, text) = registry.IssueToken("builder", TimeSpan.FromDays(1));
        registry.Remove("builder");
        Assert.Equal(TokenCheck.Revoked, registry.Check(text).Result);
        Assert.Empty(registry.UidMap);
        Assert.Null(registry.Find("builder"));
    }

    [Fact]
    public void Names_are_checked_and_reserved_words_refused()
    {
        var registry = new AgentRegistry(NewProject("p"));
        foreach (var bad in new[] { "", "a/b", "a.b", "-x", "external", "repair", "self", new string('a', 65), "é" })
            Assert.Throws<AgentRegistryException>(() => registry.Add(bad, null));
        registry.Add("ok_name-1", "role-1");
        Assert.Throws<AgentRegistryException>(() => registry.Add("ok_name-1", null)); // taken
        Assert.Throws<AgentRegistryException>(() => registry.IssueToken("nobody-here", TimeSpan.FromHours(1)));
        Assert.Throws<AgentRegistryException>(() => registry.MapUid(5, "nobody-here"));
    }

    [Fact]
    public void The_registry_and_its_key_are_private_and_another_instance_sees_changes()
    {
        var project = NewProject("p");
        var a = new AgentRegistry(project);
        var b = new AgentRegistry(project);
        a.Add("builder", "builder");
        var (_, text) = a.IssueToken("builder", TimeSpan.FromHours(1));
        var state = Path.Combine(project, ".lighthouse");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(state, AgentRegistry.FileName)));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(state, AgentRegistry.KeyFileName)));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(state));

        Assert.True(b.Refresh());
        Assert.Equal(TokenCheck.Valid, b.Check(text).Result);
        Assert.False(b.Refresh()); // nothing changed since
    }

    [Fact]
    public void A_damaged_registry_file_is_an_error_that_names_it_and_the_previous_state_stays()
    {
        var project = NewProject("p");
        var registry = new AgentRegistry(project);
        registry.Add("builder", "builder");
        var file = Path.Combine(project, ".lighthouse", AgentRegistry.FileName);
        File.WriteAllText(file, "{ not json");
        var e = Assert.Throws<AgentRegistryException>(() => registry.Refresh());
        Assert.Contains(file, e.Message);
        Assert.NotNull(registry.Find("builder"));
        Assert.Throws<AgentRegistryException>(() => new AgentRegistry(project));
    }
}
