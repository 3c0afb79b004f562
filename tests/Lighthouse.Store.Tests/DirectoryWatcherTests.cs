using System.Diagnostics;
using Xunit.Abstractions;
using Lighthouse.Store;

namespace Lighthouse.Store.Tests;

/// <summary>
/// The raw-inotify watcher. Positive checks wait for the expected paths with a deadline; negative
/// checks ("nothing from there") write a sentinel file after the change that must stay unseen and
/// wait for the sentinel: the kernel queues events in order, so anything the first change raised
/// would have been delivered by then.
/// </summary>
public class DirectoryWatcherTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(5);

    /// <summary>Collects every batch the watcher delivers.</summary>
    private sealed class Seen
    {
        private readonly List<WatchBatch> _batches = [];
        private readonly HashSet<string> _paths = new(StringComparer.Ordinal);

        public void Add(WatchBatch batch)
        {
            lock (_batches)
            {
                _batches.Add(batch);
                _paths.UnionWith(batch.Paths);
                Monitor.PulseAll(_batches);
            }
        }

        public List<WatchBatch> Batches { get { lock (_batches) return [.. _batches]; } }

        public HashSet<string> Paths { get { lock (_batches) return [.. _paths]; } }

        /// <summary>Forgets what was seen (the next checks look only at what comes after).</summary>
        public void Clear() { lock (_batches) { _batches.Clear(); _paths.Clear(); } }

        public void WaitFor(params string[] paths)
        {
            var sw = Stopwatch.StartNew();
            lock (_batches)
            {
                while (!paths.All(_paths.Contains))
                {
                    var left = Deadline - sw.Elapsed;
                    if (left <= TimeSpan.Zero)
                        Assert.Fail($"not reported within {Deadline.TotalSeconds} s: {string.Join(", ", paths.Where(p => !_paths.Contains(p)).Take(10))}" +
                            $"\nreported: {string.Join(", ", _paths.Order().Take(30))}");
                    Monitor.Wait(_batches, left);
                }
            }
        }
    }

    private static DirectoryWatcher Watch(TempProject project, Seen seen, Func<string, bool>? exclude = null) =>
        new(project.Dir, seen.Add, exclude ?? DirectoryWatcher.ExcludeStoreState);

    [Fact]
    public void Creates_modifications_deletes_and_renames_of_files_are_reported()
    {
        using var project = new TempProject();
        project.Write("old.txt", "o");
        project.Write("dir/kept.txt", "k");
        var seen = new Seen();
        using var watcher = Watch(project, seen);

        project.Write("new.txt", "n");
        seen.WaitFor("new.txt");
        seen.Clear();
        File.AppendAllText(project.Abs("dir/kept.txt"), "more");
        seen.WaitFor("dir/kept.txt");
        seen.Clear();
        File.Delete(project.Abs("new.txt"));
        seen.WaitFor("new.txt");
        seen.Clear();
        File.Move(project.Abs("old.txt"), project.Abs("dir/renamed.txt"));
        seen.WaitFor("old.txt", "dir/renamed.txt");
        seen.Clear();
        File.SetUnixFileMode(project.Abs("dir/renamed.txt"), UnixFileMode.UserRead);
        seen.WaitFor("dir/renamed.txt");
        seen.Clear();
        File.SetUnixFileMode(project.Abs("dir"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        seen.WaitFor("dir");
        Assert.All(seen.Batches, b => Assert.False(b.Overflowed));
    }

    [Fact]
    public void Deletes_and_renames_name_both_sides()
    {
        using var project = new TempProject();
        project.Write("a.txt", "a");
        project.Write("b.txt", "b");
        var seen = new Seen();
        using var watcher = Watch(project, seen);

        File.Delete(project.Abs("a.txt"));
        File.Move(project.Abs("b.txt"), project.Abs("c.txt"));
        seen.WaitFor("a.txt", "b.txt", "c.txt");
    }

    [Fact]
    public void A_new_directory_is_watched_and_what_was_made_in_it_before_its_watch_is_reported()
    {
        using var project = new TempProject();
        var seen = new Seen();
        using var watcher = Watch(project, seen);

        // Made in one go: most of these exist before the watcher has even read the first IN_CREATE.
        var expected = new List<string> { "new", "new/deep", "new/deep/er" };
        for (int i = 0; i < 20; i++)
        {
            project.Write($"new/f{i}.txt", "x");
            project.Write($"new/deep/er/g{i}.txt", "y");
            expected.Add($"new/f{i}.txt");
            expected.Add($"new/deep/er/g{i}.txt");
        }
        seen.WaitFor([.. expected]);

        // And it is watched from now on.
        seen.Clear();
        File.AppendAllText(project.Abs("new/deep/er/g3.txt"), "later");
        seen.WaitFor("new/deep/er/g3.txt");
    }

    [Fact]
    public void Directories_deeper_than_PATH_MAX_are_watched_too()
    {
        using var project = new TempProject();
        var seen = new Seen();
        using var watcher = Watch(project, seen);

        using var bottom = DeepTree.Walk(project.Dir, create: true);
        DeepTree.Write(bottom, "deep.txt", "x");
        seen.WaitFor(DeepTree.Path + "/deep.txt");
        seen.Clear();
        DeepTree.Write(bottom, "deep.txt", "changed");
        seen.WaitFor(DeepTree.Path + "/deep.txt");
        Assert.All(seen.Batches, b => Assert.False(b.Overflowed));
    }

    [Fact]
    public void A_directory_moved_in_from_outside_the_tree_is_watched_and_its_contents_reported()
    {
        using var outside = new TempProject();
        using var project = new TempProject();
        File.WriteAllText(Path.Combine(outside.Dir, "x.txt"), "x");
        Directory.CreateDirectory(Path.Combine(outside.Dir, "sub"));
        File.WriteAllText(Path.Combine(outside.Dir, "sub", "y.txt"), "y");
        var seen = new Seen();
        using var watcher = Watch(project, seen);

        Directory.Move(outside.Dir, project.Abs("in"));
        seen.WaitFor("in", "in/x.txt", "in/sub", "in/sub/y.txt");
        File.AppendAllText(project.Abs("in/sub/y.txt"), "more");
        seen.Clear();
        seen.WaitFor("in/sub/y.txt");
    }

    [Fact]
    public void After_a_directory_is_renamed_its_changes_are_reported_under_the_new_path()
    {
        using var project = new TempProject();
        project.Write("a/b/file.txt", "f");
        var seen = new Seen();
        using var watcher = Watch(project, seen);

        Directory.Move(project.Abs("a"), project.Abs("c"));
        seen.WaitFor("a", "c");
        seen.Clear();
        File.AppendAllText(project.Abs("c/b/file.txt"), "changed");
        project.Write("c/b/new.txt", "n");
        seen.WaitFor("c/b/file.txt", "c/b/new.txt");
        Assert.DoesNotContain(seen.Paths, p => p.StartsWith("a/", StringComparison.Ordinal));

        // Moved again, deeper, into a directory that did not exist when the watcher started.
        Directory.CreateDirectory(project.Abs("d"));
        Directory.Move(project.Abs("c"), project.Abs("d/c2"));
        seen.WaitFor("d/c2");
        seen.Clear();
        File.AppendAllText(project.Abs("d/c2/b/file.txt"), "again");
        seen.WaitFor("d/c2/b/file.txt");
        Assert.DoesNotContain(seen.Paths, p => p.StartsWith("c/", StringComparison.Ordinal));
    }

    [Fact]
    public void A_directory_renamed_right_after_it_was_made_is_watched_under_its_final_name()
    {
        using var project = new TempProject();
        var seen = new Seen();
        using var watcher = Watch(project, seen);

        // Usually renamed before the watcher has read the IN_CREATE: the name it gets there is stale.
        for (int i = 0; i < 10; i++)
        {
            Directory.CreateDirectory(project.Abs($"tmp{i}/sub"));
            Directory.Move(project.Abs($"tmp{i}"), project.Abs($"final{i}"));
        }
        seen.WaitFor([.. Enumerable.Range(0, 10).Select(i => $"final{i}")]);
        seen.Clear();
        for (int i = 0; i < 10; i++) project.Write($"final{i}/sub/late.txt", "x");
        seen.WaitFor([.. Enumerable.Range(0, 10).Select(i => $"final{i}/sub/late.txt")]);
    }

    [Fact]
    public void A_directory_moved_out_of_the_tree_is_no_longer_watched()
    {
        using var elsewhere = new TempProject();
        using var project = new TempProject();
        project.Write("leaving/sub/file.txt", "f");
        var seen = new Seen();
        using var watcher = Watch(project, seen);

        var gone = Path.Combine(elsewhere.Dir, "gone");
        Directory.Move(project.Abs("leaving"), gone);
        seen.WaitFor("leaving");
        seen.Clear();
        long eventsBefore = watcher.Events;

        File.AppendAllText(Path.Combine(gone, "sub", "file.txt"), "changed elsewhere");
        Directory.CreateDirectory(Path.Combine(gone, "sub", "newdir"));
        for (int i = 0; i < 100; i++) File.WriteAllText(Path.Combine(gone, $"new{i}.txt"), "made elsewhere");
        project.Write("sentinel.txt", "s");
        seen.WaitFor("sentinel.txt");

        Assert.Equal(["sentinel.txt"], seen.Paths.Order());
        // Its watches were removed, not merely ignored: the 300-odd events of those writes were never
        // queued (what was read is the sentinel's and the IN_IGNORED of the removed watches).
        Assert.True(watcher.Events - eventsBefore < 20, $"{watcher.Events - eventsBefore} events read after the move");
    }

    [Fact]
    public void The_store_state_directory_is_not_watched()
    {
        using var project = new TempProject();
        project.Write(".lighthouse/objects/ab/cd", "object");
        var seen = new Seen();
        using var watcher = Watch(project, seen);

        for (int i = 0; i < 50; i++)
            File.AppendAllText(project.Abs(".lighthouse/lighthouse.db-wal"), "frame");
        project.Write(".lighthouse/objects/ef/gh", "another object");
        Directory.CreateDirectory(project.Abs(".lighthouse/objects/tmp"));
        Thread.Sleep(200); // give a wrong watcher the chance to deliver
        Assert.Equal(0, watcher.Events);
        Assert.Equal(0, watcher.Batches);

        // A project directory that merely ends in the name is not excluded.
        project.Write("sub/.lighthouse/x.txt", "x");
        seen.WaitFor("sub/.lighthouse/x.txt");
        Assert.DoesNotContain(seen.Paths, p => DirectoryWatcher.ExcludeStoreState(p));
    }

    [Fact]
    public void A_burst_of_creates_costs_a_handful_of_batches()
    {
        using var project = new TempProject();
        var seen = new Seen();
        using var watcher = Watch(project, seen);
        Directory.CreateDirectory(project.Abs("burst"));
        seen.WaitFor("burst");
        long batches0 = watcher.Batches, wakeups0 = watcher.Wakeups, events0 = watcher.Events;

        var expected = new string[2000];
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < expected.Length; i++)
        {
            expected[i] = $"burst/file{i:D4}.txt";
            File.WriteAllText(project.Abs(expected[i]), "content");
        }
        var made = sw.Elapsed;
        seen.WaitFor(expected);

        long batches = watcher.Batches - batches0, wakeups = watcher.Wakeups - wakeups0, events = watcher.Events - events0;
        output.WriteLine($"2000 files created in {made.TotalMilliseconds:F0} ms: {events} inotify events, {batches} batches, {wakeups} wake-ups");
        Assert.True(events >= 2000, $"{events} events");
        Assert.True(batches <= 20, $"{batches} batches for {events} events");
        Assert.True(wakeups * 20 <= events, $"{wakeups} wake-ups for {events} events");
        Assert.All(seen.Batches, b => Assert.False(b.Overflowed));
    }

    [Fact]
    public void A_throwing_callback_is_reported_and_the_watcher_keeps_going()
    {
        using var project = new TempProject();
        var seen = new Seen();
        var failures = new List<Exception>();
        int calls = 0;
        using var watcher = new DirectoryWatcher(project.Dir, b =>
        {
            if (Interlocked.Increment(ref calls) == 1) throw new InvalidOperationException("consumer bug");
            seen.Add(b);
        });
        watcher.Failed += e => { lock (failures) failures.Add(e); };

        project.Write("first.txt", "1");
        var sw = Stopwatch.StartNew();
        while (Volatile.Read(ref calls) == 0 && sw.Elapsed < Deadline) Thread.Sleep(10);
        project.Write("second.txt", "2");
        seen.WaitFor("second.txt");
        lock (failures) Assert.Contains(failures, e => e.Message == "consumer bug");
    }

    [Fact]
    public void Dispose_returns_promptly_and_twice_is_harmless()
    {
        using var project = new TempProject();
        project.Write("a/b/c.txt", "x");
        var seen = new Seen();
        var watcher = Watch(project, seen);
        project.Write("a/d.txt", "y");
        seen.WaitFor("a/d.txt");

        var sw = Stopwatch.StartNew();
        watcher.Dispose(); // idle: blocked in poll
        Assert.True(sw.ElapsedMilliseconds < 1000, $"Dispose took {sw.ElapsedMilliseconds} ms");
        watcher.Dispose();
        long batches = watcher.Batches;
        project.Write("a/after.txt", "z");
        Thread.Sleep(100);
        Assert.Equal(batches, watcher.Batches);

        // In the middle of a burst (napping between reads), and from inside the callback.
        using var busy = new TempProject();
        DirectoryWatcher? inner = null;
        inner = new DirectoryWatcher(busy.Dir, _ => inner!.Dispose());
        var other = new DirectoryWatcher(busy.Dir, _ => { });
        for (int i = 0; i < 200; i++) busy.Write($"f{i}", "x");
        sw.Restart();
        other.Dispose();
        Assert.True(sw.ElapsedMilliseconds < 1000, $"Dispose during a burst took {sw.ElapsedMilliseconds} ms");
        sw.Restart();
        while (inner.Batches == 0 && sw.Elapsed < Deadline) Thread.Sleep(10);
        Assert.Equal(1, inner.Batches);
        inner.Dispose();
    }

    [Fact]
    public void A_missing_root_throws()
    {
        using var project = new TempProject();
        Assert.Throws<DirectoryNotFoundException>(() => new DirectoryWatcher(project.Abs("missing"), _ => { }));
    }

    [Theory]
    [InlineData(new[] { "a/b/c.txt" }, "a/b")]
    [InlineData(new[] { "a/b/c.txt", "a/b/d/e.txt" }, "a/b")]
    [InlineData(new[] { "a/b/c.txt", "a/x.txt" }, "a")]
    [InlineData(new[] { "ab/c.txt", "a/c.txt" }, "")]
    [InlineData(new[] { "top.txt", "a/b/c.txt" }, "")]
    [InlineData(new[] { "" }, "")]
    [InlineData(new string[0], "")]
    public void CommonDirectory_is_the_deepest_directory_holding_every_parent(string[] paths, string expected) =>
        Assert.Equal(expected, StorePath.CommonDirectory(paths));
}
