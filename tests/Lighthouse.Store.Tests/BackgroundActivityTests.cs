namespace Lighthouse.Store.Tests;

/// <summary>Tests of process-wide state: they run alone, after the parallel ones.</summary>
[CollectionDefinition(nameof(ProcessWideState), DisableParallelization = true)]
public class ProcessWideState { }

[Collection(nameof(ProcessWideState))]
public class BackgroundActivityTests
{
    private static bool Eventually(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) return false;
            Thread.Sleep(5);
        }
        return true;
    }

    [Fact]
    public async Task The_store_writer_is_busy_while_it_has_work_and_idle_once_it_waits_for_more()
    {
        // The FUSE ring threads reply at idle priority only while no background thread is busy,
        // so a writer that stayed "busy" would switch that off for good, and one never "busy" would
        // leave them waiting behind it.
        using var project = new TempProject();
        using var store = project.Open();
        Assert.True(Eventually(() => !BackgroundThread.AnyBusy), "background threads still busy after opening the store");

        using var release = new ManualResetEventSlim();
        var held = store.Writer.SubmitAsync(_ => { release.Wait(); return 0; });
        Assert.True(Eventually(() => BackgroundThread.AnyBusy), "the writer ran an item without counting as busy");
        release.Set();
        await held;
        Assert.True(Eventually(() => !BackgroundThread.AnyBusy), "the writer stayed busy after its queue ran dry");

        project.Write("a.txt", "a");
        store.RecordCreate("builder", "a.txt");
        Assert.True(Eventually(() => !BackgroundThread.AnyBusy), "the writer stayed busy after a recorded change");
    }
}
