using Lighthouse.Project.Agents;
using Lighthouse.Project.Policy;
using Lighthouse.Store;

namespace Lighthouse.Project.Tests;

/// <summary>Issue 13 item 4 below the mount: refusals and would-be refusals become deny events of the agent, repeats are
/// counted rather than recorded again, policy changes (and invalid files) are policy events, and reads are noted per
/// agent and file as the version valid when read.</summary>
public sealed class AccessAuditTests : IDisposable
{
    private readonly TestProject _p = new();
    public void Dispose() => _p.Dispose();

    private static readonly Agent Builder = new("builder", AgentSource.Ancestor, "builder");

    private void WritePolicy(string yaml)
    {
        Directory.CreateDirectory(Path.Combine(_p.Dir, ".lighthouse"));
        var file = AccessControl.PathOf(_p.Dir);
        File.WriteAllText(file, yaml);
        File.SetLastWriteTimeUtc(file, DateTime.UtcNow.AddSeconds(Random.Shared.Next(1, 1000))); // seen as changed even within one tick
    }

    private List<StoreEvent> Audit(ProjectHost host, EventOp op)
    {
        host.Recorder.Flush();
        return [.. host.Store.Log(new LogQuery { Operations = [op], Limit = 1000 }).Events.OrderBy(e => e.Seq)];
    }

    private static void WaitFor(Func<bool> condition)
    {
        var until = DateTime.UtcNow.AddSeconds(10);
        while (!condition()) { if (DateTime.UtcNow > until) throw new TimeoutException(); Thread.Sleep(50); }
    }

    [Fact]
    public void Audit_mode_allows_and_records_what_it_would_refuse_and_repeats_are_counted_not_recorded_again()
    {
        WritePolicy("mode: audit\nrules:\n  - name: builders keep out of secrets\n    paths: [\"secrets/\"]\n    roles: [builder]\n    effect: deny\n");
        var host = _p.Open();
        var decision = host.Access.Decide(Builder, "cat secrets/k", PolicyOperation.Read, "secrets/k", false);
        Assert.True(decision.Allowed);
        Assert.True(decision.WouldDeny);
        Assert.Equal(0, decision.Errno);
        for (int i = 0; i < 5; i++) host.Access.Decide(Builder, "cat secrets/k", PolicyOperation.Read, "secrets/k", false);
        Assert.True(host.Access.Decide(Builder, null, PolicyOperation.Read, "src/a.c", false) is { WouldDeny: false });

        WaitFor(() => Audit(host, EventOp.Deny).Count == 1 && host.Access.Denials.Recorded == 1);
        var e = Audit(host, EventOp.Deny).Single();
        Assert.Equal(("builder", "secrets/k", AgentVia.Ancestor), (e.Agent, e.Path, e.AgentVia));
        Assert.Contains("\"mode\":\"audit\"", e.Detail);
        Assert.Contains("\"refused\":false", e.Detail);
        Assert.Contains("\"rule\":\"rule 1 'builders keep out of secrets'", e.Detail);
        Assert.Contains("\"command\":\"cat secrets/k\"", e.Detail);
        Assert.Equal(6, host.Access.Denials.Decided);
        Assert.True(host.Store.Verify().Ok);
    }

    [Fact]
    public void An_invalid_policy_keeps_the_previous_one_and_says_why_in_the_log_and_an_event()
    {
        WritePolicy("rules:\n  - paths: [\"secrets/\"]\n    effect: hide\n");
        var lines = new List<string>();
        var host = ProjectHost.Open(_p.Dir, new ProjectOptions { Stores = SqliteProjectStoreFactory.Instance, Store = TestProject.Fast, Log = line => { lock (lines) lines.Add(line); } });
        try
        {
            Assert.Equal(PolicyEffect.Hide, host.Access.Policy.Decide(new PolicySubject("x", null, null), PolicyOperation.Read, "secrets/k", false).Effect);
            WritePolicy("rules:\n  - paths: [\"secrets/\"]\n    efect: allow\n");
            Assert.Equal(PolicyReloadOutcome.Invalid, host.Access.Refresh().Outcome);
            Assert.Equal(PolicyEffect.Hide, host.Access.Policy.Decide(new PolicySubject("x", null, null), PolicyOperation.Read, "secrets/k", false).Effect);
            WaitFor(() => Audit(host, EventOp.Policy).Any(e => e.Detail!.Contains("\"outcome\":\"invalid\"")));
            var invalid = Audit(host, EventOp.Policy).Last();
            Assert.Contains("efect", invalid.Detail);
            Assert.Contains("line 3", invalid.Detail);
            lock (lines) Assert.Contains(lines, l => l.Contains("access policy not changed") && l.Contains("efect"));

            File.Delete(AccessControl.PathOf(_p.Dir));
            Assert.Equal(PolicyReloadOutcome.Removed, host.Access.Refresh().Outcome);
            Assert.True(host.Access.Policy.IsPermissive);
            WaitFor(() => Audit(host, EventOp.Policy).Any(e => e.Detail!.Contains("\"outcome\":\"removed\"")));
        }
        finally { host.Dispose(); }
    }

    [Fact]
    public void An_invalid_policy_at_start_refuses_to_serve_the_project()
    {
        WritePolicy("rules:\n  - effect: maybe\n");
        var e = Assert.Throws<PolicyFormatException>(() => _p.Open());
        Assert.Contains("maybe", e.Message);
    }

    [Fact]
    public void Changes_of_the_named_agents_are_agents_events_made_by_the_mount_or_by_another_process()
    {
        var host = _p.Open();
        var cli = new AgentRegistry(_p.Dir); // another process: the owner's CLI
        cli.Add("builder", "builder");
        var (token, _) = cli.IssueToken("builder", TimeSpan.FromHours(1), "lighthouse agent token");
        cli.MapUid(1001, "builder");
        WaitFor(() => Audit(host, EventOp.Agents).Any(e => e.Detail!.Contains("uid 1001 mapped to 'builder'")));
        host.Registry.Revoke(token.Id); // the mount's own instance (as agent-register issues run tokens)
        WaitFor(() => Audit(host, EventOp.Agents).Any(e => e.Detail!.Contains($"token {token.Id} of 'builder' revoked")));

        var all = string.Join("\n", Audit(host, EventOp.Agents).Select(e => e.Detail));
        Assert.Contains("added agent 'builder' (role builder)", all);
        Assert.Contains($"token {token.Id} issued for 'builder'", all);
        Assert.DoesNotContain("lh1.", all); // ids only, never a token's text
        Assert.All(Audit(host, EventOp.Agents), e => Assert.Equal(("lighthouse", AgentVia.System, "agents.json"), (e.Agent, e.AgentVia, e.Path)));
        Assert.True(host.Store.Verify().Ok);
    }

    [Fact]
    public void A_damaged_agent_registry_is_said_once_whoever_looks_first_and_the_agents_in_force_stay()
    {
        var lines = new List<string>();
        var host = ProjectHost.Open(_p.Dir, new ProjectOptions { Stores = SqliteProjectStoreFactory.Instance, Store = TestProject.Fast, Log = line => { lock (lines) lines.Add(line); } });
        try
        {
            new AgentRegistry(_p.Dir).Add("builder", "builder");
            WaitFor(() => host.Registry.Find("builder") is not null);
            File.WriteAllText(Path.Combine(_p.Dir, ".lighthouse", AgentRegistry.FileName), "{ not json");
            // The resolver, the mount's timer and agents/ all look; the first look reports it, whichever it is.
            Assert.Throws<AgentRegistryException>(() => host.Registry.Refresh());
            Thread.Sleep(2500);
            lock (lines) Assert.Single(lines, l => l.Contains("agent registry was not reloaded"));
            Assert.NotNull(host.Registry.Find("builder"));
        }
        finally { host.Dispose(); }
    }

    [Fact]
    public void A_read_is_noted_as_the_version_valid_when_it_was_read()
    {
        var host = _p.Open();
        _p.Create(TestProject.Alice, "a.txt", "one");
        host.Recorder.Flush();
        var first = host.Store.Versions("a.txt").Last().VersionSeq;
        host.Reads.Read(Builder, "a.txt");
        Thread.Sleep(20);
        File.WriteAllText(_p.Abs("a.txt"), "two");
        _p.Written(TestProject.Alice, "a.txt");
        host.Recorder.Flush();
        Assert.NotEqual(first, host.Store.Versions("a.txt").Last().VersionSeq);
        host.Reads.Flush();   // after the write was recorded: the read still names the version it saw
        var read = Assert.Single(host.Store.LastReads("builder"));
        Assert.Equal(("builder", "a.txt", first), (read.Agent, read.Path, read.VersionSeq));

        host.Reads.Read(Builder, "a.txt");
        host.Reads.Read(new Agent("kernel", AgentSource.Kernel), "a.txt"); // the kernel reads for no agent
        host.Reads.Flush();
        Assert.Equal(host.Store.Versions("a.txt").Last().VersionSeq, Assert.Single(host.Store.LastReads()).VersionSeq);
    }
}
