namespace Lighthouse.Record.Tests.Checking;

/// <summary>The assertions every record test ends with.</summary>
public static partial class RecordAssert
{
    /// <summary>What the mount logs when a change is lost: the recorder's "could not record a change: …" (the store
    /// refused it; counted in the status) and the observer's "recording &lt;Opcode&gt; (pid …) failed: …" (no record was
    /// even made, e.g. for want of a path; not counted anywhere else).</summary>
    [System.Text.RegularExpressions.GeneratedRegex(@"could not record|lighthouse: recording \w+ \(pid \d+\) failed")]
    private static partial System.Text.RegularExpressions.Regex LostRecord();

    /// <summary>
    /// The record is exact: history/ at the last event reproduces current/ (<see cref="RecordCheck"/>), the mount
    /// counted no recording failure, and its log tells of no change it could not record. Writes the check to the test's output
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
        var lost = mount.Log.Split('\n').Where(l => LostRecord().IsMatch(l)).ToList();
        if (lost.Count > 0)
            problems.Add($"the mount's log has {lost.Count} lines about changes it could not record, first ones:\n  " +
                         string.Join("\n  ", lost.Take(15).Select(l => TreeDifference.Shorten(l.Trim()))));
        return problems;
    }
}
