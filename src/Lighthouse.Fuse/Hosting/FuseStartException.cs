namespace Lighthouse.Fuse.Hosting;

/// <summary>
/// <see cref="FuseServer.Start"/> mounted, but the session ended before INIT was answered (a worker
/// failed, the kernel is too old, or someone unmounted at once). Nothing is left mounted; the inner
/// exception says why.
/// </summary>
public sealed class FuseStartException(string message, Exception inner) : Exception(message, inner);
