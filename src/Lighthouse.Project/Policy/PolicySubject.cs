namespace Lighthouse.Project.Policy;

/// <summary>
/// Who asks, as the policy sees it: the agent's name, its role (null when it has none), and its command line
/// (argv joined with single spaces; null when unknown — then no rule with <c>commands</c> matches it).
/// The command line may be given as a source read only if a rule needs it (reading it costs a /proc read, and most
/// requests meet no rule with <c>commands</c>); it is read at most once per subject.
/// </summary>
public sealed record PolicySubject(string Agent, string? Role, string? CommandLine)
{
    private Func<string?>? _commandLineSource;

    /// <summary>A subject whose command line is read from <paramref name="commandLineSource"/> when a rule first asks.</summary>
    public static PolicySubject WithCommandLineFrom(string agent, string? role, Func<string?> commandLineSource) =>
        new(agent, role, (string?)null) { _commandLineSource = commandLineSource };

    /// <summary>The command line, read now from its source if it was given one and not read yet.</summary>
    public string? Command()
    {
        if (_commandLineSource is { } source)
        {
            _commandLineSource = null;
            CommandLineRead = source();
        }
        return CommandLineRead ?? CommandLine;
    }

    private string? CommandLineRead { get; set; }
}
