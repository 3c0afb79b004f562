using FsCheck.Xunit;
using Lighthouse.Store;

namespace Lighthouse.Store.Tests;

public class ReconcileTests
{
    private const string Ext = StoreConstants.ExternalAgent;

    /// <summary>
    /// Random changes made behind the store's back: after a reconciliation the latest tree of the
    /// store equals the directory, files that were only renamed keep their stable id, and the
    /// earlier points still answer as before.
    /// </summary>
    [Property(MaxTest = 40, Replay = "(77001,5501)", EndSize = 60)]
    public void Reconcile_records_every_external_difference(int[] program)
    {
        using var project = new TempProject();
        project.Write("src/a.cs", "class A {}");
        project.Write("src/b.cs", "class B {}");
        project.Write("docs/readme.md", "# readme");
        using var store = project.Open();
        var before = store.LastSeq;
        var treeBefore = TreeReader.Read(store, before);
        // identity (original path) -> current path; only renames keep an identity.
        var identity = treeBefore.Keys.Where(p => treeBefore[p].Kind == FileKind.File).ToDictionary(p => p, p => p);
        var idsBefore = treeBefore.Keys.ToDictionary(p => p, p => store.LookupPath(p, before)!.FileId);

        for (var step = 0; step < program.Length; step++)
        {
            var rng = new Random(program[step]);
            var entries = Directory.EnumerateFileSystemEntries(project.Dir, "*", SearchOption.AllDirectories)
                .Select(p => Path.GetRelativePath(project.Dir, p)).Where(p => !p.StartsWith(".lighthouse", StringComparison.Ordinal)).ToList();
            var files = entries.Where(p => File.Exists(project.Abs(p))).ToList();
            var dirs = entries.Where(p => Directory.Exists(project.Abs(p))).Prepend("").ToList();
            switch (rng.Next(6))
            {
                case 0:
                {
                    var path = StorePath.Combine(dirs[rng.Next(dirs.Count)], "n" + step);
                    project.Write(path, new string('x', rng.Next(0, 50)));
                    break;
                }
                case 1 when files.Count > 0:
                {
                    // Appending always changes the size, so the change is visible to metadata comparison.
                    File.AppendAllText(project.Abs(files[rng.Next(files.Count)]), "+" + step);
                    break;
                }
                case 2 when files.Count > 0:
                {
                    var path = files[rng.Next(files.Count)];
                    File.Delete(project.Abs(path));
                    foreach (var k in identity.Where(kv => kv.Value == path).Select(kv => kv.Key).ToList()) identity.Remove(k);
                    break;
                }
                case 3:
                    Directory.CreateDirectory(project.Abs(StorePath.Combine(dirs[rng.Next(dirs.Count)], "dir" + step)));
                    break;
                case 4 when files.Count > 0:
                {
                    var from = files[rng.Next(files.Count)];
                    var to = StorePath.Combine(dirs[rng.Next(dirs.Count)], "m" + step);
                    File.Move(project.Abs(from), project.Abs(to));
                    foreach (var k in identity.Where(kv => kv.Value == from).Select(kv => kv.Key).ToList()) identity[k] = to;
                    break;
                }
                case 5 when dirs.Count > 1:
                {
                    var from = dirs[1 + rng.Next(dirs.Count - 1)];
                    var parents = dirs.Where(d => !StorePath.IsSelfOrUnder(d, from)).ToList();
                    var to = StorePath.Combine(parents[rng.Next(parents.Count)], "mv" + step);
                    Directory.Move(project.Abs(from), project.Abs(to));
                    foreach (var k in identity.Where(kv => StorePath.IsSelfOrUnder(kv.Value, from)).Select(kv => kv.Key).ToList())
                        identity[k] = to + identity[k][from.Length..];
                    break;
                }
            }
        }

        var report = store.Reconcile();
        Assert.All(report.Events, e => Assert.Equal(Ext, e.Agent));
        Assert.Equal(TreeReader.ReadDisk(project.Dir), TreeReader.Read(store, StorePoint.Latest));
        foreach (var (original, now) in identity)
            Assert.Equal(idsBefore[original], store.LookupPath(now, StorePoint.Latest)!.FileId);
        Assert.Equal(treeBefore, TreeReader.Read(store, before));
        Assert.Empty(store.Reconcile().Events);
        Assert.True(store.RebuildIndex().AgreedWithPrevious);
        Assert.True(store.Verify().Ok);
    }

    [Fact]
    public void Open_records_a_metadata_only_baseline()
    {
        using var project = new TempProject();
        project.Write("a.txt", "hello");
        project.Write("sub/b.txt", "world!");
        project.Write("sub/empty.txt", "");
        using var store = project.Open();

        var baseline = store.OpenReport!.Events;
        Assert.Equal(["a.txt", "sub", "sub/b.txt", "sub/empty.txt"], baseline.Select(e => e.Path).Order(StringComparer.Ordinal));
        Assert.All(baseline, e => Assert.Equal(EventOp.Baseline, e.Op));
        Assert.Equal(ContentState.NotCaptured, store.Attributes("a.txt", StorePoint.Latest).ContentState);
        Assert.Equal(ContentState.Captured, store.Attributes("sub/empty.txt", StorePoint.Latest).ContentState);
        // No content was copied: the only object is the empty one.
        Assert.Equal(new ObjectStats(1, 0), store.ObjectStatistics());
        Assert.True(ProjectStore.Exists(project.Dir));
        // The live file serves the never-captured version.
        Assert.Equal("hello"u8.ToArray(), store.ReadAllBytes("a.txt", StorePoint.Latest));
        Assert.NotNull(store.Content("a.txt", StorePoint.Latest).LivePath);
        Assert.DoesNotContain(store.List("", StorePoint.Latest), e => e.Name == ".lighthouse");
    }

    [Fact]
    public void A_directory_renamed_outside_keeps_the_ids_of_everything_in_it()
    {
        using var project = new TempProject();
        project.Write("lib/x.cs", "x");
        project.Write("lib/deep/y.cs", "y");
        using var store = project.Open();
        var x = store.LookupPath("lib/x.cs", StorePoint.Latest)!.FileId;
        var y = store.LookupPath("lib/deep/y.cs", StorePoint.Latest)!.FileId;
        var lib = store.LookupPath("lib", StorePoint.Latest)!.FileId;

        Directory.Move(project.Abs("lib"), project.Abs("core"));
        var report = store.Reconcile();

        var rename = Assert.Single(report.Events);
        Assert.Equal(EventOp.Rename, rename.Op);
        Assert.Equal(("lib", "core"), (rename.Path, rename.Path2));
        Assert.Equal(lib, store.LookupPath("core", StorePoint.Latest)!.FileId);
        Assert.Equal(x, store.LookupPath("core/x.cs", StorePoint.Latest)!.FileId);
        Assert.Equal(y, store.LookupPath("core/deep/y.cs", StorePoint.Latest)!.FileId);
        Assert.Null(store.LookupPath("lib", StorePoint.Latest));
    }

    [Fact]
    public void A_hard_linked_file_changed_outside_is_one_write_seen_through_both_names()
    {
        using var project = new TempProject();
        using var store = project.Open();
        project.Write("a.txt", "one");
        store.RecordCreate("agent", "a.txt");
        Assert.Equal(0, Lighthouse.Interop.Libc.Link(project.Abs("a.txt"), project.Abs("b.txt")));
        store.RecordLink("agent", "a.txt", "b.txt");
        File.AppendAllText(project.Abs("b.txt"), " and two");

        var report = store.Reconcile();

        var write = Assert.Single(report.Events);
        Assert.Equal(EventOp.Write, write.Op);
        Assert.Equal(write.FileId, store.LookupPath("a.txt", StorePoint.Latest)!.FileId);
        Assert.Equal(write.FileId, store.LookupPath("b.txt", StorePoint.Latest)!.FileId);
        Assert.Empty(store.Reconcile().Events);
    }

    [Fact]
    public void An_editor_save_that_replaces_the_inode_is_a_write_to_the_same_file()
    {
        using var project = new TempProject();
        project.Write("main.c", "int main;");
        using var store = project.Open();
        var id = store.LookupPath("main.c", StorePoint.Latest)!.FileId;
        project.Write("main.c.swp", "int main(void) { return 0; }");
        File.Move(project.Abs("main.c.swp"), project.Abs("main.c"), overwrite: true);

        var report = store.Reconcile();

        var write = Assert.Single(report.Events);
        Assert.Equal(EventOp.Write, write.Op);
        Assert.Equal(id, write.FileId);
        Assert.Equal(id, store.LookupPath("main.c", StorePoint.Latest)!.FileId);
    }

    [Fact]
    public void The_watcher_records_changes_made_while_it_runs()
    {
        using var project = new TempProject();
        project.Write("keep.txt", "k");
        using var store = project.Open();
        using var watcher = store.Watch(TimeSpan.FromMilliseconds(50));
        var seen = new List<StoreEvent>();
        watcher.Reconciled += r => { lock (seen) seen.AddRange(r.Events); };

        project.Write("new/dir/file.txt", "created outside");
        File.Move(project.Abs("keep.txt"), project.Abs("new/kept.txt"));

        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            if (store.LookupPath("new/dir/file.txt", StorePoint.Latest) is not null && store.LookupPath("new/kept.txt", StorePoint.Latest) is not null
                && store.LookupPath("keep.txt", StorePoint.Latest) is null)
                break;
            Thread.Sleep(50);
        }
        Assert.Null(watcher.LastError);
        Assert.Equal(TreeReader.ReadDisk(project.Dir), TreeReader.Read(store, StorePoint.Latest));
        lock (seen) Assert.All(seen, e => Assert.Equal(Ext, e.Agent));
        var log = store.Log(new LogQuery { PathPrefix = "new/kept.txt" }).Events;
        Assert.Contains(log, e => e.Op == EventOp.Rename && e.Path == "keep.txt");
    }
}

public class BusyPathTests
{
    [Fact]
    public void Reconciliation_leaves_paths_under_mutation_to_the_caller()
    {
        using var project = new TempProject();
        project.Write("old.txt", "o");
        using var store = project.Open();

        using (store.BeginMutation("new-dir", "old.txt"))
        {
            project.Write("new-dir/inner.txt", "made by the mount");
            File.Delete(project.Abs("old.txt"));
            project.Write("outside.txt", "made by someone else");

            var report = store.Reconcile();
            Assert.Equal(["outside.txt"], report.Events.Select(e => e.Path));

            store.RecordCreate("builder", "new-dir");
            store.RecordCreate("builder", "new-dir/inner.txt");
            store.RecordUnlink("builder", "old.txt");
        }

        Assert.Empty(store.Reconcile().Events);
        Assert.Equal("builder", store.Versions("new-dir/inner.txt").Single().Agent);
        Assert.Equal(StoreConstants.ExternalAgent, store.Versions("outside.txt").Single().Agent);
        Assert.Equal(TreeReader.ReadDisk(project.Dir), TreeReader.Read(store, StorePoint.Latest));
    }
}
