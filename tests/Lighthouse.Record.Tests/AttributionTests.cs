using System.Globalization;

namespace Lighthouse.Record.Tests;

/// <summary>
/// Who made a change: a process keeps a file of current/ open and writes a line every second for ten seconds
/// (its writes reach the disk through the descriptor it opened, through the kernel's passthrough when that is on);
/// meanwhile another file is edited directly in the project directory, beside the mount. Every event about the
/// first file must be the writer's, every event about the second `external`.
/// </summary>
public sealed class AttributionTests(ITestOutputHelper output)
{
    private const string WriterName = "slow-writer";
    private const int Lines = 10;

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_file_held_open_and_written_for_seconds_is_its_writers_and_an_edit_beside_the_mount_is_external(bool kernelPassthrough)
    {
        using var mount = kernelPassthrough ? new LighthouseMountFixture() : LighthouseMountFixture.WithOptions("--no-kernel-passthrough");
        Assert.Contains($"kernel passthrough {(kernelPassthrough ? "on" : "off")}", mount.Log);
        Directory.CreateDirectory(Path.Combine(mount.Current, "logs"));
        long start = MountControl.WaitUntilIdle(mount.Project).LastSeq;

        using var writer = ChildProcess.Start("slow-writer", WriterName, Path.Combine(mount.Current, "logs/build.log"),
            Lines.ToString(CultureInfo.InvariantCulture));
        var opened = System.Diagnostics.Stopwatch.StartNew();
        while (!writer.Output.Contains("open", StringComparison.Ordinal))
        {
            Assert.True(opened.Elapsed < TimeSpan.FromMinutes(1), "the writer did not open its file: " + writer.Errors);
            Thread.Sleep(50);
        }
        // While it is open and being written: edit another file straight in the project directory, twice.
        string beside = Path.Combine(mount.Project, "logs/beside.txt");
        Thread.Sleep(3000);
        File.WriteAllText(beside, "edited beside the mount\n");
        Thread.Sleep(3000);
        File.AppendAllText(beside, "and again\n");
        Assert.Equal(0, writer.Wait(TimeSpan.FromMinutes(1)));

        var problems = RecordAssert.Problems(mount, output);
        var events = mount.Events(start);
        foreach (var e in events) output.WriteLine($"@{e.Seq} {e.Agent} {e.Op} {e.Path} {e.Path2}");
        var ofLog = events.Where(e => e.Path == "logs/build.log" || e.Path2 == "logs/build.log").ToList();
        var ofBeside = events.Where(e => e.Path == "logs/beside.txt" || e.Path2 == "logs/beside.txt").ToList();
        if (!ofLog.Any(e => e.Op == "write")) problems.Add("no write of logs/build.log was recorded");
        if (!ofBeside.Any(e => e.Op is "write" or "create")) problems.Add("the edit of logs/beside.txt beside the mount was not recorded");
        var wrong = ofLog.Where(e => e.Agent != $"root/{WriterName}")
            .Concat(ofBeside.Where(e => e.Agent != "external"))
            .Select(e => $"@{e.Seq} {e.Op} {e.Path} by {e.Agent}").ToList();
        if (wrong.Count > 0)
            problems.Add($"events attributed wrongly (logs/build.log is root/{WriterName}'s, logs/beside.txt external's):\n  " + string.Join("\n  ", wrong));
        RecordAssert.NoProblems(problems);
    }
}
