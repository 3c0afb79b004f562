using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;

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
        GcCommand.Create(),
        DuCommand.Create(),
        AgentCommand.Create(),
        PolicyCommand.Create(),
        RunCommand.Create(),
        ServeCommand.Create(),
        McpCommand.Create(),
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
        ShortenListing(root);
    }

    /// <summary>
    /// In a command's list of subcommands, show only the first sentence of each description; the full text with
    /// its examples stays in the subcommand's own --help. (Replaces the root's help action with one that does so.)
    /// </summary>
    public static void ShortenListing(Command root)
    {
        if (root.Options.OfType<HelpOption>().FirstOrDefault() is { Action: SynchronousCommandLineAction original } option
            && original is not ShortListingHelpAction)
            option.Action = new ShortListingHelpAction(original);
    }

    /// <summary>The default help, with the subcommands of the command shown by their summaries.</summary>
    private sealed class ShortListingHelpAction(SynchronousCommandLineAction original) : SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult)
        {
            var saved = parseResult.CommandResult.Command.Subcommands.Select(c => (Command: c, c.Description)).ToList();
            try
            {
                foreach (var (c, d) in saved)
                    if (d is not null) c.Description = Summary(d);
                return original.Invoke(parseResult);
            }
            finally
            {
                foreach (var (c, d) in saved) c.Description = d;
            }
        }
    }

    /// <summary>The first sentence of the first paragraph; if that is long, up to its first colon.</summary>
    public static string Summary(string description)
    {
        var paragraph = description.Split("\n\n")[0].Trim();
        var end = paragraph.IndexOf(". ", StringComparison.Ordinal);
        var sentence = end > 0 ? paragraph[..(end + 1)] : paragraph;
        var colon = sentence.IndexOf(": ", StringComparison.Ordinal);
        return sentence.Length > 100 && colon > 20 ? sentence[..colon] + "." : sentence;
    }
}
