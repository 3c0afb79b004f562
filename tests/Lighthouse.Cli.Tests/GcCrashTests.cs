using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Lighthouse.Mount.Testing;
using Lighthouse.Store;
using Xunit.Abstractions;

namespace Lighthouse.Cli.Tests;

/// <summary>`lighthouse gc` killed (SIGKILL) at random points loses nothing that is still referenced.</summary>
public class GcCrashTests(ITestOutputHelper output)
{
    private static readonly string Lighthouse = Path.Combine(LighthouseMountFixture.FindRepoRoot(), "lighthouse");

    [Fact]
    public void Gc_killed_at_random_points_keeps_every_kept_version_exact_and_the_chain_whole()
    {
        using var project = new TempProject();
        var seed = Environment.GetEnvironmentVariable("LIGHTHOUSE_TEST_SEED") is { } s ? int.Parse(s) : Random.Shared.Next();
        output.WriteLine($"seed {seed} (replay with LIGHTHOUSE_TEST_SEED={seed})");
        var random = new Random(seed);
        var expected = new Dictionary<long, (string Path, string Sha)>(); // every version recorded: its path and the SHA-256 of its bytes
        const int Rounds = 16;
        int killedMidway = 0, finished = 0;
        TimeSpan? fullRun = null;
        for (int round = 0; round < Rounds; round++)
        {
            AddVersions(project, random, expected, round);
            // The first round times a whole gc (process start included); later rounds kill somewhere inside that span.
            var delay = fullRun is null ? (TimeSpan?)null : TimeSpan.FromMilliseconds(random.NextDouble() * fullRun.Value.TotalMilliseconds * 1.1);
            var (killed, elapsed) = RunGc(project, delay);
            if (fullRun is null) fullRun = elapsed;
            if (killed) killedMidway++; else finished++;
            Check(project, expected, $"round {round} ({(killed ? $"killed after {delay!.Value.TotalMilliseconds:0} ms" : "finished")})");
        }
        // And a gc left to finish removes what the killed ones left behind, keeping everything still referenced.
        var (_, last) = RunGc(project, null);
        var stats = Check(project, expected, "final gc");
        output.WriteLine($"{killedMidway} gc runs killed, {finished} finished; a full run took {fullRun!.Value.TotalMilliseconds:0} ms, the last {last.TotalMilliseconds:0} ms; {stats}");
        Assert.True(killedMidway >= Rounds / 3, $"only {killedMidway} of {Rounds} runs were killed before they finished");
    }

    /// <summary>Writes new versions of a few files straight into the store (as a mount would record them).</summary>
    private static void AddVersions(TempProject project, Random random, Dictionary<long, (string, string)> expected, int round)
    {
        using var store = project.OpenStore();
        for (int f = 0; f < 6; f++)
        {
            var path = $"src/f{f}.txt";
            for (int v = 0; v < 4; v++)
            {
                var sb = new StringBuilder();
                int lines = random.Next(2_000, 12_000);
                for (int i = 0; i < lines; i++) sb.Append("round ").Append(round).Append(" line ").Append(i).Append(' ').Append(random.Next()).Append('\n');
                File.WriteAllText(project.PathOf(path), sb.ToString());
                var e = round == 0 && v == 0 ? store.RecordCreate("writer", path) : store.CaptureOnClose("writer", path);
                if (e is not null) expected[e.Seq] = (path, Sha(File.ReadAllBytes(project.PathOf(path))));
            }
        }
    }

    private static (bool Killed, TimeSpan Elapsed) RunGc(TempProject project, TimeSpan? killAfter)
    {
        var psi = new ProcessStartInfo(Lighthouse)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach (var a in new[] { "gc", "--keep-all", "0", "--hourly", "0", "--daily", "forever", "--project", project.Dir }) psi.ArgumentList.Add(a);
        var sw = Stopwatch.StartNew();
        using var p = Process.Start(psi)!;
        p.StandardOutput.ReadToEndAsync();
        p.StandardError.ReadToEndAsync();
        if (killAfter is { } delay && !p.WaitForExit(delay))
        {
            p.Kill(); // SIGKILL
            p.WaitForExit();
            return (true, sw.Elapsed);
        }
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
        return (false, sw.Elapsed);
    }

    /// <summary>Every version either reads back exactly or was thinned (its event kept); the chain verifies.</summary>
    private static string Check(TempProject project, Dictionary<long, (string Path, string Sha)> expected, string when)
    {
        using var store = project.OpenStore();
        Assert.True(store.Verify().Ok, $"{when}: {store.Verify()}");
        int kept = 0, thinned = 0;
        foreach (var (seq, (path, sha)) in expected)
        {
            var content = store.Content(path, seq);
            if (content.State == ContentState.Pruned) { thinned++; continue; }
            Assert.True(content.IsAvailable, $"{when}: {path} @{seq} is not available: {content.Unavailable}");
            Assert.True(sha == Sha(store.ReadAllBytes(path, seq)), $"{when}: {path} @{seq} reads other bytes than it had");
            kept++;
        }
        // The current version of every file is always kept.
        foreach (var f in Enumerable.Range(0, 6))
            Assert.NotEqual(ContentState.Pruned, store.Content($"src/f{f}.txt", StorePoint.Latest).State);
        return $"{kept} versions kept, {thinned} thinned";
    }

    private static string Sha(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));
}
