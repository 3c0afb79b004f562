namespace Lighthouse.Fuse.Mounting;

/// <summary>What <see cref="FuseMounter.CleanUpStale"/> found and did.</summary>
/// <param name="WasStale">A FUSE mount whose daemon is gone (ENOTCONN) was found at the path.</param>
/// <param name="CleanedUp">It was unmounted (lazily).</param>
/// <param name="Message">A sentence for a human: what was found, what was done, or why not.</param>
public sealed record StaleMountCleanup(bool WasStale, bool CleanedUp, string Message);
