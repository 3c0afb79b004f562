using System.CommandLine;

namespace Lighthouse.Cli.Commands;

/// <summary>The verbs that work on a project's store (all but mount).</summary>
public static class StoreVerbs
{
    public static IEnumerable<Command> Create() =>
    [
        InitCommand.Create(),
        UnmountCommand.Create(),
        StatusCommand.Create(),
        LogCommand.Create(),
        HistoryCommand.Create(),
        DiffCommand.Create(),
        SnapshotCommand.Create(),
        RestoreCommand.Create(),
    ];

    /// <summary>
    /// Parser settings for the lighthouse command line: response files are off, because "@120" is an event number
    /// (a point), not a file of arguments.
    /// </summary>
    public static ParserConfiguration ParserConfiguration => new() { ResponseFileTokenReplacer = null };

    /// <summary>Adds the store verbs to a root command.</summary>
    public static void AddTo(Command root)
    {
        foreach (var c in Create()) root.Subcommands.Add(c);
    }
}
