namespace Lighthouse.Record.Tests.Checking;

/// <summary>The assertions every record test ends with.</summary>
public static class RecordAssert
{
    /// <summary>
    /// The record is exact: history/ at the last event reproduces current/ (<see cref="RecordCheck"/>), the mount
    /// counted no recording failure, and its log has no "could not record". Writes the check to the test's output
    /// whatever it found; fails with every problem at once, after <paramref name="context"/> (a seed, say).
    /// </summary>
    public static void Exact(LighthouseMountFixture mount, ITestOutputHelper output, string context = "") =>
        NoProblems(Problems(mount, output), context);

    /// <summary>Checks the record as <see cref="Exact"/> does (writing the check to the output) and returns what is
    /// wrong with it, for a test that has more to check before it fails.</summary>
    public static List<string> Problems(LighthouseMountFixture mount, ITestOutputHelper output)
    {
        var result = RecordCheck.Run(mount);
        output.WriteLine(result.Describe(maxLines: 200));
        return Problems(mount, result);
    }

    /// <summary>Fails with every problem found, after <paramref name="context"/>.</summary>
    public static void NoProblems(List<string> problems, string context = "") =>
        Assert.True(problems.Count == 0, context + string.Join("\n\n", problems));

    /// <summary>What is wrong with the record of <paramref name="mount"/>, given a check of it: nothing when it is exact.</summary>
    public static List<string> Problems(LighthouseMountFixture mount, RecordCheckResult result)
    {
        var problems = new List<string>();
        if (!result.Clean) problems.Add("history/ does not reproduce current/:\n" + result.Describe());
        if (result.After.Failures > 0) problems.Add($"the mount counted {result.After.Failures} recording failures");
        var couldNot = mount.Log.Split('\n').Where(l => l.Contains("could not record", StringComparison.Ordinal)).ToList();
        if (couldNot.Count > 0)
            problems.Add($"the mount's log has {couldNot.Count} \"could not record\" lines, first ones:\n  " +
                         string.Join("\n  ", couldNot.Take(15).Select(l => TreeDifference.Shorten(l.Trim()))));
        return problems;
    }
}
