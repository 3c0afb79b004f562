using System.Diagnostics;
using Lighthouse.Interop;

namespace Lighthouse.Fuse.Mounting;

/// <summary>
/// A mounted FUSE filesystem: the <c>/dev/fuse</c> descriptor the session reads requests from, and
/// what is needed to unmount it. Dispose unmounts, then closes the descriptor.
/// </summary>
public sealed class FuseMountHandle : IDisposable
{
    private readonly object _gate = new();
    private readonly string? _helperPath;
    private int _commSocket;            // our end of the _FUSE_COMMFD socket, kept open with auto_unmount; -1 otherwise
    private Process? _helperProcess;    // the helper that stays alive with auto_unmount
    private Process? _watchdog;         // backup auto_unmount for helpers that cannot do it for a normal user
    private bool _unmounted;
    private bool _fdClosed;

    internal FuseMountHandle(int deviceFd, string mountPoint, MountMethod method, int mountId,
                             string? helperPath, int commSocket, Process? helperProcess, Process? watchdog = null)
    {
        DeviceFd = deviceFd;
        MountPoint = mountPoint;
        Method = method;
        MountId = mountId;
        _helperPath = helperPath;
        _commSocket = commSocket;
        _helperProcess = helperProcess;
        _watchdog = watchdog;
    }

    /// <summary>The <c>/dev/fuse</c> descriptor of this mount; owned by the handle, closed by <see cref="Dispose"/> after unmounting.</summary>
    public int DeviceFd { get; }

    /// <summary>The absolute, canonical mount point.</summary>
    public string MountPoint { get; }

    /// <summary>How it was actually mounted (never <see cref="MountMethod.Auto"/>).</summary>
    public MountMethod Method { get; }

    /// <summary>The mount's id in /proc/self/mountinfo (-1 if it could not be found right after mounting).</summary>
    internal int MountId { get; }

    /// <summary>The helper binary used to mount (and used to unmount), or null for a direct mount.</summary>
    internal string? HelperPath => _helperPath;

    /// <summary>True once <see cref="Unmount"/> has succeeded (or the mount was abandoned).</summary>
    internal bool IsUnmounted { get { lock (_gate) return _unmounted; } }

    /// <summary>
    /// Unmounts. Idempotent. Direct mounts: <c>umount2</c>, lazily (MNT_DETACH) if busy. Helper
    /// mounts: <c>&lt;helper&gt; -u -z</c>. A mount that is already gone counts as unmounted.
    /// </summary>
    public void Unmount()
    {
        lock (_gate)
        {
            if (_unmounted) return;
            DisarmWatchdog(unmountNow: false);
            FuseMounter.UnmountMount(this);
            _unmounted = true;
            CloseHelperChannel();
        }
    }

    /// <summary>Unmounts (see <see cref="Unmount"/>), then closes <see cref="DeviceFd"/>.</summary>
    public void Dispose()
    {
        try
        {
            Unmount();
        }
        finally
        {
            lock (_gate)
            {
                CloseHelperChannel();
                if (!_fdClosed)
                {
                    _fdClosed = true;
                    Libc.Close(DeviceFd);
                }
            }
        }
    }

    /// <summary>
    /// Closes the device descriptor (and the auto_unmount channel) WITHOUT unmounting, as a crashing
    /// daemon would: the mount stays behind, stale (ENOTCONN), unless a helper auto-unmounts it.
    /// For tests and for hand-over scenarios; Dispose afterwards does nothing more.
    /// </summary>
    internal void AbandonWithoutUnmount()
    {
        lock (_gate)
        {
            _unmounted = true;
            DisarmWatchdog(unmountNow: true);
            CloseHelperChannel();
            if (!_fdClosed)
            {
                _fdClosed = true;
                Libc.Close(DeviceFd);
            }
        }
    }

    /// <summary>Tells the watchdog to exit quietly (a line), or, as a crash would, closes its pipe so it unmounts.</summary>
    private void DisarmWatchdog(bool unmountNow)
    {
        if (_watchdog is null) return;
        try
        {
            if (!unmountNow) _watchdog.StandardInput.WriteLine("unmounted cleanly");
            _watchdog.StandardInput.Close();
            if (!unmountNow) _watchdog.WaitForExit(5000);
        }
        catch (IOException) { }
        catch (InvalidOperationException) { }
        _watchdog.Dispose();
        _watchdog = null;
    }

    private void CloseHelperChannel()
    {
        if (_commSocket >= 0)
        {
            Libc.Close(_commSocket);
            _commSocket = -1;
        }
        if (_helperProcess is not null)
        {
            // With auto_unmount the helper exits by itself once the socket is closed; do not wait for it here.
            _helperProcess.Dispose();
            _helperProcess = null;
        }
    }

    public override string ToString() => $"{MountPoint} ({Method}, fd {DeviceFd})";
}
