using System.Text.Json;
using Lighthouse.Cli.Commands;
using Lighthouse.Store;

namespace Lighthouse.Cli.Tests;

public sealed class VerbTests
{
    private static readonly string Me = CliContext.Agent;

    [Fact]
    public void Init_records_the_baseline_and_a_second_init_changes_nothing()
    {
        using var p = new TempProject(init: false);
        var r = TempProject.Run("init", p.Dir);
        Assert.Equal(0, r.Code);
        Assert.Contains("Initialised Lighthouse project " + p.Dir, r.Out);
        Assert.Contains("3 files, 1 directories", r.Out);

        var log = p.Cli("log");
        Assert.True(log.Code == 0, log.ToString());
        Assert.Contains("init", log.Out);
        Assert.Matches(@"@\d+\s+\S+ \S+\s+external\s+baseline\s+src/a\.txt", log.Out);
        Assert.Contains("baseline  README.md", log.Out);

        var again = TempProject.Run("init", p.Dir);
        Assert.Equal(0, again.Code);
        Assert.Contains("already a Lighthouse project", again.Out);
        Assert.Equal(log.Out, p.Cli("log").Out);
    }

    [Fact]
    public void Log_filters_by_agent_path_operation_and_point()
    {
        using var p = new TempProject();
        long firstChange;
        using (var s = p.OpenStore())
        {
            firstChange = s.LastSeq + 1;
            TempProject.Write(s, "alice/vim", "src/a.txt", "one\n2\nthree\n");
            TempProject.Write(s, "bob/git", "docs/notes.md", "notes\n");
        }

        var alice = p.Cli("log", "--agent", "alice/vim");
        Assert.Equal(0, alice.Code);
        Assert.Contains("alice/vim", alice.Out);
        Assert.Contains("src/a.txt", alice.Out);
        Assert.DoesNotContain("bob/git", alice.Out);

        var docs = p.Cli("log", "--path", "docs");
        Assert.Contains("bob/git", docs.Out);
        Assert.DoesNotContain("src/a.txt", docs.Out);

        var writes = p.Cli("log", "--op", "write");
        Assert.All(writes.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => Assert.Contains(" write ", l));

        var since = p.Cli("log", "--since", "@" + firstChange, "--json");
        var events = since.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.NotEmpty(events);
        Assert.All(events, e => Assert.True(e.GetProperty("seq").GetInt64() >= firstChange));
        Assert.Contains(events, e => e.GetProperty("agent").GetString() == "bob/git" && e.GetProperty("op").GetString() == "create" && e.GetProperty("path").GetString() == "docs/notes.md");

        var limited = p.Cli("log", "-n", "2");
        Assert.Equal(2, limited.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Contains("docs/notes.md", limited.Out); // the most recent ones, oldest first
    }

    [Fact]
    public void History_follows_the_name_across_renames_and_atomic_saves_newest_first()
    {
        using var p = new TempProject();
        using (var s = p.OpenStore())
        {
            TempProject.Write(s, "alice/vim", "src/a.txt", "one\n");
            TempProject.Rename(s, "root/git", "src/a.txt", "src/c.txt");
            TempProject.Write(s, "bob/vim", "src/c.txt", "one\ntwo\n");
            // sed -i: a temporary file written beside it, then renamed over it.
            TempProject.Write(s, "root/sed", "src/sedAb12Cd", "ONE\ntwo\n");
            TempProject.Rename(s, "root/sed", "src/sedAb12Cd", "src/c.txt");
        }
        var r = p.Cli("history", "src/c.txt");
        Assert.True(r.Code == 0, r.ToString());
        var rows = r.Out.Split('\n').Where(l => l.StartsWith('@')).ToList();
        Assert.Equal(4, rows.Count);
        Assert.True(rows[0].Contains("root/sed") && rows[0].Contains("src/sedAb12Cd"), rows[0]); // each version's own name
        Assert.True(rows[1].Contains("bob/vim") && rows[1].Contains("src/c.txt") && rows[1].Contains("renamed from src/a.txt"), rows[1]);
        Assert.True(rows[2].Contains("alice/vim") && rows[2].Contains("write") && rows[2].Contains("src/a.txt"), rows[2]);
        Assert.True(rows[3].Contains("external") && rows[3].Contains("baseline") && rows[3].Contains("src/a.txt"), rows[3]);
        Assert.Contains("4 version(s) of 2 files that held 'src/c.txt'", r.Out);

        // One file only: the temporary file that has the name now.
        var one = p.Cli("history", "src/c.txt", "--no-follow");
        Assert.True(one.Code == 0, one.ToString());
        Assert.Contains("1 version(s) of file #", one.Out);

        // The old name: its file up to the rename, with a note.
        var old = p.Cli("history", "src/a.txt");
        Assert.True(old.Code == 0, old.ToString());
        Assert.Contains("2 version(s) of file #", old.Out);
        Assert.Contains("was renamed to 'src/c.txt'", old.Out);

        var json = JsonDocument.Parse(p.Cli("history", "src/c.txt", "--json").Out).RootElement;
        Assert.True(json.GetProperty("follow").GetBoolean());
        Assert.Equal(2, json.GetProperty("files").GetArrayLength());
        var versions = json.GetProperty("versions").EnumerateArray().ToList();
        Assert.Equal(["src/sedAb12Cd", "src/c.txt", "src/a.txt", "src/a.txt"], versions.Select(v => v.GetProperty("path").GetString()));
        Assert.Equal(json.GetProperty("fileId").GetInt64(), versions[0].GetProperty("fileId").GetInt64());
    }

    [Fact]
    public void Diff_lists_changed_paths_and_patch_shows_a_unified_diff()
    {
        using var p = new TempProject();
        using (var s = p.OpenStore())
        {
            TempProject.Write(s, "alice/vim", "src/a.txt", "one\ntwo\nthree\n"); // captures the bytes
            s.CreateSnapshot("alice/vim", "v1");
            TempProject.Write(s, "alice/vim", "src/a.txt", "one\nTWO\nthree\n");
            TempProject.Write(s, "alice/vim", "src/new.txt", "new\n");
            TempProject.Delete(s, "alice/vim", "src/b.txt");
        }
        var r = p.Cli("diff", "v1");
        Assert.True(r.Code == 0, r.ToString());
        Assert.Contains("M  src/a.txt", r.Out);
        Assert.Contains("A  src/new.txt", r.Out);
        Assert.Contains("D  src/b.txt", r.Out);
        Assert.DoesNotContain("README.md", r.Out);

        var patch = p.Cli("diff", "v1", "latest", "--patch");
        Assert.True(patch.Code == 0, patch.ToString());
        Assert.Contains("--- a/src/a.txt", patch.Out);
        Assert.Contains("+++ b/src/a.txt", patch.Out);
        Assert.Contains("@@ -1,3 +1,3 @@\n one\n-two\n+TWO\n three\n", patch.Out);
        Assert.Contains("+++ b/src/new.txt", patch.Out);
        Assert.Contains("+new", patch.Out);
        Assert.Contains("-bee", patch.Out);

        var json = JsonDocument.Parse(p.Cli("diff", "v1", "--json", "--path", "src/a.txt").Out).RootElement;
        var changes = json.GetProperty("changes");
        Assert.Equal(1, changes.GetArrayLength());
        Assert.Equal("modified", changes[0].GetProperty("change").GetString());
    }

    [Fact]
    public void Snapshots_create_list_delete_round_trip()
    {
        using var p = new TempProject();
        var c = p.Cli("snapshot", "create", "v1");
        Assert.True(c.Code == 0, c.ToString());
        Assert.Contains("snapshot 'v1' names @", c.Out);

        var list = p.Cli("snapshot", "list");
        Assert.Contains("v1", list.Out);
        Assert.Contains(Me, list.Out);
        var json = JsonDocument.Parse(p.Cli("snapshot", "list", "--json").Out).RootElement;
        Assert.Equal("v1", json[0].GetProperty("name").GetString());

        var dup = p.Cli("snapshot", "create", "v1");
        Assert.Equal(ExitCodes.Usage, dup.Code);
        Assert.Contains("already exists", dup.Err);

        Assert.Equal(0, p.Cli("snapshot", "delete", "v1").Code);
        Assert.Contains("no snapshots", p.Cli("snapshot", "list").Out);

        var gone = p.Cli("snapshot", "delete", "v1");
        Assert.Equal(ExitCodes.Usage, gone.Code);
        Assert.Equal("lighthouse: there is no snapshot named 'v1'\n", gone.Err);
    }

    [Fact]
    public void Snapshot_create_records_changes_made_outside_first()
    {
        using var p = new TempProject();
        File.WriteAllText(p.PathOf("src/outside.txt"), "x\n");
        var c = p.Cli("snapshot", "create", "now");
        Assert.True(c.Code == 0, c.ToString());
        Assert.Contains("outside Lighthouse first", c.Out);
        Assert.Contains("A  src/outside.txt", p.Cli("diff", "@1", "now").Out);
    }

    [Fact]
    public void Restore_brings_back_a_file_as_a_new_event()
    {
        using var p = new TempProject();
        long good;
        using (var s = p.OpenStore())
        {
            TempProject.Write(s, "alice/vim", "src/a.txt", "good\n");
            good = s.LastSeq;
            TempProject.Write(s, "bob/vim", "src/a.txt", "bad\n");
        }
        var mode = File.GetUnixFileMode(p.PathOf("src/a.txt"));
        var r = p.Cli("restore", "src/a.txt", "--at", "@" + good);
        Assert.True(r.Code == 0, r.ToString());
        Assert.Contains("1 file(s) overwritten", r.Out);
        Assert.Equal("good\n", File.ReadAllText(p.PathOf("src/a.txt")));
        Assert.Equal(mode, File.GetUnixFileMode(p.PathOf("src/a.txt")));

        var log = p.Cli("log", "-n", "1", "--json");
        var e = JsonDocument.Parse(log.Out.Trim()).RootElement;
        Assert.Equal(Me, e.GetProperty("agent").GetString());
        Assert.Equal("write", e.GetProperty("op").GetString());
        Assert.Equal("src/a.txt", e.GetProperty("path").GetString());

        // The bad version is still in history, and the restore can be undone in turn.
        var history = p.Cli("history", "src/a.txt");
        Assert.Contains("bob/vim", history.Out);
        Assert.Contains(Me, history.Out);
        var again = p.Cli("restore", "src/a.txt", "--at", "@" + good);
        Assert.Contains("already as it was", again.Out);
        Assert.Contains("nothing to record", again.Out);
    }

    [Fact]
    public void Restore_of_a_directory_creates_overwrites_and_removes()
    {
        using var p = new TempProject();
        using (var s = p.OpenStore())
        {
            TempProject.Write(s, "alice/vim", "src/a.txt", "A\n");
            TempProject.Write(s, "alice/vim", "src/b.txt", "B\n");
            Directory.CreateDirectory(p.PathOf("src/sub"));
            s.RecordCreate("alice/vim", "src/sub");
            TempProject.Write(s, "alice/vim", "src/sub/deep.txt", "deep\n");
            s.CreateSnapshot("alice/vim", "good");
            TempProject.Write(s, "bob/vim", "src/a.txt", "changed\n");
            TempProject.Delete(s, "bob/vim", "src/b.txt");
            TempProject.Delete(s, "bob/vim", "src/sub/deep.txt");
            Directory.Delete(p.PathOf("src/sub"));
            s.RecordUnlink("bob/vim", "src/sub");
            TempProject.Write(s, "bob/vim", "src/extra.txt", "extra\n");
        }
        var dry = p.Cli("restore", "src", "--at", "good", "--dry-run");
        Assert.True(dry.Code == 0, dry.ToString());
        Assert.Contains("remove  src/extra.txt", dry.Out);
        Assert.Contains("create  src/b.txt", dry.Out);
        Assert.Contains("write   src/a.txt", dry.Out);
        Assert.Contains("mkdir   src/sub", dry.Out);
        Assert.True(File.Exists(p.PathOf("src/extra.txt")));

        var r = p.Cli("restore", "src", "--at", "good");
        Assert.True(r.Code == 0, r.ToString());
        Assert.Equal("A\n", File.ReadAllText(p.PathOf("src/a.txt")));
        Assert.Equal("B\n", File.ReadAllText(p.PathOf("src/b.txt")));
        Assert.Equal("deep\n", File.ReadAllText(p.PathOf("src/sub/deep.txt")));
        Assert.False(File.Exists(p.PathOf("src/extra.txt")));
        Assert.Contains("removed (did not exist then)", r.Out);

        // Now the recorded tree has the snapshot's contents (new inodes and times, so paths are listed, but no hunk).
        var diff = p.Cli("diff", "good", "--path", "src", "--patch");
        Assert.True(diff.Code == 0, diff.ToString());
        Assert.DoesNotContain("@@", diff.Out);
        Assert.DoesNotContain("extra.txt", diff.Out);
        Assert.Contains(Me, p.Cli("log", "--path", "src/extra.txt", "-n", "1").Out);
    }

    [Fact]
    public void Restore_recreates_missing_parents_and_symlinks_after_changes_made_outside()
    {
        using var p = new TempProject();
        using (var s = p.OpenStore())
        {
            Directory.CreateDirectory(p.PathOf("src/sub"));
            s.RecordCreate("alice/vim", "src/sub");
            TempProject.Write(s, "alice/vim", "src/sub/deep.txt", "deep\n");
            File.CreateSymbolicLink(p.PathOf("src/link"), "sub/deep.txt");
            s.RecordCreate("alice/vim", "src/link");
            File.SetUnixFileMode(p.PathOf("src/sub/deep.txt"), UnixFileMode.UserRead | UnixFileMode.UserExecute);
            s.RecordSetAttributes("alice/vim", "src/sub/deep.txt");
            s.CreateSnapshot("alice/vim", "good");
        }
        // While nothing was looking: the directory and the link go away.
        Directory.Delete(p.PathOf("src/sub"), recursive: true);
        File.Delete(p.PathOf("src/link"));

        var r = p.Cli("restore", "src/sub/deep.txt", "--at", "good");
        Assert.True(r.Code == 0, r.ToString());
        Assert.Contains("1 created", r.Out);
        Assert.Contains("1 directory created", r.Out);
        Assert.Equal("deep\n", File.ReadAllText(p.PathOf("src/sub/deep.txt")));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserExecute, File.GetUnixFileMode(p.PathOf("src/sub/deep.txt")));
        var log = p.Cli("log", "--path", "src/sub");
        Assert.Contains("external", log.Out); // the deletion, recorded before the restore
        Assert.Matches($@"{System.Text.RegularExpressions.Regex.Escape(Me)}\s+mkdir\s+src/sub", log.Out);

        var link = p.Cli("restore", "src/link", "--at", "good");
        Assert.True(link.Code == 0, link.ToString());
        Assert.Equal("sub/deep.txt", new FileInfo(p.PathOf("src/link")).LinkTarget);
    }

    [Fact]
    public void Restore_while_mounted_writes_through_the_mount_tree()
    {
        // A stand-in for a mount: <mnt>/current is a symlink to the project, mount.json names this (live) process.
        using var p = new TempProject();
        long good;
        using (var s = p.OpenStore())
        {
            TempProject.Write(s, "alice/vim", "src/a.txt", "good\n");
            good = s.LastSeq;
            TempProject.Write(s, "bob/vim", "src/a.txt", "bad\n");
        }
        var mnt = p.Dir + "-mnt";
        Directory.CreateDirectory(mnt);
        try
        {
            File.CreateSymbolicLink(Path.Combine(mnt, "current"), p.Dir);
            long oldMtime;
            using (var s = p.OpenStore())
                oldMtime = s.Attributes("src/a.txt", StorePoint.AtEvent(good)).Attributes.MtimeNs;
            using var store = p.OpenStore(); // the "mount" owns the store
            new MountState(Environment.ProcessId, mnt, p.Dir, DateTime.UtcNow, "7.44", ["AsyncRead"], true, null).Write(p.Dir);
            var before = store.LastSeq;
            var r = p.Cli("restore", "src/a.txt", "--at", "@" + good);
            Assert.True(r.Code == 0, r.ToString());
            Assert.Contains("recorded by the mount", r.Out);
            Assert.Equal("good\n", File.ReadAllText(p.PathOf("src/a.txt")));
            Assert.Equal(oldMtime, Native.Lstat(p.PathOf("src/a.txt"))!.MtimeNs);
            Assert.Equal(before, store.LastSeq); // nothing recorded by the verb itself
            Assert.Empty(Directory.GetFiles(p.PathOf("src"), ".*lighthouse-restore*"));
        }
        finally
        {
            MountState.Delete(p.Dir);
            Directory.Delete(mnt, recursive: true);
        }
    }

    [Fact]
    public void Read_only_verbs_work_while_another_process_owns_the_store()
    {
        using var p = new TempProject();
        using var store = p.OpenStore();
        TempProject.Write(store, "alice/vim", "src/a.txt", "x\n");
        store.CreateSnapshot("alice/vim", "s1");
        TempProject.Write(store, "alice/vim", "src/a.txt", "y\n");
        new MountState(Environment.ProcessId, "/nonexistent-mnt", p.Dir, DateTime.UtcNow, "7.44", ["AsyncRead", "Passthrough"], true,
            Path.Combine(p.Dir, ".lighthouse", "nobody.sock")).Write(p.Dir);
        try
        {
            var log = p.Cli("log", "--agent", "alice/vim");
            Assert.True(log.Code == 0, log.ToString());
            Assert.Contains("snapshot  s1 (names @", log.Out);
            Assert.Equal(2, log.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Count(l => l.Contains(" write ")));
            Assert.Contains("-x\n+y", p.Cli("diff", "s1", "--patch").Out);
            Assert.Contains("3 version(s)", p.Cli("history", "src/a.txt").Out);
            var status = p.Cli("status");
            Assert.True(status.Code == 0, status.ToString());
            Assert.Contains("mounted:", status.Out);
            Assert.Contains("FUSE 7.44 (from mount.json)", status.Out);
            Assert.Contains("not answering", status.Out);
            Assert.Contains("verified", status.Out);
            var verify = p.Cli("status", "--verify", "--json");
            var j = JsonDocument.Parse(verify.Out).RootElement;
            Assert.True(j.GetProperty("chain").GetProperty("ok").GetBoolean());
            Assert.Equal(store.LastSeq, j.GetProperty("chain").GetProperty("eventsChecked").GetInt64());

            // Writing verbs need the mount's control socket, which does not answer here.
            var snap = p.Cli("snapshot", "create", "s2");
            Assert.Equal(ExitCodes.Failure, snap.Code);
            Assert.Contains("cannot reach the mount's control socket", snap.Err);
        }
        finally
        {
            MountState.Delete(p.Dir);
        }
    }

    [Fact]
    public void Status_reports_events_objects_snapshots_and_chain()
    {
        using var p = new TempProject();
        using (var s = p.OpenStore()) TempProject.Write(s, "alice/vim", "src/a.txt", "hello\n");
        p.Cli("snapshot", "create", "v1");
        var r = p.Cli("status");
        Assert.True(r.Code == 0, r.ToString());
        Assert.Contains("mounted:     no", r.Out);
        Assert.Matches(@"events:\s+\d+ \(last @\d+", r.Out);
        Assert.Contains("snapshots:   1 (v1 @", r.Out);
        Assert.Contains("hash chain:  verified", r.Out);
        var j = JsonDocument.Parse(p.Cli("status", "--json", "--verify").Out).RootElement;
        Assert.False(j.GetProperty("mounted").GetBoolean());
        Assert.True(j.GetProperty("objects").GetInt64() >= 2);
        Assert.True(j.GetProperty("chain").GetProperty("ok").GetBoolean());
    }

    [Fact]
    public void Status_detects_a_tampered_event()
    {
        using var p = new TempProject();
        Lighthouse.Store.Testing.StoreTampering.AlterEvent(p.Dir, 2, e => e with { Agent = "mallory" });
        var r = p.Cli("status", "--verify");
        Assert.Equal(ExitCodes.Failure, r.Code);
        Assert.Contains("BROKEN at @2", r.Out);
    }

    [Fact]
    public void Status_checks_the_end_of_the_chain_quickly_and_all_of_it_with_verify()
    {
        using var p = new TempProject(init: false);
        for (var i = 0; i < 1100; i++) File.WriteAllText(p.PathOf($"src/f{i:D4}.txt"), "");
        Assert.Equal(0, TempProject.Run("init", p.Dir).Code);
        var quick = p.Cli("status");
        Assert.True(quick.Code == 0, quick.ToString());
        Assert.Contains("verified (last 1,000 events; --verify checks all 1,10", quick.Out);

        void Tamper(long seq) =>
            Lighthouse.Store.Testing.StoreTampering.AlterEvent(p.Dir, seq, e => e with { Attributes = e.Attributes! with { Size = e.Attributes.Size + 1 } });
        Tamper(50); // before the last 1,000: only the full check sees it
        Assert.Equal(0, p.Cli("status").Code);
        var full = p.Cli("status", "--verify");
        Assert.Equal(ExitCodes.Failure, full.Code);
        Assert.Contains("BROKEN at @50: its content does not match its hash", full.Out);
        Tamper(1090);
        var tail = p.Cli("status");
        Assert.Equal(ExitCodes.Failure, tail.Code);
        Assert.Contains("BROKEN at @1090", tail.Out);
    }

    [Fact]
    public async Task Log_follow_prints_new_events_until_cancelled()
    {
        using var p = new TempProject();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var output = new StringWriter();
        var error = new StringWriter();
        var o = TextWriter.Synchronized(output);
        var follow = TempProject.RunAsync(cts.Token, o, TextWriter.Synchronized(error), output, error, "log", "--follow", "-n", "0", "--agent", "alice/vim", "--project", p.Dir);
        await Task.Delay(300);
        using (var s = p.OpenStore())
        {
            TempProject.Write(s, "alice/vim", "src/a.txt", "followed\n");
            TempProject.Write(s, "bob/vim", "src/b.txt", "not followed\n");
        }
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!o.ToString()!.Contains("alice/vim") && !output.ToString().Contains("alice/vim") && DateTime.UtcNow < deadline) await Task.Delay(50);
        await cts.CancelAsync();
        var r = await follow;
        Assert.Equal(0, r.Code);
        Assert.Contains("alice/vim", r.Out);
        Assert.Contains("src/a.txt", r.Out);
        Assert.DoesNotContain("bob/vim", r.Out);
    }

    [Fact]
    public void Errors_are_one_line_with_a_non_zero_exit()
    {
        using var p = new TempProject();
        var empty = Path.Combine(TempProject.Root, "cli-empty-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(empty);
        try
        {
            var noProject = Assert.Throws<CliException>(() => ProjectLocator.Find(null, empty));
            Assert.Equal($"no project here (no .lighthouse/ in {empty} or above); run `lighthouse init` or pass --project", noProject.Message);
            var notProject = TempProject.Run("log", "--project", empty);
            Assert.Equal(ExitCodes.Usage, notProject.Code);
            Assert.Contains("is not a Lighthouse project", notProject.Err);
        }
        finally
        {
            Directory.Delete(empty);
        }

        foreach (var (args, message) in new[]
                 {
                     (new[] { "diff", "@999" }, "lighthouse: event @999 does not exist; the log holds @1..@"),
                     (new[] { "diff", "nosuch" }, "lighthouse: there is no snapshot named 'nosuch'"),
                     (new[] { "diff", "@x" }, "lighthouse: bad point: '@x' is not an event number"),
                     (new[] { "restore", "src/a.txt", "--at", "nosuch" }, "lighthouse: there is no snapshot named 'nosuch'"),
                     (new[] { "restore", "src/zzz.txt", "--at", "@1" }, "lighthouse: 'src/zzz.txt' did not exist as of @1"),
                     (new[] { "history", "nope.txt" }, "lighthouse: 'nope.txt' does not exist now and never existed"),
                     (new[] { "log", "--op", "frobnicate" }, "lighthouse: unknown operation 'frobnicate'"),
                     (new[] { "history", "../etc/passwd" }, "lighthouse: invalid path '../etc/passwd'"),
                     (new[] { "log", "--since", "1999-01-01T00:00:00Z", "--until", "@1" }, null),
                 })
        {
            var r = p.Cli(args);
            if (message is null) { Assert.Equal(0, r.Code); continue; }
            Assert.True(r.Code != 0, $"{string.Join(' ', args)}: {r}");
            Assert.StartsWith(message, r.Err);
            Assert.Single(r.Err.Trim().Split('\n'));
            Assert.DoesNotContain("   at ", r.Err);
        }
    }

    [Theory]
    [InlineData("init")]
    [InlineData("status")]
    [InlineData("log")]
    [InlineData("history")]
    [InlineData("diff")]
    [InlineData("snapshot")]
    [InlineData("snapshot", "create")]
    [InlineData("snapshot", "list")]
    [InlineData("snapshot", "delete")]
    [InlineData("restore")]
    [InlineData("unmount")]
    public void Every_verb_has_help_with_an_example(params string[] verb)
    {
        var r = TempProject.Run([.. verb, "--help"]);
        Assert.Equal(0, r.Code);
        Assert.Contains("Example", r.Out);
        Assert.Contains("lighthouse " + verb[0], r.Out);
    }

    [Fact]
    public void Unmount_of_nothing_says_so_and_cleans_a_stale_mount_json()
    {
        using var p = new TempProject();
        var mnt = p.Dir + "-mnt";
        Directory.CreateDirectory(mnt);
        try
        {
            var r = TempProject.Run("unmount", mnt);
            Assert.Equal(ExitCodes.Failure, r.Code);
            Assert.Equal($"lighthouse: nothing is mounted on {mnt}\n", r.Err);

            new MountState(int.MaxValue - 1, mnt, p.Dir, DateTime.UtcNow, "7.44", [], false, null).Write(p.Dir);
            var stale = TempProject.Run("unmount", "--project", p.Dir);
            Assert.True(stale.Code == 0, stale.ToString());
            Assert.Contains("removed the stale mount.json", stale.Out);
            Assert.Null(MountState.Read(p.Dir));
        }
        finally
        {
            Directory.Delete(mnt);
        }
    }
}
