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
        // Each round kills one gc: in turn, a few milliseconds after it announced each of its phases (inside its
        // transaction, after its commit, during the vacuum), or at a random moment of its whole run (start-up included).
        var aims = GarbagePhases.Select(p => (string?)p).Append(null).ToArray();
        int rounds = aims.Length * 4;
        var killedIn = new Dictionary<string, int>();
        int finished = 0;
        TimeSpan fullRun = RunGc(project, null, null, random).Elapsed;
        for (int round = 0; round < rounds; round++)
        {
            AddVersions(project, random, expected, round);
            var aim = aims[round % aims.Length];
            var (killed, _, where) = RunGc(project, aim, fullRun, random);
            var key = aim ?? "any moment";
            if (killed) killedIn[key] = killedIn.GetValueOrDefault(key) + 1; else finished++;
            output.WriteLine($"round {round}: {(killed ? $"killed {where}" : "finished before its kill")}");
            Check(project, expected, $"round {round} ({(killed ? $"killed {where}" : "finished")})");
        }
        // And a gc left to finish removes what the killed ones left behind, keeping everything still referenced.
        RunGc(project, null, null, random);
        var stats = Check(project, expected, "final gc");
        output.WriteLine($"kills: {string.Join("; ", killedIn.Select(k => $"{k.Value} x {k.Key}"))}; {finished} finished; {stats}");
        // Every phase was hit by a kill at least once (a gc that finished before its kill came does not count).
        foreach (var phase in GarbagePhases)
            Assert.True(killedIn.ContainsKey(phase), $"no gc was killed during '{phase}': {string.Join(", ", killedIn.Keys)}");
    }

    /// <summary>The phases `lighthouse gc` announces on stderr, in order.</summary>
    private static readonly IReadOnlyList<string> GarbagePhases = global::Lighthouse.Store.Retention.GcReport.Phases;

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

    /// <summary>Runs `lighthouse gc` (thinning all but the current versions). With <paramref name="aim"/>, kills it (SIGKILL)
    /// 0-20 ms after it announces that phase; with <paramref name="fullRun"/> alone, at a random moment of a run that long.</summary>
    private static (bool Killed, TimeSpan Elapsed, string Where) RunGc(TempProject project, string? aim, TimeSpan? fullRun, Random random)
    {
        var psi = new ProcessStartInfo(Lighthouse)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach (var a in new[] { "gc", "--keep-all", "0", "--hourly", "0", "--daily", "forever", "--project", project.Dir }) psi.ArgumentList.Add(a);
        var sw = Stopwatch.StartNew();
        using var p = Process.Start(psi)!;
        p.StandardOutput.ReadToEndAsync();
        using var announced = new ManualResetEventSlim();
        var stderr = new StringBuilder();
        var reader = Task.Run(() =>
        {
            while (p.StandardError.ReadLine() is { } line)
            {
                lock (stderr) stderr.AppendLine(line);
                if (aim is not null && line.Contains(aim, StringComparison.Ordinal)) announced.Set();
            }
        });
        if (aim is not null || fullRun is not null)
        {
            string where;
            if (aim is not null)
            {
                // The phase, or the end of the run if it never came (a dry phase, or too fast to catch).
                WaitHandle.WaitAny([announced.WaitHandle, ((IAsyncResult)reader).AsyncWaitHandle], TimeSpan.FromSeconds(60));
                var delay = random.Next(0, 21);
                if (delay > 0) Thread.Sleep(delay);
                where = $"{delay} ms after '{aim}'";
            }
            else
            {
                var delay = TimeSpan.FromMilliseconds(random.NextDouble() * fullRun!.Value.TotalMilliseconds * 1.1);
                p.WaitForExit(delay);
                where = $"at {delay.TotalMilliseconds:0} ms (any moment)";
            }
            if (!p.HasExited)
            {
                p.Kill(); // SIGKILL
                p.WaitForExit();
                return (true, sw.Elapsed, where);
            }
        }
        p.WaitForExit();
        reader.Wait();
        Assert.True(p.ExitCode == 0, $"gc failed ({p.ExitCode}): {stderr}");
        return (false, sw.Elapsed, "");
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
