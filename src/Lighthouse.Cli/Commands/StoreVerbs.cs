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

    /// <summary>Adds the store verbs to a root command.</summary>
    public static void AddTo(Command root)
    {
        foreach (var c in Create()) root.Subcommands.Add(c);
    }
}
