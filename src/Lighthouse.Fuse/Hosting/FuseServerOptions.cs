using Lighthouse.Fuse.Mounting;
using Lighthouse.Fuse.Session;

namespace Lighthouse.Fuse.Hosting;

/// <summary>How <see cref="FuseServer.Start"/> mounts and serves.</summary>
public sealed class FuseServerOptions
{
    public MountOptions Mount { get; init; } = new();
    public SessionOptions Session { get; init; } = new();
    /// <summary>How long to wait for the kernel's INIT after mounting before giving up (and unmounting).</summary>
    public TimeSpan InitTimeout { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>How long <see cref="FuseServer.Unmount"/> lets in-flight requests finish before it aborts the connection.</summary>
    public TimeSpan UnmountGrace { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>Called when the kernel has forgotten many inodes, before memory is given back (drop caches of your own).</summary>
    public Action? Trim { get; init; }
    /// <summary>Where the server says what it did on its own (a stale mount cleaned up, a created mount point, an abort).</summary>
    public TextWriter Log { get; init; } = Console.Error;
}
