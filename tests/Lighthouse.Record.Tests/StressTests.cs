using System.Globalization;
using Lighthouse.Record.Tests.Workload;

namespace Lighthouse.Record.Tests;

/// <summary>
/// Several processes at once run the fsstress-like workload in current/, each in its own subtree and all in a
/// shared one; then the record must be exact and every change attributed to the process that made it.
/// LIGHTHOUSE_TEST_SEED replays a run (the seed is in the output and in every failure);
/// LIGHTHOUSE_TEST_RANDOM_OPS changes the number of operations per process.
/// </summary>
public sealed class StressTests(ITestOutputHelper output)
{
    private const int Processes = 4;

    [Fact]
    public void Four_processes_at_once_leave_a_record_that_history_reproduces_exactly()
    {
        int operations = TestSeed.Number("LIGHTHOUSE_TEST_RANDOM_OPS") ?? 2000;
        var (seed, context) = TestSeed.Start(output, $"{Processes} processes × {operations} operations");
        using var mount = new LighthouseMountFixture();
        Directory.CreateDirectory(Path.Combine(mount.Current, "shared"));
        for (int i = 1; i <= Processes; i++) Directory.CreateDirectory(Path.Combine(mount.Current, $"w{i}"));
        long start = MountControl.WaitUntilIdle(mount.Project).LastSeq;

        var workers = Enumerable.Range(1, Processes).Select(i => ChildProcess.Start("workload", $"stress-{i}",
            (seed + i).ToString(CultureInfo.InvariantCulture), operations.ToString(CultureInfo.InvariantCulture),
            Path.Combine(mount.Current, $"w{i}"), Path.Combine(mount.Current, "shared"))).ToList();
        var problems = new List<string>();
        var total = new OperationStats { Name = "all" };
        foreach (var (worker, i) in workers.Select((w, i) => (w, i + 1)))
        {
            using (worker)
            {
                int exit = worker.Wait(TimeSpan.FromMinutes(5));
                var line = worker.Output.Split('\n').FirstOrDefault(l => l.StartsWith('{'));
                if (exit != 0 || line is null) { problems.Add($"stress-{i} exited with {exit}:\n{worker.Output}{worker.Errors}"); continue; }
                total.Add(OperationStats.FromJson(line));
            }
        }
        output.WriteLine(total.Describe());
        if (total.UnexpectedCount > 0) problems.Add($"{total.UnexpectedCount} calls failed with errors no correct file system gives:\n" + total.Describe());

        problems.AddRange(RecordAssert.Problems(mount, output));
        problems.AddRange(MisattributedEvents(mount.Events(start)));
        RecordAssert.NoProblems(problems, context);
    }

    /// <summary>Every event is some stress-j's (none `external`: nothing was changed beside the mount), and the
    /// names a request gave are the requester's: only stress-i creates, removes or renames in w{i}/, or links a
    /// new name there. (A write, an attribute change or a link's source is recorded under any one of the file's
    /// names, and a file of w{i}/ may have another in shared/ that others change it through. A directory moved into
    /// w{i}/ from elsewhere brings its own rules: another process may still hold a descriptor of it, or of a
    /// directory inside, and make names there by that descriptor.)</summary>
    private static IEnumerable<string> MisattributedEvents(List<LighthouseMountFixture.Event> events)
    {
        var wrong = new List<string>();
        var movedIn = new List<string>(); // names in some w{i}/ that came from outside it, and what is under them
        bool CameFromElsewhere(string path) => movedIn.Any(m => path == m || path.StartsWith(m + "/", StringComparison.Ordinal));
        foreach (var e in events)
        {
            if (e.Op is "rename" or "exchange" && e.Path2 is not null)
            {
                if (Owner(e.Path2) is { } to && Owner(e.Path) != to) movedIn.Add(e.Path2);
                if (e.Op == "exchange" && Owner(e.Path) is { } back && Owner(e.Path2) != back) movedIn.Add(e.Path);
            }
            string?[] named = e.Op switch
            {
                "create" or "mkdir" or "symlink" or "unlink" or "rmdir" or "rename" => [e.Path, e.Path2],
                "link" => [e.Path2],
                _ => [],
            };
            string? owner = named.Select(p => p is null || CameFromElsewhere(p) ? null : Owner(p)).FirstOrDefault(o => o is not null);
            bool ok = owner is null ? e.Agent.StartsWith("root/stress-", StringComparison.Ordinal) : e.Agent == $"root/{owner}";
            if (!ok) wrong.Add($"@{e.Seq} {e.Op} {TreeDifference.Shorten(e.Path)} {TreeDifference.Shorten(e.Path2 ?? "")} by {e.Agent}" +
                               (owner is null ? "" : $" (only {owner} names entries there)"));
        }
        if (wrong.Count == 0) yield break;
        yield return $"{wrong.Count} events attributed to the wrong agent, first ones:\n  " + string.Join("\n  ", wrong.Take(20));

        static string? Owner(string path) =>
            path.StartsWith('w') && path.IndexOf('/') is > 1 and var slash && int.TryParse(path.AsSpan(1, slash - 1), out int i) ? $"stress-{i}" : null;
    }
}
