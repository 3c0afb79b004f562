using Lighthouse.Fuse.LowLevel;
using Lighthouse.Fuse.Protocol;

namespace Lighthouse.Fuse.Session;

/// <summary>What the kernel offered in FUSE_INIT and what we asked for; after INIT, what was agreed.</summary>
public sealed class ConnectionInfo
{
    public uint KernelMajor { get; init; }
    public uint KernelMinor { get; init; }
    /// <summary>Capabilities the kernel offers.</summary>
    public InitFlags Offered { get; init; }
    /// <summary>Sends cache invalidations and poll wake-ups to the kernel; keep it for the life of the mount.
    /// Messages queued during Init go out once INIT has been answered.</summary>
    public required IFuseNotifier Notifier { get; init; }
    /// <summary>Registers kernel passthrough backing files: null when the kernel does not offer passthrough
    /// or we may not use it (not privileged). Ask for <see cref="InitFlags.Passthrough"/> in
    /// <see cref="Want"/> to use it: registrations fail on a connection that did not negotiate it.</summary>
    public IBackingFiles? BackingFiles { get; init; }
    /// <summary>Capabilities we want; only those also offered are requested.</summary>
    public InitFlags Want { get; set; }
    /// <summary>After INIT: the protocol minor version in use.</summary>
    public uint Minor { get; internal set; }
    /// <summary>After INIT: Want ∩ Offered.</summary>
    public InitFlags Negotiated { get; internal set; }
    public uint MaxReadahead { get; set; }
    public uint MaxWrite { get; set; } = ProtocolConstants.MaxWrite;
    public ushort MaxBackground { get; set; } = 64;
    public ushort CongestionThreshold { get; set; } = 48;
    public uint TimeGranularityNs { get; set; } = 1;

    public bool Has(InitFlags flag) => (Negotiated & flag) == flag;

    public override string ToString() =>
        $"protocol {KernelMajor}.{Minor} (kernel {KernelMajor}.{KernelMinor}); features: {Negotiated}";
}
