using Lighthouse.Interop;

namespace Lighthouse.Project.Policy;

/// <summary>
/// The policy a mount enforces, kept in step with its file (<c>&lt;project&gt;/.lighthouse/policy.yaml</c>).
/// <see cref="Refresh"/> re-reads the file only when its identity changed (inode, size, modification or change
/// time, to the nanosecond), so polling it costs one statx. A missing file is <see cref="AccessPolicy.AllowAll"/>;
/// a broken one never replaces a working policy. Polling rather than inotify: the state directory is private to
/// the mount's owner, and a stat every second or so is cheap and survives editors that replace the file.
/// </summary>
public sealed class PolicyFile : IDisposable
{
    /// <summary>
    /// What identifies one version of the file; a change to any of these means read it again. A stat that failed for
    /// another reason than absence is a stamp too (only <c>Errno</c> set), so the same failure is reported once.
    /// </summary>
    private readonly record struct Stamp(ulong Device, ulong Inode, ulong Size, long ModifiedSeconds, uint ModifiedNanoseconds,
        long ChangedSeconds, uint ChangedNanoseconds, int Errno = 0);

    private readonly Lock _gate = new();
    private volatile AccessPolicy _current = AccessPolicy.AllowAll;
    private Stamp? _lastSeen;
    private Timer? _timer;
    private TimeSpan _interval;
    private bool _disposed;

    public string Path { get; }

    /// <summary>The policy in force. Read it once per request: a reload swaps it whole.</summary>
    public AccessPolicy Current => _current;

    /// <summary>
    /// Raised on <see cref="PolicyReloadOutcome.Loaded"/>, <see cref="PolicyReloadOutcome.Removed"/> and
    /// <see cref="PolicyReloadOutcome.Invalid"/>, so the mount can log the change and record an event. Raised under
    /// the refresh lock (so in order), on the watcher's thread when watching: keep handlers short, and do not throw.
    /// </summary>
    public event Action<PolicyReload>? Changed;

    /// <summary>Reads the policy now, so it is in force before the first request.</summary>
    /// <exception cref="PolicyFormatException">The file is invalid: a mount must not start unprotected on a typo.</exception>
    /// <exception cref="IOException">The file exists but cannot be read.</exception>
    public PolicyFile(string path)
    {
        Path = path;
        var (first, failure) = RefreshLocked();
        if (first.Outcome == PolicyReloadOutcome.Invalid) throw failure!;
    }

    /// <summary>Re-reads the file if it changed since it was last read; says what happened.</summary>
    public PolicyReload Refresh()
    {
        lock (_gate)
        {
            var (reload, _) = RefreshLocked();
            if (reload.Outcome != PolicyReloadOutcome.Unchanged) Changed?.Invoke(reload);
            return reload;
        }
    }

    /// <returns>What happened, and for <see cref="PolicyReloadOutcome.Invalid"/> the exception behind it.</returns>
    private (PolicyReload, Exception?) RefreshLocked()
    {
        var stamp = StampOf(Path);
        if (stamp == _lastSeen) return (new PolicyReload(PolicyReloadOutcome.Unchanged, _current), null);
        _lastSeen = stamp;
        if (stamp is null) return (Install(PolicyReloadOutcome.Removed, AccessPolicy.AllowAll), null);
        if (stamp.Value.Errno != 0)
            return Keep(new IOException($"{Path}: cannot be read: {Libc.ErrorText(stamp.Value.Errno)}"));
        string yaml;
        try
        {
            yaml = File.ReadAllText(Path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            _lastSeen = null;
            return (Install(PolicyReloadOutcome.Removed, AccessPolicy.AllowAll), null);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Keep(new IOException($"{Path}: cannot be read: {e.Message}", e));
        }
        try
        {
            return (Install(PolicyReloadOutcome.Loaded, AccessPolicy.Parse(yaml, Path)), null);
        }
        catch (PolicyFormatException e)
        {
            return Keep(e);
        }
    }

    /// <summary>An unusable file: the policy in force stays.</summary>
    private (PolicyReload, Exception) Keep(Exception failure) =>
        (new PolicyReload(PolicyReloadOutcome.Invalid, _current, failure.Message), failure);

    private PolicyReload Install(PolicyReloadOutcome outcome, AccessPolicy policy)
    {
        _current = policy;
        return new PolicyReload(outcome, policy);
    }

    /// <summary>Polls <see cref="Refresh"/> every <paramref name="interval"/> on a timer until disposed.</summary>
    public void StartWatching(TimeSpan interval)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(interval, TimeSpan.Zero);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_timer is not null) throw new InvalidOperationException($"{Path} is already being watched");
            _interval = interval;
            // One-shot, re-armed after each look: a slow disk never stacks callbacks up.
            _timer = new Timer(_ => Poll(), null, interval, Timeout.InfiniteTimeSpan);
        }
    }

    private void Poll()
    {
        lock (_gate)
        {
            if (_disposed) return;
            Refresh();
            _timer!.Change(_interval, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>Stops watching; once it returns, no refresh runs and no <see cref="Changed"/> is raised.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            _timer?.Dispose();
            _timer = null;
        }
    }

    /// <summary>The file's identity now, or null when there is no file.</summary>
    private static unsafe Stamp? StampOf(string path)
    {
        StatxBuf buf;
        if (Libc.Statx(Libc.AT_FDCWD, path, 0, Libc.STATX_BASIC_STATS, &buf) != 0)
        {
            int errno = Libc.Errno;
            if (errno is Libc.ENOENT or Libc.ENOTDIR) return null;
            return new Stamp(0, 0, 0, 0, 0, 0, 0, errno);
        }
        return new Stamp(buf.Dev, buf.Ino, buf.Size, buf.MtimeSec, buf.MtimeNsec, buf.CtimeSec, buf.CtimeNsec);
    }
}
