namespace Lighthouse.Fuse.Mounting;

/// <summary>
/// Mounting or unmounting failed. The message says what was tried, the system's error text and,
/// where one is known, a hint (e.g. "install fuse3").
/// </summary>
public sealed class FuseMountException : Exception
{
    /// <summary>The errno of the failing call, or 0 when the failure has none (e.g. a helper's exit status).</summary>
    public int Errno { get; }

    /// <summary>
    /// Set when a helper refused <c>allow_other</c> because its configuration file (named here, normally
    /// <c>/etc/fuse.conf</c>) has no <c>user_allow_other</c> line: the caller can say which line to add where, or
    /// mount without allow_other. Null for every other failure.
    /// </summary>
    public string? UserAllowOtherMissingIn { get; init; }

    public FuseMountException(string message) : base(message) { }

    public FuseMountException(string message, int errno) : base(message) => Errno = errno;

    public FuseMountException(string message, int errno, Exception? inner) : base(message, inner) => Errno = errno;

    public FuseMountException(string message, Exception inner) : base(message, inner) { }
}
