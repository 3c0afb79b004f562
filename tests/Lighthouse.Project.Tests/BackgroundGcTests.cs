using Lighthouse.Store;

namespace Lighthouse.Project.Tests;

/// <summary>The garbage collection a served project runs by itself, on the project's own policy.</summary>
public sealed class BackgroundGcTests : IDisposable
{
    private readonly TestProject _p = new();

    public void Dispose() => _p.Dispose();

    [Fact]
    public void A_served_project_thins_by_its_retention_json_every_gcEvery_and_reports_it_in_its_status()
    {
        File.WriteAllText(_p.Abs("notes.txt"), "first");
        var host = _p.Open();
        var store = host.Store;
        var versions = new List<long>();
        for (int i = 0; i < 3; i++)
        {
            File.WriteAllText(_p.Abs("notes.txt"), $"version {i} " + new string('x', 1000 * (i + 1)));
            versions.Add(store.CaptureOnClose("alice/editor", "notes.txt")!.Seq);
        }
        // Keep nothing but current versions, and run every second: the first run comes after a second, not ten minutes.
        File.WriteAllText(Path.Combine(_p.Dir, ".lighthouse", "retention.json"), """{"keepAll":"0","hourly":"0","daily":"0","gcEvery":"1s"}""");
        var logged = new List<string>();
        var gc = host.CollectGarbageInBackground(line => { lock (logged) logged.Add(line); });

        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (gc.Runs == 0 && DateTime.UtcNow < deadline) Thread.Sleep(100);

        Assert.True(gc.Runs >= 1, "no background run within 20 s; log: " + string.Join("\n", logged));
        Assert.Null(gc.LastError);
        Assert.True(gc.LastReport!.VersionsPruned >= 2, gc.LastReport.ToString());
        Assert.Equal(ContentState.Pruned, store.Content("notes.txt", versions[0]).State);
        Assert.Equal(ContentState.Pruned, store.Content("notes.txt", versions[1]).State);
        Assert.Equal(File.ReadAllBytes(_p.Abs("notes.txt")), store.ReadAllBytes("notes.txt", versions[2]));
        var status = host.Status();
        Assert.True(status.GcRuns >= 1);
        Assert.NotNull(status.LastGcUtc);
        lock (logged) Assert.Contains(logged, l => l.Contains("thinned", StringComparison.Ordinal));
    }

    [Fact]
    public void An_invalid_retention_json_keeps_everything_and_says_why()
    {
        File.WriteAllText(_p.Abs("a.txt"), "one");
        var host = _p.Open();
        File.WriteAllText(Path.Combine(_p.Dir, ".lighthouse", "retention.json"), """{"keepAll":"seven days"}""");
        var e = Assert.Throws<StoreException>(() => host.Store.Retention);
        Assert.Contains("retention.json", e.Message);
        Assert.Contains("seven days", e.Message);
    }
}
