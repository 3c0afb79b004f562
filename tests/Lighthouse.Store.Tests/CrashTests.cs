using System.Diagnostics;
using System.Globalization;
using Lighthouse.Interop;
using Lighthouse.Store;
using Xunit.Abstractions;

namespace Lighthouse.Store.Tests;

/// <summary>
/// SIGKILLs a child process in the middle of heavy mutation, many times over the same project.
/// After each kill: the chain verifies, every event the child saw committed is in the log, the
/// index rebuilt from the log is identical to the live one, and reconciliation brings the index
/// to exactly what the directory holds.
/// </summary>
public class CrashTests(ITestOutputHelper output)
{
    private const int Rounds = 8;

    [Fact]
    public void Killing_the_writer_loses_no_committed_event_and_leaves_a_consistent_store()
    {
        using var project = new TempProject();
        project.Write("seed/readme.md", "before the first crash");
        var assembly = typeof(CrashWriter).Assembly.Location;
        var rng = new Random(4242);
        long totalCommitted = 0;

        for (var round = 0; round < Rounds; round++)
        {
            var committed = new List<(long Seq, string Op, string Path)>();
            var errors = new List<string>();
            var psi = new ProcessStartInfo("dotnet", ["exec", assembly, "crash-writer", project.Dir, round.ToString(CultureInfo.InvariantCulture)])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            using var child = Process.Start(psi)!;
            var enough = new ManualResetEventSlim();
            var target = 40 + rng.Next(200);
            child.OutputDataReceived += (_, e) =>
            {
                if (e.Data is null) return;
                lock (committed)
                {
                    if (e.Data.StartsWith("OK ", StringComparison.Ordinal))
                    {
                        var parts = e.Data.Split(' ', 4);
                        committed.Add((long.Parse(parts[1], CultureInfo.InvariantCulture), parts[2], parts.Length > 3 ? parts[3] : ""));
                        if (committed.Count >= target) enough.Set();
                    }
                    else errors.Add(e.Data);
                }
            };
            child.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (committed) errors.Add(e.Data); };
            child.BeginOutputReadLine();
            child.BeginErrorReadLine();
            var reached = enough.Wait(TimeSpan.FromSeconds(60));
            Thread.Sleep(rng.Next(0, 30)); // land the kill at an arbitrary moment of the work
            Assert.Equal(0, Libc.Kill(child.Id, Libc.SIGKILL));
            child.WaitForExit();
            lock (committed)
            {
                Assert.True(errors.Count == 0, "child reported: " + string.Join("\n", errors));
                Assert.True(reached, $"the child committed only {committed.Count} events in 60 s");
            }
            Assert.Equal(137, child.ExitCode);

            List<(long Seq, string Op, string Path)> seen;
            lock (committed) seen = [.. committed];
            totalCommitted += seen.Count;

            // 1. Without reconciling: chain, committed events, index = rebuild.
            using (var store = ProjectStore.Open(project.Dir, new StoreOptions { ReconcileOnOpen = false }))
            {
                var verify = store.Verify();
                Assert.True(verify.Ok, verify.ToString());
                foreach (var (seq, op, path) in seen)
                {
                    var e = store.Log(new LogQuery { BeforeSeq = seq + 1, Limit = 1 }).Events.Single();
                    Assert.Equal((seq, op, path), (e.Seq, e.Op.ToString(), e.Path));
                }
                var rebuild = store.RebuildIndex();
                Assert.True(rebuild.AgreedWithPrevious, $"round {round}: the index disagreed with the log");
            }

            // 2. Reconciling records what the directory holds beyond the log, as 'external'.
            using (var store = ProjectStore.Open(project.Dir, new StoreOptions()))
            {
                Assert.All(store.OpenReport!.Events, e => Assert.Equal(StoreConstants.ExternalAgent, e.Agent));
                Assert.Equal(TreeReader.ReadDisk(project.Dir), TreeReader.Read(store, StorePoint.Latest));
                Assert.True(store.Verify().Ok);
                output.WriteLine($"round {round} ({(round % 2 == 0 ? "FULL" : "NORMAL")}): {seen.Count} events seen committed, log at @{store.LastSeq}, reconciliation added {store.OpenReport.Events.Count}");
            }
        }
        Assert.True(totalCommitted >= Rounds * 40);
    }
}
