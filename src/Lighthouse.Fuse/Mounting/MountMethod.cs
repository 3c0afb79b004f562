namespace Lighthouse.Fuse.Mounting;

/// <summary>How a FUSE filesystem is mounted.</summary>
public enum MountMethod
{
    /// <summary>
    /// Direct <c>mount(2)</c> when privileged (euid 0 or CAP_SYS_ADMIN), otherwise
    /// <c>fusermount3</c> from PATH, otherwise <c>fusermount</c> (FUSE 2). With
    /// <see cref="MountOptions.AutoUnmount"/> a helper is preferred even when privileged.
    /// </summary>
    Auto,

    /// <summary><c>mount(2)</c> on <c>/dev/fuse</c> ourselves; needs root or CAP_SYS_ADMIN.</summary>
    Direct,

    /// <summary>The setuid helper of libfuse 3, <c>fusermount3</c>.</summary>
    Fusermount3,

    /// <summary>The setuid helper of libfuse 2, <c>fusermount</c>.</summary>
    Fusermount,
}
