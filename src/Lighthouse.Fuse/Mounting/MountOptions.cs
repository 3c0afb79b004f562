namespace Lighthouse.Fuse.Mounting;

/// <summary>Options for <see cref="FuseMounter.Mount"/>.</summary>
public sealed class MountOptions
{
    /// <summary>The mount's source as shown by <c>mount</c>/<c>findmnt</c> (no commas, backslashes or whitespace).</summary>
    public string FsName { get; init; } = "lighthouse";

    /// <summary>Subtype: the filesystem type then shows as <c>fuse.&lt;subtype&gt;</c>. Null: plain <c>fuse</c>.</summary>
    public string? Subtype { get; init; }

    /// <summary>
    /// <c>allow_other</c>: users other than the mounting one may use the mount. Through a helper
    /// as a non-root user this needs <c>user_allow_other</c> in <c>/etc/fuse.conf</c>.
    /// </summary>
    public bool AllowOther { get; init; }

    /// <summary><c>default_permissions</c>: the kernel checks permissions from the file modes.</summary>
    public bool DefaultPermissions { get; init; }

    /// <summary>Mount read-only (<c>MS_RDONLY</c> / <c>ro</c>).</summary>
    public bool ReadOnly { get; init; }

    /// <summary>
    /// <c>auto_unmount</c>: the helper stays alive and unmounts when the process that mounted dies.
    /// Only a helper (fusermount3/fusermount) can do this: <see cref="MountMethod.Direct"/> with it
    /// throws a <see cref="FuseMountException"/> saying so; <see cref="MountMethod.Auto"/> then picks
    /// a helper even when privileged, and if there is none mounts directly without it.
    /// fusermount (FUSE 2) and fusermount3 from before 2023 cannot auto-unmount a normal user's mount
    /// without allow_other (libfuse issue #586); in that case a small watchdog shell started with the
    /// mount runs <c>&lt;helper&gt; -u -z</c> when this process dies.
    /// </summary>
    public bool AutoUnmount { get; init; }

    /// <summary>How to mount; see <see cref="MountMethod"/>.</summary>
    public MountMethod Method { get; init; } = MountMethod.Auto;

    /// <summary>
    /// An explicit helper binary (a fusermount3 or fusermount). With <see cref="MountMethod.Auto"/>
    /// it is the only helper tried; with <see cref="MountMethod.Fusermount3"/> or
    /// <see cref="MountMethod.Fusermount"/> it replaces the PATH lookup.
    /// </summary>
    public string? HelperPath { get; init; }

    /// <summary><c>max_read</c> in bytes; 0 = kernel default.</summary>
    public uint MaxRead { get; init; }
}
