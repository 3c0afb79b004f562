namespace Lighthouse.Project.Policy;

/// <summary>What a rule (or the policy's default) does to the requests it matches. YAML: allow, deny, hide, read-only.</summary>
public enum PolicyEffect
{
    /// <summary>The request goes ahead.</summary>
    Allow,
    /// <summary>Refused with EACCES: the caller learns the path exists but may not touch it.</summary>
    Deny,
    /// <summary>Refused with ENOENT, and left out of directory listings: the caller cannot tell the path exists.</summary>
    Hide,
    /// <summary>Reads and listings go ahead; every mutation is refused with EROFS.</summary>
    ReadOnly,
}

/// <summary>Whether a policy refuses what it would deny (enforce) or only reports it (audit, for trying a policy out).</summary>
public enum PolicyMode
{
    Enforce,
    Audit,
}

/// <summary>
/// The errno each effect gives: part of the API, so the FUSE layer, the CLI and the tests agree on it
/// (Linux values, the same on every architecture .NET runs on).
/// </summary>
public static class PolicyErrno
{
    public const int ENOENT = 2, EACCES = 13, EROFS = 30;

    /// <summary>The errno <paramref name="effect"/> gives <paramref name="operation"/>; 0 when it lets it through.</summary>
    public static int For(PolicyEffect effect, PolicyOperation operation) => effect switch
    {
        PolicyEffect.Allow => 0,
        PolicyEffect.Deny => EACCES,
        PolicyEffect.Hide => ENOENT,
        PolicyEffect.ReadOnly => operation.IsMutation() ? EROFS : 0,
        _ => throw new ArgumentOutOfRangeException(nameof(effect), effect, null),
    };
}
