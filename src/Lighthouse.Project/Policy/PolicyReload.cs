namespace Lighthouse.Project.Policy;

/// <summary>What a look at policy.yaml found.</summary>
public enum PolicyReloadOutcome
{
    /// <summary>The file is as it was last read (or still absent): nothing to do.</summary>
    Unchanged,
    /// <summary>The file changed and its new policy is in force.</summary>
    Loaded,
    /// <summary>The file is gone: <see cref="AccessPolicy.AllowAll"/> is in force.</summary>
    Removed,
    /// <summary>The file changed but cannot be used: the previous policy stays in force, and <see cref="PolicyReload.Error"/> says why.</summary>
    Invalid,
}

/// <summary>The result of <see cref="PolicyFile.Refresh"/>: what happened, the policy in force afterwards, and for an
/// invalid file the error (with its line) to log and record.</summary>
public sealed record PolicyReload(PolicyReloadOutcome Outcome, AccessPolicy Policy, string? Error = null);
