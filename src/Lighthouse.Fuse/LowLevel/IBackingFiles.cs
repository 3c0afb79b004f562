namespace Lighthouse.Fuse.LowLevel;

/// <summary>
/// Registers backing files for kernel passthrough (FOPEN_PASSTHROUGH): the kernel then reads and
/// writes the registered descriptor itself, without a round trip to us. Handed to the filesystem in
/// <see cref="Session.ConnectionInfo.BackingFiles"/> at INIT, and only when the kernel offers
/// passthrough and we may use it (registering needs CAP_SYS_ADMIN); an interface so a filesystem can
/// be tested in-process with a fake.
/// </summary>
public interface IBackingFiles
{
    /// <summary>Registers <paramref name="fd"/> (FUSE_DEV_IOC_BACKING_OPEN). Returns the backing id for
    /// fuse_open_out (&gt; 0), or 0 if the kernel refused: then serve that open in user space.</summary>
    int Open(int fd);

    /// <summary>Unregisters a backing id returned by <see cref="Open"/> (FUSE_DEV_IOC_BACKING_CLOSE).</summary>
    void Close(int backingId);

    /// <summary>True once the kernel refused registration for good (EPERM: the daemon lacks CAP_SYS_ADMIN in the
    /// initial user namespace, e.g. root in a container): every later <see cref="Open"/> returns 0 without asking.</summary>
    bool Refused => false;
}
