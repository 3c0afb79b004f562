using Lighthouse.Store;
using static Lighthouse.Project.Tests.TestProject;

namespace Lighthouse.Project.Tests;

/// <summary>Point names resolved to events and the tree as of an event, as history/ and the CLI use them.</summary>
public sealed class HistoryTests : IDisposable
{
    private readonly TestProject _p = new();
    public void Dispose() => _p.Dispose();

    [Fact]
    public void Point_names_resolve_to_recorded_events_only()
    {
        var host = _p.Open();
        _p.Create(Alice, "a", "1");
        host.Recorder.Flush();
        long last = host.Store.LastSeq;
        var history = host.History;
        Assert.Equal(1, history.ResolvePoint("@1"));
        Assert.Equal(last, history.ResolvePoint($"@{last}"));
        Assert.Null(history.ResolvePoint($"@{last + 1}"));       // not recorded yet
        Assert.Null(history.ResolvePoint("latest"));             // moves: no fixed point
        Assert.Null(history.ResolvePoint("@0"));
        Assert.Null(history.ResolvePoint("@-3"));
        Assert.Null(history.ResolvePoint("no-such-snapshot"));
        Assert.Null(history.ResolvePoint(new string('x', 300)));
        Assert.Equal(last, history.ResolvePoint(DateTime.UtcNow.AddMinutes(1).ToString("yyyy-MM-ddTHH:mm:ssZ")));
        host.Store.CreateSnapshot(Alice.Name, "v1", StorePoint.AtEvent(last));
        Assert.Equal(last, history.ResolvePoint("v1"));
    }

    [Fact]
    public void Listing_all_points_shows_snapshots_then_the_ten_newest_events()
    {
        var host = _p.Open();
        for (int i = 0; i < 15; i++) _p.Create(Alice, $"f{i}", "");
        host.Recorder.Flush();
        host.Store.CreateSnapshot(Alice.Name, "before-refactor", StorePoint.AtEvent(3));
        long last = host.Store.LastSeq;
        var names = host.History.PointNames();
        Assert.Equal("before-refactor", names[0]);
        Assert.Equal(Enumerable.Range(0, ProjectHistoryRecent).Select(i => $"@{last - i}"), names.Skip(1));
    }

    private const int ProjectHistoryRecent = History.ProjectHistory.RecentPoints;

    [Fact]
    public void The_tree_as_of_an_event_is_what_it_was_then()
    {
        var host = _p.Open();
        Directory.CreateDirectory(_p.Abs("src"));
        var (k, f) = _p.Stat("src");
        host.Recorder.Created(Alice, "src", k, f);
        _p.Create(Alice, "src/main.c", "v1");
        host.Recorder.Flush();
        long v1 = host.Store.LastSeq;
        File.WriteAllText(_p.Abs("src/main.c"), "version two");
        _p.Written(Bob, "src/main.c");
        host.Recorder.Flush();
        long v2 = host.Store.LastSeq;

        var h = host.History;
        Assert.Equal(FileKind.Directory, h.Lookup(v1, "", "src")!.Kind);
        Assert.Null(h.Lookup(v1, "src", "missing.c"));
        Assert.Null(h.Lookup(1, "", "src")); // not there yet at the first event
        Assert.Equal(["main.c"], h.List(v1, "src")!.Select(e => e.Name));
        Assert.Null(h.List(v1, "src/main.c/not-a-dir"));
        Assert.Equal(2, h.Attributes(v1, "src/main.c")!.Size);
        Assert.Equal(11, h.Attributes(v2, "src/main.c")!.Size);
        Assert.Null(h.Attributes(v1, "nothing"));
        Assert.Equal("v1", System.Text.Encoding.UTF8.GetString(History.ProjectHistory.ReadAll(h.Store, h.Content(v1, "src/main.c")!, $"@{v1}")));
        Assert.Equal("version two", System.Text.Encoding.UTF8.GetString(History.ProjectHistory.ReadAll(h.Store, h.Content(v2, "src/main.c")!, $"@{v2}")));
        Assert.Null(h.Content(v1, "nothing"));
    }

    [Fact]
    public void A_symlink_s_target_is_kept_as_bytes()
    {
        var host = _p.Open();
        File.CreateSymbolicLink(_p.Abs("link"), "../somewhere/else");
        var (k, f) = _p.Stat("link");
        host.Recorder.Created(Alice, "link", k, f);
        host.Recorder.Flush();
        Assert.Equal("../somewhere/else"u8.ToArray(), host.History.SymlinkTarget(host.Store.LastSeq, "link"));
    }

    [Fact]
    public void Content_that_was_never_kept_says_why()
    {
        File.WriteAllText(_p.Abs("baseline.txt"), "from before the first mount");
        var host = _p.Open();
        long at = host.Store.LastSeq;
        File.WriteAllText(_p.Abs("baseline.txt"), "changed beside, and not captured"); // nobody saved the first bytes
        var content = host.History.Content(at, "baseline.txt")!;
        Assert.False(content.IsAvailable); // the live file no longer matches that version: never serve wrong bytes
        var e = Assert.Throws<ContentUnavailableException>(() => History.ProjectHistory.Open(host.Store, content, $"@{at}"));
        Assert.Contains("baseline.txt", e.Message);
    }
}
