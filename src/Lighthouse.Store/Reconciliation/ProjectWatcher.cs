using Microsoft.Extensions.Logging;

namespace Lighthouse.Store;

/// <summary>
/// Watches the project directory (<see cref="DirectoryWatcher"/>, inotify) and, after a short quiet
/// period, reconciles the smallest subtree that holds every change seen, so changes made outside
/// Lighthouse while it runs become events of <c>external</c>. On overflow it reconciles everything.
/// </summary>
public sealed class ProjectWatcher : IDisposable
{
    private readonly IProjectStore _store;
    private readonly ILogger _logger;
    private readonly TimeSpan _debounce;
    private readonly DirectoryWatcher _watcher;
    private readonly Timer _timer;
    private readonly Lock _gate = new();
    private readonly HashSet<string> _dirty = new(StringComparer.Ordinal);
    private bool _overflow, _disposed;
    private int _running;

    /// <summary>
    /// Watches <paramref name="store"/>'s project directory (any backend: it only calls <see cref="IProjectStore.Reconcile"/>
    /// and <see cref="IProjectStore.LookupPath"/>). <see cref="IProjectStore.Watch"/> is the usual way to get one.
    /// </summary>
    public ProjectWatcher(IProjectStore store, TimeSpan debounce, ILogger? logger = null)
    {
        if (store.IsReadOnly) throw new StoreReadOnlyException(store.ProjectDir);
        _store = store;
        _logger = logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
        _debounce = debounce;
        _timer = new Timer(_ => Flush(), null, Timeout.Infinite, Timeout.Infinite);
        _watcher = new DirectoryWatcher(store.ProjectDir, OnBatch, DirectoryWatcher.ExcludeStoreState);
        _watcher.Failed += e => _logger.LogWarning(e, "file watcher: {Message}", e.Message);
    }

    /// <summary>Raised after each reconciliation the watcher ran (also when it found nothing).</summary>
    public event Action<ReconcileReport>? Reconciled;

    /// <summary>Raised when a reconciliation failed; the failure is also kept in <see cref="LastError"/>.</summary>
    public event Action<Exception>? Failed;

    public Exception? LastError { get; private set; }

    /// <summary>A burst of changes, already coalesced by the watcher; the timer still waits for the
    /// debounce so that a long burst (an unpacked archive) is reconciled once, after it settles.</summary>
    private void OnBatch(WatchBatch batch)
    {
        if (batch.Overflowed)
            _logger.LogWarning("file watcher lost events; reconciling the whole project");
        lock (_gate)
        {
            if (_disposed) return;
            _dirty.UnionWith(batch.Paths);
            _overflow |= batch.Overflowed;
        }
        _timer.Change(_debounce, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Reconciles what has been seen so far without waiting for the quiet period.</summary>
    public void Flush()
    {
        if (Interlocked.Exchange(ref _running, 1) != 0)
        {
            _timer.Change(_debounce, Timeout.InfiniteTimeSpan);
            return;
        }
        try
        {
            string scope;
            lock (_gate)
            {
                if (_disposed || (_dirty.Count == 0 && !_overflow)) return;
                scope = _overflow ? "" : StorePath.CommonDirectory(_dirty);
                _dirty.Clear();
                _overflow = false;
            }
            scope = ExistingScope(scope);
            var report = _store.Reconcile(scope: scope);
            Reconciled?.Invoke(report);
        }
        catch (Exception e) when (e is StoreException or IOException or ObjectDisposedException)
        {
            LastError = e;
            _logger.LogError(e, "watcher reconciliation failed");
            Failed?.Invoke(e);
        }
        finally
        {
            Volatile.Write(ref _running, 0);
        }
    }

    /// <summary>Climbs until the scope is a directory both on disk and in the index.</summary>
    private string ExistingScope(string scope)
    {
        while (scope.Length > 0)
        {
            var entry = _store.LookupPath(scope, StorePoint.Latest);
            if (entry?.Kind == FileKind.Directory && Directory.Exists(Path.Combine(_store.ProjectDir, scope))
                && !File.GetAttributes(Path.Combine(_store.ProjectDir, scope)).HasFlag(FileAttributes.ReparsePoint))
                return scope;
            scope = StorePath.Parent(scope);
        }
        return scope;
    }

    public void Dispose()
    {
        lock (_gate) _disposed = true;
        _watcher.Dispose(); // joins its thread: no batch arrives after this
        _timer.Dispose();
    }
}
