namespace Lighthouse.Project.Policy;

/// <summary>
/// Who asks, as the policy sees it: the agent's name, its role (null when it has none), and its command line
/// (argv joined with single spaces; null when unknown — then no rule with <c>commands</c> matches it).
/// Built once per identified process and reused for each of its requests.
/// </summary>
public sealed record PolicySubject(string Agent, string? Role, string? CommandLine);
