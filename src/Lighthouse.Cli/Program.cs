using System.CommandLine;
using Lighthouse.Cli.Commands;

Lighthouse.Cli.ProcessName.Set();
var root = new RootCommand("Lighthouse: a filesystem for software projects that several AI agents work on at once.");
root.Subcommands.Add(MountCommand.Create());
root.Subcommands.Add(PassthroughCommand.Create());
StoreVerbs.AddTo(root);
return root.Parse(args, StoreVerbs.ParserConfiguration).Invoke();
