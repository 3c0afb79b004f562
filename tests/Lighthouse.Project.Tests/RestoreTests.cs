using Lighthouse.Project.Restore;
using Lighthouse.Store;

namespace Lighthouse.Project.Tests;

public class RestoreTests
{
    private const string Alice = "alice/vim";
    private const string Bob = "bob/vim";
    private const string Restorer = "carol/lighthouse";
    private const UnixFileMode Rw = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
    private const UnixFileMode Rwx = Rw | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;

    private static RestorePlan Plan(ScratchProject p, string path, long seq) =>
        RestorePlanner.Plan(p.Store, p.Dir, path, seq) ?? throw new Xunit.Sdk.XunitException($"{path} did not exist as of @{seq}");

    private static RestoreResult Apply(ScratchProject p, RestorePlan plan) =>
        new RestoreRunner(p.Store, new StoreRestoreRecorder(p.Store, Restorer)).Apply(plan, p.Dir);

    private static string Describe(RestorePlan plan) =>
        string.Join("\n", plan.Steps.Select(s => $"{s.Action} {s.Path} ({s.Reason})"));

    [Fact]
    public void A_file_changed_since_the_point_is_overwritten_and_nothing_else_is_planned()
    {
        using var p = new ScratchProject();
        p.Write(Alice, "src/a.txt", "good\n");
        var good = p.Store.LastSeq;
        p.Write(Bob, "src/a.txt", "bad, and longer\n");

        var plan = Plan(p, "src/a.txt", good);

        var step = Assert.Single(plan.Steps);
        Assert.Equal(RestoreAction.Overwrite, step.Action);
        Assert.Equal("src/a.txt", step.Path);
        Assert.Equal("content differs", step.Reason);
        Assert.Equal(5, step.Old!.Size);
        Assert.Equal(1, plan.ChangeCount);
    }

    [Fact]
    public void A_file_with_the_same_size_but_other_bytes_is_overwritten()
    {
        using var p = new ScratchProject();
        p.Write(Alice, "a.txt", "good\n");
        var good = p.Store.LastSeq;
        p.Write(Bob, "a.txt", "evil\n");

        Assert.Equal(RestoreAction.Overwrite, Assert.Single(Plan(p, "a.txt", good).Steps).Action);
    }

    [Fact]
    public void A_file_deleted_since_the_point_is_created()
    {
        using var p = new ScratchProject();
        p.Write(Alice, "src/a.txt", "good\n");
        var good = p.Store.LastSeq;
        p.Delete(Bob, "src/a.txt");

        var step = Assert.Single(Plan(p, "src/a.txt", good).Steps);
        Assert.Equal(RestoreAction.Create, step.Action);
        Assert.Equal(FileKind.File, step.Kind);
    }

    [Fact]
    public void Entries_added_to_a_directory_since_are_removed_last_children_before_parents()
    {
        using var p = new ScratchProject();
        p.Write(Alice, "src/keep.txt", "keep\n");
        var good = p.Store.LastSeq;
        p.Write(Bob, "src/new.txt", "new\n");
        p.Write(Bob, "src/sub/deeper/deep.txt", "deep\n");
        p.Write(Bob, "src/keep.txt", "changed\n");

        var plan = Plan(p, "src", good);

        var removals = plan.Steps.Where(s => s.Action == RestoreAction.Remove).Select(s => s.Path).ToList();
        Assert.Equal(4, removals.Count);
        Assert.Equal(["src/new.txt", "src/sub"], removals.Where(r => !r.StartsWith("src/sub/", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
        Assert.True(removals.IndexOf("src/sub/deeper/deep.txt") < removals.IndexOf("src/sub/deeper"), Describe(plan));
        Assert.True(removals.IndexOf("src/sub/deeper") < removals.IndexOf("src/sub"), Describe(plan));
        Assert.All(plan.Steps.Where(s => s.Action == RestoreAction.Remove), s => Assert.Equal("did not exist then", s.Reason));
        // Everything written comes before the first removal.
        var firstRemoval = plan.Steps.ToList().FindIndex(s => s.Action == RestoreAction.Remove);
        Assert.True(plan.Steps.Take(firstRemoval).Any(s => s is { Action: RestoreAction.Overwrite, Path: "src/keep.txt" }), Describe(plan));
        Assert.All(plan.Steps.Skip(firstRemoval), s => Assert.Equal(RestoreAction.Remove, s.Action));
        Assert.Equal(5, plan.ChangeCount);
    }

    [Fact]
    public void A_mode_change_alone_is_a_chmod()
    {
        using var p = new ScratchProject();
        p.Write(Alice, "run.sh", "#!/bin/sh\n");
        p.Chmod(Alice, "run.sh", Rwx);
        var good = p.Store.LastSeq;
        p.Chmod(Bob, "run.sh", Rw);

        var step = Assert.Single(Plan(p, "run.sh", good).Steps);
        Assert.Equal(RestoreAction.Chmod, step.Action);
        Assert.Equal("mode rw-r--r-- -> rwxr-xr-x", step.Reason);

        var result = Apply(p, Plan(p, "run.sh", good));
        Assert.Equal(1, result.ModesReset);
        Assert.Equal(Rwx, File.GetUnixFileMode(p.Abs("run.sh")));
        Assert.Equal(RestoreAction.Unchanged, Assert.Single(Plan(p, "run.sh", good).Steps).Action);
    }

    [Fact]
    public void A_symlink_pointing_elsewhere_is_overwritten_with_its_old_target()
    {
        using var p = new ScratchProject();
        p.Write(Alice, "a.txt", "a\n");
        p.Write(Alice, "b.txt", "b\n");
        p.Symlink(Alice, "link", "a.txt");
        var good = p.Store.LastSeq;
        p.Delete(Bob, "link");
        p.Symlink(Bob, "link", "b.txt");

        var plan = Plan(p, "link", good);
        var step = Assert.Single(plan.Steps);
        Assert.Equal(RestoreAction.Overwrite, step.Action);
        Assert.Equal(FileKind.Symlink, step.Kind);

        var result = Apply(p, plan);
        Assert.True(result.Ok, string.Join("; ", result.Failures));
        Assert.Equal("a.txt", new FileInfo(p.Abs("link")).LinkTarget);
        Assert.Equal(RestoreAction.Unchanged, Assert.Single(Plan(p, "link", good).Steps).Action);
    }

    [Fact]
    public void Missing_parents_are_made_first_with_their_old_modes()
    {
        using var p = new ScratchProject();
        p.Write(Alice, "src/sub/deep.txt", "deep\n");
        p.Chmod(Alice, "src/sub", Rwx & ~UnixFileMode.OtherRead & ~UnixFileMode.OtherExecute);
        var good = p.Store.LastSeq;
        Directory.Delete(p.Abs("src"), recursive: true); // outside Lighthouse: the store still lists them

        var plan = Plan(p, "src/sub/deep.txt", good);

        Assert.Equal(["Mkdir src (missing parent)", "Mkdir src/sub (missing parent)", "Create src/sub/deep.txt ()"],
            plan.Steps.Select(s => $"{s.Action} {s.Path} ({s.Reason})"));
        // Recording straight into the store: first let it see what happened outside, as the CLI does.
        Assert.Equal("", RestorePlanner.ReconcileScope(p.Dir, "src/sub/deep.txt"));
        p.Store.Reconcile(null, RestorePlanner.ReconcileScope(p.Dir, "src/sub/deep.txt"));
        var result = Apply(p, plan);
        Assert.True(result.Ok, string.Join("; ", result.Failures));
        Assert.Equal(2, result.DirectoriesCreated);
        Assert.Equal("deep\n", File.ReadAllText(p.Abs("src/sub/deep.txt")));
        Assert.Equal(Rwx & ~UnixFileMode.OtherRead & ~UnixFileMode.OtherExecute, File.GetUnixFileMode(p.Abs("src/sub")));
    }

    [Fact]
    public void A_path_that_did_not_exist_then_has_no_plan()
    {
        using var p = new ScratchProject();
        p.Write(Alice, "a.txt", "a\n");
        var before = p.Store.LastSeq;
        p.Write(Alice, "b.txt", "b\n");
        Assert.Null(RestorePlanner.Plan(p.Store, p.Dir, "b.txt", before));
    }

    [Fact]
    public void Planning_is_a_dry_run_it_changes_nothing_on_disk_or_in_the_log()
    {
        using var p = new ScratchProject();
        BuildHistory(p, out var good);
        var disk = Tree(p.Dir);
        var last = p.Store.LastSeq;

        var plan = Plan(p, "", good);

        Assert.True(plan.ChangeCount >= 5, Describe(plan));
        Assert.Equal(disk, Tree(p.Dir));
        Assert.Equal(last, p.Store.LastSeq);
    }

    [Fact]
    public void Applying_a_plan_brings_the_tree_back_byte_for_byte_and_records_it_and_a_restore_of_the_restore_undoes_it()
    {
        using var p = new ScratchProject();
        var good = BuildTree(p);
        var then = Tree(p.Dir);
        Change(p);
        var later = p.Store.LastSeq;
        var changed = Tree(p.Dir);
        Assert.NotEqual(then, changed);

        var result = Apply(p, Plan(p, "", good));

        Assert.True(result.Ok, string.Join("; ", result.Failures));
        Assert.Equal(then, Tree(p.Dir));
        // Recorded as new events by the restorer, covering every kind of change made.
        var events = p.Store.Log(new LogQuery { Agent = Restorer, Limit = 1000 }).Events;
        Assert.All(events, e => Assert.True(e.Seq > later));
        Assert.Contains(events, e => e is { Op: EventOp.Write, Path: "src/a.bin" });
        Assert.Contains(events, e => e is { Op: EventOp.Create, Path: "src/gone.txt" });
        Assert.Contains(events, e => e is { Op: EventOp.Unlink, Path: "src/extra.txt" });
        Assert.Contains(events, e => e is { Op: EventOp.SetAttributes, Path: "tool.sh" });
        // History now holds the old bytes as the latest version.
        Assert.Equal(File.ReadAllBytes(p.Abs("src/a.bin")), p.Store.ReadAllBytes("src/a.bin", StorePoint.Latest));
        Assert.Empty(Plan(p, "", good).Changes);

        // Undo the restore: back to the later state.
        var undo = Apply(p, Plan(p, "", later));
        Assert.True(undo.Ok, string.Join("; ", undo.Failures));
        Assert.Equal(changed, Tree(p.Dir));
    }

    [Fact]
    public void Without_a_recorder_nothing_is_recorded_and_no_temporary_file_is_left()
    {
        using var p = new ScratchProject();
        var good = BuildTree(p);
        var then = Tree(p.Dir);
        Change(p);
        var last = p.Store.LastSeq;

        var result = new RestoreRunner(p.Store).Apply(Plan(p, "", good), p.Dir);

        Assert.True(result.Ok, string.Join("; ", result.Failures));
        Assert.Equal(then, Tree(p.Dir));
        Assert.Equal(last, p.Store.LastSeq);
        Assert.Empty(Directory.GetFiles(p.Dir, "*lighthouse-restore*", SearchOption.AllDirectories));
    }

    [Fact]
    public void A_step_that_fails_is_reported_by_path_and_the_others_go_on()
    {
        using var p = new ScratchProject();
        p.Write(Alice, "a.txt", "a\n");
        p.Write(Alice, "b.txt", "b\n");
        var good = p.Store.LastSeq;
        p.Write(Bob, "a.txt", "A\n");
        p.Write(Bob, "b.txt", "B\n");
        var plan = Plan(p, "", good);
        // The disk changes between planning and applying: a directory now stands where a.txt is to be renamed.
        File.Delete(p.Abs("a.txt"));
        Directory.CreateDirectory(p.Abs("a.txt/inside"));

        var result = new RestoreRunner(p.Store).Apply(plan, p.Dir);

        var failure = Assert.Single(result.Failures);
        Assert.Equal("a.txt", failure.Path);
        Assert.Equal(1, result.Overwritten);
        Assert.Equal("b\n", File.ReadAllText(p.Abs("b.txt")));
        Assert.Empty(Directory.GetFiles(p.Dir, "*lighthouse-restore*", SearchOption.AllDirectories));
    }

    // ------------------------------------------------------------------ helpers

    /// <summary>A small tree with every kind of entry; returns the event it is complete at.</summary>
    private static long BuildTree(ScratchProject p)
    {
        p.Write(Alice, "src/a.bin", [0, 1, 2, 255, 254, 10, 13, 0]);
        p.Write(Alice, "src/gone.txt", "gone later\n");
        p.Write(Alice, "src/lib/util.c", "int util(void) { return 1; }\n");
        p.Write(Alice, "tool.sh", "#!/bin/sh\necho hi\n");
        p.Chmod(Alice, "tool.sh", Rwx);
        p.Symlink(Alice, "src/current", "lib/util.c");
        p.Write(Alice, "empty.txt", "");
        return p.Store.LastSeq;
    }

    private static void Change(ScratchProject p)
    {
        p.Write(Bob, "src/a.bin", [9, 9, 9]);
        p.Delete(Bob, "src/gone.txt");
        p.Write(Bob, "src/extra.txt", "extra\n");
        p.Write(Bob, "src/newdir/inside.txt", "inside\n");
        p.Chmod(Bob, "tool.sh", Rw);
        p.Delete(Bob, "src/current");
        p.Symlink(Bob, "src/current", "a.bin");
        p.Delete(Bob, "src/lib/util.c");
        p.Delete(Bob, "src/lib");
        p.Write(Bob, "src/lib", "now a file\n");
    }

    private static void BuildHistory(ScratchProject p, out long good)
    {
        good = BuildTree(p);
        Change(p);
    }

    /// <summary>Every entry under <paramref name="root"/> (the store's own directory excepted): kind, mode, bytes or target, mtime to 100 ns.</summary>
    private static SortedDictionary<string, string> Tree(string root)
    {
        var tree = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var info in new DirectoryInfo(root).EnumerateFileSystemInfos("*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }))
        {
            var rel = Path.GetRelativePath(root, info.FullName);
            if (rel == StoreConstants.StateDirName || rel.StartsWith(StoreConstants.StateDirName + "/", StringComparison.Ordinal)) continue;
            var st = NodeAttributes.Of(info.FullName)!;
            // Times to 100 ns: what System.IO can set (the CLI passes a nanosecond setter).
            tree[rel] = st.Kind switch
            {
                FileKind.Directory => $"dir {st.Mode:x}",
                FileKind.Symlink => $"link -> {info.LinkTarget} @{st.MtimeNs / 100}",
                _ => $"file {st.Mode:x} {Convert.ToHexString(File.ReadAllBytes(info.FullName))} @{st.MtimeNs / 100}",
            };
        }
        return tree;
    }
}
