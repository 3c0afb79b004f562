using Lighthouse.Store;
using Lighthouse.Store.Retention;

namespace Lighthouse.Project.Retention;

/// <summary>
/// Collects garbage in the background while a project is served: every <see cref="RetentionPolicy.GcEvery"/> of the
/// project's policy (read again each time, so an edit of retention.json takes effect at the next run), the first run
/// <see cref="FirstRunAfter"/> after start (or sooner if the policy says so). A run thins versions and removes what
/// nothing refers to, in the store's writer, safely beside recording (see <see cref="IProjectStore.CollectGarbage"/>).
/// </summary>
public sealed class BackgroundGc : IDisposable
{
    public static readonly TimeSpan FirstRunAfter = TimeSpan.FromMinutes(10);

    private readonly IProjectStore _store;
    private readonly Action<string> _log;
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _thread;
    private long _runs;

    public BackgroundGc(IProjectStore store, Action<string> log)
    {
        _store = store;
        _log = log;
        _thread = new Thread(Loop) { IsBackground = true, Name = "lighthouse-gc", Priority = ThreadPriority.BelowNormal };
        _thread.Start();
    }

    public long Runs => Interlocked.Read(ref _runs);
    public GcReport? LastReport { get; private set; }
    public DateTime? LastRunUtc { get; private set; }
    public string? LastError { get; private set; }

    private void Loop()
    {
        var wait = FirstRunAfter;
        while (!_stop.IsCancellationRequested)
        {
            RetentionPolicy policy;
            try
            {
                policy = _store.Retention;
            }
            catch (StoreException e)
            {
                LastError = e.Message;
                _log($"background gc: {e.Message}; keeping everything until it is fixed");
                if (_stop.Token.WaitHandle.WaitOne(TimeSpan.FromMinutes(10))) return;
                continue;
            }
            if (policy.GcEvery is not { } every)
            {
                if (_stop.Token.WaitHandle.WaitOne(TimeSpan.FromMinutes(10))) return; // disabled: look again later
                continue;
            }
            if (_stop.Token.WaitHandle.WaitOne(Min(wait, every))) return;
            try
            {
                var report = _store.CollectGarbage(policy);
                LastReport = report;
                LastRunUtc = DateTime.UtcNow;
                LastError = null;
                Interlocked.Increment(ref _runs);
                if (report.VersionsPruned + report.ChunksRemoved + report.ObjectFilesRemoved > 0)
                    _log($"background gc: thinned {report.VersionsPruned} version(s), freed {report.BytesFreed} bytes in {report.Elapsed.TotalSeconds:0.0} s");
            }
            catch (Exception e) when (e is StoreException or IOException or ObjectDisposedException)
            {
                if (_stop.IsCancellationRequested) return;
                LastError = e.Message;
                _log($"background gc failed: {e.Message}; tried again at the next run");
            }
            wait = every;
        }
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    public void Dispose()
    {
        _stop.Cancel();
        _thread.Join(TimeSpan.FromSeconds(30));
    }
}
