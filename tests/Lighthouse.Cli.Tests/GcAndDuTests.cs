using System.Text.Json.Nodes;

namespace Lighthouse.Cli.Tests;

/// <summary>`lighthouse gc` and `lighthouse du` on a project that is not mounted.</summary>
public class GcAndDuTests
{
    [Fact]
    public void Gc_dry_run_changes_nothing_gc_thins_and_du_and_history_show_it()
    {
        using var project = new TempProject();
        using (var store = project.OpenStore())
        {
            for (int i = 0; i < 4; i++)
            {
                // Unrelated bytes each time: each version stored on its own (a near copy would be a delta the next keeps).
                var random = new Random(i);
                File.WriteAllText(project.PathOf("src/a.txt"), string.Concat(Enumerable.Range(0, 3000).Select(n => $"{n} {random.Next()}\n")));
                store.CaptureOnClose("dev", "src/a.txt");
            }
        }
        JsonObject Du()
        {
            var r = project.Cli("du", "--json");
            Assert.True(r.Code == 0, r.ToString());
            return (JsonObject)JsonNode.Parse(r.Out)!;
        }
        var before = Du();
        string[] keepNothingOld = ["--keep-all", "0", "--hourly", "0", "--daily", "0", "--json"];

        var dry = project.Cli(["gc", "--dry-run", .. keepNothingOld]);
        Assert.True(dry.Code == 0, dry.ToString());
        var dryReport = (JsonObject)JsonNode.Parse(dry.Out)!;
        Assert.True(dryReport["dryRun"]!.GetValue<bool>());
        // The baseline of a.txt (never captured) has no bytes to thin; the first three captured versions do.
        Assert.Equal(3, dryReport["versionsPruned"]!.GetValue<long>());
        Assert.Equal(before.ToJsonString(), Du().ToJsonString());

        var run = project.Cli(["gc", .. keepNothingOld]);
        Assert.True(run.Code == 0, run.ToString());
        Assert.Equal(3, ((JsonObject)JsonNode.Parse(run.Out)!)["versionsPruned"]!.GetValue<long>());
        var after = Du();
        Assert.Equal(3, after["prunedVersions"]!.GetValue<long>());
        Assert.True(after["chunkStoredBytes"]!.GetValue<long>() < before["chunkStoredBytes"]!.GetValue<long>());
        Assert.Equal("src/a.txt", after["largest"]![0]!["path"]!.GetValue<string>());

        var history = project.Cli("history", "src/a.txt");
        Assert.True(history.Code == 0, history.ToString());
        Assert.Equal(3, history.Out.Split('\n').Count(l => l.Contains("thinned", StringComparison.Ordinal)));

        var text = project.Cli("du");
        Assert.Contains("de-duplication:", text.Out);
        Assert.Contains("src/a.txt", text.Out);
    }

    [Fact]
    public void Gc_refuses_a_policy_it_cannot_read_with_a_usage_error()
    {
        using var project = new TempProject();
        var r = project.Cli("gc", "--keep-all", "a week");
        Assert.NotEqual(0, r.Code);
        Assert.Contains("a week", r.Err);
    }
}
