using System.Globalization;
using Lighthouse.Record.Tests.Workload;

namespace Lighthouse.Record.Tests;

/// <summary>
/// The test assembly is also a program: the tests start it as their child processes, and it checks a mount by hand.
/// Under `dotnet test` this Main is not used.
/// <code>
/// dotnet Lighthouse.Record.Tests.dll check &lt;project-dir&gt; &lt;mount-point&gt;      compare current/ with history/ at the last event
/// dotnet Lighthouse.Record.Tests.dll workload &lt;name&gt; &lt;seed&gt; &lt;ops&gt; &lt;own-dir&gt; &lt;shared-dir&gt;
/// dotnet Lighthouse.Record.Tests.dll slow-writer &lt;name&gt; &lt;file&gt; &lt;lines&gt;
/// </code>
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        switch (args)
        {
            case ["check", var project, var mountPoint]:
                var result = RecordCheck.Run(Path.GetFullPath(project), Path.GetFullPath(mountPoint));
                Console.WriteLine(result.Describe(maxLines: 200));
                return result.Clean ? 0 : 1;
            case ["workload", var name, var seed, var operations, var own, var shared]:
                ChildProcess.NameThisProcess(name);
                var skip = (Environment.GetEnvironmentVariable("LIGHTHOUSE_TEST_RANDOM_SKIP") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries).ToHashSet();
                using (var workload = new StressWorkload(new WorkloadOptions(name, Number(seed), Number(operations), own, shared, skip)))
                    Console.WriteLine(workload.Run().ToJson());
                return 0;
            case ["slow-writer", var name, var file, var lines]:
                ChildProcess.NameThisProcess(name);
                return SlowWriter.Run(file, Number(lines));
            default:
                Console.Error.WriteLine("usage: Lighthouse.Record.Tests check <project-dir> <mount-point>\n" +
                                        "       Lighthouse.Record.Tests workload <name> <seed> <operations> <own-dir> <shared-dir>\n" +
                                        "       Lighthouse.Record.Tests slow-writer <name> <file> <lines>");
                return 2;
        }
    }

    private static int Number(string text) => int.Parse(text, CultureInfo.InvariantCulture);
}
