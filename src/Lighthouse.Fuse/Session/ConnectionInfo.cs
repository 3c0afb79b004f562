using Lighthouse.Fuse.Protocol;

namespace Lighthouse.Fuse.Session;

/// <summary>What the kernel offered in FUSE_INIT and what we asked for; after INIT, what was agreed.</summary>
public sealed class ConnectionInfo
{
    public uint KernelMajor { get; init; }
    public uint KernelMinor { get; init; }
    /// <summary>Capabilities the kernel offers.</summary>
    public InitFlags Offered { get; init; }
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
