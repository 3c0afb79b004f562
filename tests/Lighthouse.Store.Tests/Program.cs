namespace Lighthouse.Store.Tests;

/// <summary>
/// The test assembly doubles as the crash-test child: <c>dotnet Lighthouse.Store.Tests.dll crash-writer &lt;dir&gt; &lt;seed&gt;</c>.
/// Under <c>dotnet test</c> this Main is not used (the test host loads the assembly).
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length == 3 && args[0] == "crash-writer")
            return CrashWriter.Run(args[1], int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture));
        Console.Error.WriteLine("usage: Lighthouse.Store.Tests crash-writer <project-dir> <seed>");
        return 2;
    }
}
