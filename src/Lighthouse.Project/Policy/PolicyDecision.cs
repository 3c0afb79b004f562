namespace Lighthouse.Project.Policy;

/// <summary>
/// The outcome of one request under a policy. A struct, so deciding allocates nothing.
/// <see cref="WouldDeny"/> says what the policy thinks (true in both modes when it refuses);
/// <see cref="Allowed"/> and <see cref="Errno"/> say what the caller must do (in audit mode always allowed, errno 0).
/// </summary>
/// <param name="Effect">The effect that applied: the matching rule's, or the policy's default.</param>
/// <param name="Allowed">Whether the request goes ahead.</param>
/// <param name="WouldDeny">Whether the policy refuses the request (reported in audit mode, enforced otherwise).</param>
/// <param name="Errno">The errno to answer with; 0 when allowed.</param>
/// <param name="Rule">The rule that matched; null when the default applied.</param>
public readonly record struct PolicyDecision(PolicyEffect Effect, bool Allowed, bool WouldDeny, int Errno, PolicyRule? Rule)
{
    /// <summary>
    /// Why, in words, for <c>lighthouse policy check</c> and for denial events:
    /// "rule 3 'secrets are hidden' (policy.yaml line 12): hide" or "no rule matched: default allow".
    /// </summary>
    public string Explain()
    {
        string why = Rule?.Describe() ?? $"no rule matched: default {PolicyNames.Of(Effect)}";
        if (WouldDeny && Allowed) return why + " (audit mode: reported, not enforced)";
        if (Effect == PolicyEffect.ReadOnly && !WouldDeny) return why + " (reading is allowed)";
        return why;
    }

    public override string ToString() => Explain();
}
