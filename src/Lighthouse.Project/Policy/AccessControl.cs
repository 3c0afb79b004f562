using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Lighthouse.Project.Agents;
using Lighthouse.Store;

namespace Lighthouse.Project.Policy;

/// <summary>
/// The project's access policy in force (<c>.lighthouse/policy.yaml</c>, re-read when it changes) and its audit: every
/// refusal — and in audit mode every would-be refusal — is a <c>deny</c> event of the agent in the hash-chained log
/// (operation, path, rule, command), and every change of the policy a <c>policy</c> event. Whoever serves the project
/// (the mount, the HTTP server) asks <see cref="Decide"/> before it acts.
/// <para>
/// A refusal repeated by the same agent on the same path and operation within <see cref="RepeatWindow"/> is counted,
/// not recorded again (a shell's completion or a retry loop would otherwise fill the log); the next one recorded
/// says how many it stands for.
/// </para>
/// </summary>
public sealed class AccessControl : IDisposable
{
    public const string FileName = "policy.yaml";
    public static readonly TimeSpan RepeatWindow = TimeSpan.FromSeconds(10);
    private static readonly long RepeatTicks = (long)(RepeatWindow.TotalSeconds * Stopwatch.Frequency);

    private readonly PolicyFile _file;
    private readonly IProjectStore _store;
    private readonly Action<string> _log;
    private readonly ConcurrentDictionary<(string Agent, PolicyOperation Op, string Path), Recent> _recent = new();
    private long _denials, _recorded;

    private sealed class Recent(long at) { public long At = at; public int Repeats; }

    /// <exception cref="PolicyFormatException">policy.yaml exists and is not valid: the project must not be served
    /// with less protection than its owner wrote.</exception>
    public AccessControl(string projectDir, IProjectStore store, Action<string> log)
    {
        _store = store;
        _log = log;
        _file = new PolicyFile(PathOf(projectDir));
        _file.Changed += Reloaded;
        if (!store.IsReadOnly) _file.StartWatching(TimeSpan.FromSeconds(1));
    }

    public static string PathOf(string projectDir) => Path.Combine(StateDirectory.PathOf(projectDir), FileName);

    /// <summary>The policy in force.</summary>
    public AccessPolicy Policy => _file.Current;

    /// <summary>Raised when another policy came into force (loaded or removed): servers drop what they cached under the old one.</summary>
    public event Action? PolicyChanged;

    /// <summary>Refusals (and would-be refusals) decided, and how many of them became events.</summary>
    public (long Decided, long Recorded) Denials => (Interlocked.Read(ref _denials), Interlocked.Read(ref _recorded));

    /// <summary>Re-reads the policy file now if it changed (the watcher does it within a second anyway).</summary>
    public PolicyReload Refresh() => _file.Refresh();

    /// <summary>
    /// What the policy says of <paramref name="agent"/> doing <paramref name="operation"/> on <paramref name="path"/>;
    /// a refusal (or, in audit mode, a would-be refusal) is recorded. <paramref name="audit"/> false: decide only (a
    /// listing that leaves hidden names out is not a refusal of anything asked for).
    /// </summary>
    public PolicyDecision Decide(Agent agent, string? commandLine, PolicyOperation operation, string path, bool isDirectory,
        string? path2 = null, bool audit = true) =>
        Decide(new PolicySubject(agent.Name, agent.Role, commandLine), agent, operation, path, isDirectory, path2, audit);

    /// <summary>The same, for a subject built by the caller (whose command line may be read only if a rule asks).</summary>
    public PolicyDecision Decide(PolicySubject subject, Agent agent, PolicyOperation operation, string path, bool isDirectory,
        string? path2 = null, bool audit = true)
    {
        var decision = Policy.Decide(subject, operation, path, isDirectory);
        if (decision.WouldDeny && audit) Record(agent, subject.Command(), operation, path, path2, decision);
        return decision;
    }

    private void Record(Agent agent, string? commandLine, PolicyOperation operation, string path, string? path2, PolicyDecision decision)
    {
        Interlocked.Increment(ref _denials);
        long now = Stopwatch.GetTimestamp();
        var key = (agent.Name, operation, path);
        int repeats = 0;
        if (_recent.TryGetValue(key, out var recent))
        {
            lock (recent)
            {
                if (now - recent.At < RepeatTicks) { recent.Repeats++; return; }
                repeats = recent.Repeats;
                recent.At = now;
                recent.Repeats = 0;
            }
        }
        else
        {
            if (_recent.Count > 10_000) _recent.Clear();
            _recent[key] = new Recent(now);
        }
        var detail = Json(w =>
        {
            w.WriteString("operation", PolicyNames.Of(operation));
            w.WriteString("effect", PolicyNames.Of(decision.Effect));
            w.WriteString("mode", Policy.Mode == PolicyMode.Audit ? "audit" : "enforce");
            w.WriteBoolean("refused", !decision.Allowed);
            w.WriteString("rule", decision.Rule?.Describe() ?? $"no rule matched: default {PolicyNames.Of(Policy.DefaultEffect)}");
            if (commandLine is not null) w.WriteString("command", commandLine);
            if (agent.Role is not null) w.WriteString("role", agent.Role);
            if (repeats > 0) w.WriteNumber("repeatsBefore", repeats);
        });
        Submit(_store.RecordAuditAsync(agent, EventOp.Deny, path, path2, detail));
    }

    private void Reloaded(PolicyReload reload)
    {
        var (word, line) = reload.Outcome switch
        {
            PolicyReloadOutcome.Loaded => ("loaded", $"access policy loaded from {_file.Path}: {reload.Policy.Rules.Count} rules, {(reload.Policy.Mode == PolicyMode.Audit ? "audit" : "enforce")} mode"),
            PolicyReloadOutcome.Removed => ("removed", $"access policy {_file.Path} removed: everything is allowed"),
            PolicyReloadOutcome.Invalid => ("invalid", $"access policy not changed: {reload.Error}; the previous policy stays in force"),
            _ => (null, null),
        };
        if (word is null) return;
        _log(line!);
        if (reload.Outcome != PolicyReloadOutcome.Invalid) PolicyChanged?.Invoke();
        var detail = Json(w =>
        {
            w.WriteString("outcome", word);
            if (reload.Error is not null) w.WriteString("error", reload.Error);
            w.WriteNumber("rules", reload.Policy.Rules.Count);
            w.WriteString("mode", reload.Policy.Mode == PolicyMode.Audit ? "audit" : "enforce");
        });
        Submit(_store.RecordAuditAsync(new Actor("lighthouse", AgentVia.System), EventOp.Policy, FileName, null, detail));
    }

    private void Submit(Task<StoreEvent> recording)
    {
        recording.ContinueWith(t =>
        {
            if (t.IsFaulted) _log($"an access-control event could not be recorded: {t.Exception!.GetBaseException().Message}");
            else Interlocked.Increment(ref _recorded);
        }, TaskScheduler.Default);
    }

    private static string Json(Action<Utf8JsonWriter> write)
    {
        using var buffer = new MemoryStream();
        // Relaxed escaping: the detail is read by people in `lighthouse log` ('rule 3 'x'', not \u0027).
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            write(w);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    public void Dispose() => _file.Dispose();
}
