namespace Lighthouse.Project.Policy;

/// <summary>
/// A policy file that cannot be used, and where: "policy.yaml line 12, column 5: unknown key 'efect' in rule 3 (did
/// you mean 'effect'?)". Every mistake is one of these, never a silently ignored key: a typo must not allow.
/// </summary>
public sealed class PolicyFormatException : Lighthouse.Store.StoreException
{
    public string SourceName { get; }

    /// <summary>From 1.</summary>
    public int Line { get; }

    /// <summary>From 1.</summary>
    public int Column { get; }

    /// <summary>What is wrong, without the place.</summary>
    public string Problem { get; }

    public PolicyFormatException(string sourceName, int line, int column, string problem, Exception? inner = null)
        : base($"{sourceName} line {line}, column {column}: {problem}", inner!)
    {
        SourceName = sourceName;
        Line = line;
        Column = column;
        Problem = problem;
    }
}
