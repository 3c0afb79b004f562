using Lighthouse.Project.Agents;

namespace Lighthouse.Project.Tests;

/// <summary>The fallback identity: user and command of the calling process, never inherited by a recycled pid.</summary>
public sealed class AgentResolverTests : IDisposable
{
    private readonly string _proc = Path.Combine(Path.GetTempPath(), "lh-fake-proc-" + Guid.NewGuid().ToString("N")[..8]);
    public void Dispose() { try { Directory.Delete(_proc, true); } catch (IOException) { } }

    private void FakeProcess(uint pid, string comm, ulong startTime, uint? tgid = null, uint parent = 1, string? environ = null)
    {
        Directory.CreateDirectory(Path.Combine(_proc, pid.ToString()));
        File.WriteAllText(Path.Combine(_proc, pid.ToString(), "status"), $"Name:\t{comm}\nTgid:\t{tgid ?? pid}\n");
        // Fields after "(comm)": state, ppid (4th of the line), ... starttime is the 22nd field of the line.
        var fields = string.Join(' ', Enumerable.Range(5, 17).Select(i => i.ToString()));
        File.WriteAllText(Path.Combine(_proc, pid.ToString(), "stat"), $"{pid} ({comm}) S {parent} {fields} {startTime} 0 0\n");
        File.WriteAllText(Path.Combine(_proc, pid.ToString(), "environ"), environ ?? "PATH=/bin\0");
    }

    [Fact]
    public void A_registered_process_and_its_descendants_are_the_agent_and_a_recycled_pid_is_not()
    {
        var resolver = new ProcessAgentResolver(_proc);
        FakeProcess(100, "lighthouse", 50, parent: 1);
        FakeProcess(101, "bash", 51, parent: 100);
        FakeProcess(102, "git", 52, parent: 101);
        FakeProcess(103, "vim", 53, parent: 1);
        Assert.True(resolver.Register(100, "builder", "builder"));
        Assert.Equal(new Agent("builder", AgentSource.Ancestor, "builder"), resolver.Resolve(new Caller(102, 0, 0)));
        Assert.Equal(new Agent("builder", AgentSource.Ancestor, "builder"), resolver.Resolve(new Caller(100, 0, 0)));
        Assert.Equal(AgentSource.Fallback, resolver.Resolve(new Caller(103, 0, 0)).Source);
        Assert.Single(resolver.Runs);

        // The run ends and its pid is reused by a process that was never registered, with a child of its own.
        FakeProcess(100, "intruder", 90, parent: 1);
        FakeProcess(104, "sh", 91, parent: 100);
        Assert.Equal("root/sh", resolver.Resolve(new Caller(104, 0, 0)).Name);
        Thread.Sleep(1100); // past the once-a-second re-check of a cached pid
        Assert.Equal("root/intruder", resolver.Resolve(new Caller(100, 0, 0)).Name);
        Assert.Empty(resolver.Runs);
        Assert.False(resolver.Register(999_999, "builder", null)); // a process that does not exist
    }

    [Fact]
    public void Ancestry_comes_first_then_a_token_then_a_mapped_uid_then_the_fallback()
    {
        var project = Directory.CreateDirectory(Path.Combine(_proc, "project")).FullName;
        var registry = new AgentRegistry(project);
        registry.Add("builder", "builder");
        registry.Add("reviewer", "reviewer");
        registry.MapUid(1001, "reviewer");
        var (_, token) = registry.IssueToken("reviewer", TimeSpan.FromHours(1));
        var refusals = new List<string>();
        var resolver = new ProcessAgentResolver(_proc, registry) { Refusals = refusals.Add };
        FakeProcess(200, "claude", 10, parent: 1, environ: $"HOME=/root\0LIGHTHOUSE_TOKEN={token}\0");
        FakeProcess(201, "sh", 11, parent: 200, environ: $"LIGHTHOUSE_TOKEN={token}\0");
        FakeProcess(202, "cat", 12, parent: 1);
        FakeProcess(203, "tool", 13, parent: 1, environ: $"LIGHTHOUSE_TOKEN={token[..^2]}xx\0");

        Assert.Equal(new Agent("reviewer", AgentSource.Token, "reviewer"), resolver.Resolve(new Caller(201, 0, 0)));
        Assert.Equal(new Agent("reviewer", AgentSource.Uid, "reviewer"), resolver.Resolve(new Caller(202, 1001, 1001)));
        Assert.Equal("uid1002/cat", resolver.Resolve(new Caller(202, 1002, 1002)).Name);
        // A forged token is refused, said once, and the next rule applies (here the uid mapping).
        Assert.Equal(new Agent("reviewer", AgentSource.Uid, "reviewer"), resolver.Resolve(new Caller(203, 1001, 1001)));
        Assert.Equal(AgentSource.Fallback, resolver.Resolve(new Caller(203, 0, 0)).Source);
        Assert.Single(refusals);
        Assert.Contains("bad signature", refusals[0]);
        // A registered ancestor beats the token its descendants carry.
        Assert.True(resolver.Register(200, "builder", "builder"));
        Assert.Equal(new Agent("builder", AgentSource.Ancestor, "builder"), resolver.Resolve(new Caller(201, 0, 0)));
    }

    [Fact]
    public void A_caller_is_named_by_user_and_command()
    {
        FakeProcess(4242, "git", 1000);
        var agent = new ProcessAgentResolver(_proc).Resolve(new Caller(4242, 0, 0));
        Assert.Equal("root/git", agent.Name);
        Assert.Equal(AgentSource.Fallback, agent.Source);
    }

    [Fact]
    public void A_thread_is_named_after_its_process()
    {
        FakeProcess(500, "node", 7);
        FakeProcess(501, "worker-thread", 7, tgid: 500);
        Assert.Equal("root/node", new ProcessAgentResolver(_proc).Resolve(new Caller(501, 0, 0)).Name);
    }

    [Fact]
    public void The_kernel_s_own_requests_are_the_kernel()
    {
        Assert.Same(Agent.Kernel, new ProcessAgentResolver(_proc).Resolve(new Caller(0, 0, 0)));
    }

    [Fact]
    public void A_recycled_pid_does_not_inherit_the_name()
    {
        var resolver = new ProcessAgentResolver(_proc);
        FakeProcess(77, "builder", 100);
        Assert.Equal("root/builder", resolver.Resolve(new Caller(77, 0, 0)).Name);
        FakeProcess(77, "intruder", 200); // a new process with the same pid
        Thread.Sleep(1100);               // past the once-a-second re-check
        Assert.Equal("root/intruder", resolver.Resolve(new Caller(77, 0, 0)).Name);
    }

    [Fact]
    public void Another_user_with_the_same_pid_is_not_served_from_the_cache()
    {
        var resolver = new ProcessAgentResolver(_proc);
        FakeProcess(88, "sh", 5);
        Assert.Equal("root/sh", resolver.Resolve(new Caller(88, 0, 0)).Name);
        Assert.Equal("nobody/sh", resolver.Resolve(new Caller(88, 65534, 65534)).Name);
    }

    [Fact]
    public void A_process_that_is_gone_is_unknown_not_a_guess()
    {
        Assert.Equal("root/unknown", new ProcessAgentResolver(_proc).Resolve(new Caller(999_999, 0, 0)).Name);
    }
}
