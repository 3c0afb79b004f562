using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lighthouse.Store;

public enum Durability
{
    /// <summary>synchronous=FULL: every commit is fsync'ed; survives process crash and power loss.</summary>
    Full,
    /// <summary>synchronous=NORMAL: survives a process crash; the last commits may be lost on power loss.</summary>
    Normal,
}

public sealed record StoreOptions
{
    /// <summary>Files larger than this keep metadata-only history (<see cref="ContentState.TooLarge"/>).</summary>
    public long MaxCaptureBytes { get; init; } = 256L << 20;

    public Durability Durability { get; init; } = Durability.Full;

    /// <summary>fsync captured objects before their event commits (needed for power-loss safety of content).</summary>
    public bool FsyncObjects { get; init; } = true;

    /// <summary>Run the reconciliation when an existing store is opened.</summary>
    public bool ReconcileOnOpen { get; init; } = true;

    /// <summary>Run <c>PRAGMA quick_check</c> at open, so a damaged database is reported before anything is written.</summary>
    public bool CheckIntegrityOnOpen { get; init; } = true;

    /// <summary>Most work items one group commit takes from the queue.</summary>
    public int MaxBatch { get; init; } = 1024;

    /// <summary>
    /// With <see cref="Durability.Full"/>: the longest the writer may hold a commit open for the next change
    /// of other threads that have been writing lately, so that they share one fsync (it never waits more
    /// than half of the last commit's duration). Zero disables it.
    /// </summary>
    public TimeSpan CommitDelay { get; init; } = TimeSpan.FromMilliseconds(5);

    /// <summary>
    /// How long the writer collects asynchronous records (the <c>Record*Async</c> calls nobody waits
    /// on yet) before committing them together: a burst of changes then costs one transaction and one
    /// wake-up of the writer instead of one each. Synchronous calls and <see cref="ProjectStore.CommitSoon"/>
    /// cut it short. Zero commits at once.
    /// </summary>
    /// <remarks>10 ms: a commit costs the writer as much CPU as ten to twenty events (the pages it writes to the
    /// log), and a burst of small changes (tar x, rm -rf) comes at one every 100–200 µs; 2 ms gave commits of about
    /// ten events. Nobody waits for it: callers who wait cut it short.</remarks>
    public TimeSpan BatchWindow { get; init; } = TimeSpan.FromMilliseconds(10);

    public ILogger Logger { get; init; } = NullLogger.Instance;
}
