using System.Collections.Concurrent;
using Lighthouse.Project.Agents;
using Lighthouse.Store;

namespace Lighthouse.Project.Reads;

/// <summary>
/// Which version of each file each agent last read (DESIGN.md "Identity and access"): servers report every open for
/// reading (<see cref="Read"/>, cheap: a dictionary entry); once a second the reads gathered are written to the store in
/// one batch, each as the version valid when it was read. Not an event per read: reads change nothing, and a build
/// reads thousands of files. What "changed since you last read it" and stale-write warnings compare against.
/// </summary>
public sealed class ReadTracker : IDisposable
{
    private readonly IProjectStore _store;
    private readonly Action<string> _log;
    private ConcurrentDictionary<(string Agent, string Path), long> _pending = new();
    private readonly Timer _timer;
    private readonly Lock _flushing = new();

    public ReadTracker(IProjectStore store, Action<string> log, TimeSpan? interval = null)
    {
        _store = store;
        _log = log;
        var every = interval ?? TimeSpan.FromSeconds(1);
        _timer = new Timer(_ => Flush(), null, every, every);
    }

    /// <summary><paramref name="agent"/> opened <paramref name="path"/> for reading now (the latest read of a file wins).</summary>
    public void Read(Agent agent, string path)
    {
        if (agent.Source is AgentSource.Kernel or AgentSource.External) return;
        _pending[(agent.Name, path)] = DateTime.UtcNow.Ticks;
    }

    /// <summary>Writes the reads gathered so far and waits for them (also on disposal).</summary>
    public void Flush()
    {
        lock (_flushing)
        {
            if (_pending.IsEmpty) return;
            var batch = Interlocked.Exchange(ref _pending, new ConcurrentDictionary<(string Agent, string Path), long>());
            var notes = batch.Select(r => new ReadNote(r.Key.Agent, r.Key.Path, new DateTime(r.Value, DateTimeKind.Utc))).ToList();
            try
            {
                _store.NoteReadsAsync(notes).GetAwaiter().GetResult();
            }
            catch (Exception e) when (e is StoreException or ObjectDisposedException or InvalidOperationException)
            {
                _log($"{notes.Count} reads could not be noted: {e.Message}");
            }
        }
    }

    public void Dispose()
    {
        _timer.Dispose();
        Flush();
    }
}
