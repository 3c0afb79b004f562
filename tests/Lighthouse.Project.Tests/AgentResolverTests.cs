using Lighthouse.Project.Agents;

namespace Lighthouse.Project.Tests;

/// <summary>The fallback identity: user and command of the calling process, never inherited by a recycled pid.</summary>
public sealed class AgentResolverTests : IDisposable
{
    private readonly string _proc = Path.Combine(Path.GetTempPath(), "lh-fake-proc-" + Guid.NewGuid().ToString("N")[..8]);
    public void Dispose() { try { Directory.Delete(_proc, true); } catch (IOException) { } }

    private void FakeProcess(uint pid, string comm, ulong startTime, uint? tgid = null)
    {
        Directory.CreateDirectory(Path.Combine(_proc, pid.ToString()));
        File.WriteAllText(Path.Combine(_proc, pid.ToString(), "status"), $"Name:\t{comm}\nTgid:\t{tgid ?? pid}\n");
        // Fields after "(comm)": state, ppid, ... starttime is the 22nd field of the line.
        var fields = string.Join(' ', Enumerable.Range(4, 18).Select(i => i.ToString()));
        File.WriteAllText(Path.Combine(_proc, pid.ToString(), "stat"), $"{pid} ({comm}) S {fields} {startTime} 0 0\n");
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
