namespace Lighthouse.FileSystem.Tests;

/// <summary>Real tools on current/, then the log and history/ must tell exactly what happened.</summary>
public class CurrentAndHistoryTests(LighthouseMountFixture mount) : IClassFixture<LighthouseMountFixture>
{
    private string Cur(string p) => Path.Combine(mount.Current, p);

    [Fact]
    public void The_state_directory_is_invisible_and_cannot_be_created()
    {
        Assert.True(Directory.Exists(Path.Combine(mount.Project, ".lighthouse")));
        Assert.DoesNotContain(".lighthouse", Directory.GetFileSystemEntries(mount.Current).Select(Path.GetFileName));
        Assert.False(Directory.Exists(Cur(".lighthouse")));
        Assert.Throws<UnauthorizedAccessException>(() => Directory.CreateDirectory(Cur(".lighthouse"))); // EPERM
        Assert.Equal(["agents", "current", "debug", "history", "streams"], Directory.GetDirectories(mount.MountPoint).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void An_editor_save_is_recorded_and_history_keeps_the_old_version()
    {
        string file = Cur("editor.txt");
        File.WriteAllText(file, "version one\n");
        var created = mount.WaitForEvent(e => e.Op == "write" && e.Path == "editor.txt");
        long before = created.Seq;

        // Editor-style save: write a temporary file, fsync it, rename it over the original.
        string tmp = Cur(".editor.txt.swp");
        using (var fs = new FileStream(tmp, FileMode.Create))
        {
            fs.Write("version two\n"u8);
            fs.Flush(flushToDisk: true);
        }
        File.Move(tmp, file, overwrite: true);
        var renamed = mount.WaitForEvent(e => e.Op == "rename" && e.Path == ".editor.txt.swp" && e.Path2 == "editor.txt", before);

        Assert.Equal("version two\n", File.ReadAllText(file));
        Assert.Equal("version one\n", File.ReadAllText(Path.Combine(mount.History, $"@{before}", "editor.txt")));
        Assert.Equal("version two\n", File.ReadAllText(Path.Combine(mount.History, $"@{renamed.Seq}", "editor.txt")));
        // Attributed to this process: user name of its uid and its command name.
        string stat = File.ReadAllText("/proc/self/stat");
        string comm = stat[(stat.IndexOf('(') + 1)..stat.LastIndexOf(')')];
        Assert.Equal($"root/{comm}", renamed.Agent);
    }

    [Fact]
    public void History_is_read_only_and_unknown_points_do_not_exist()
    {
        long seq = mount.LastSeq;
        string point = Path.Combine(mount.History, $"@{seq}");
        Assert.True(Directory.Exists(point));
        Assert.Equal("first version\n", File.ReadAllText(Path.Combine(point, "README.md")));
        var ex = Assert.ThrowsAny<IOException>(() => File.WriteAllText(Path.Combine(point, "new.txt"), "x"));
        Assert.Contains("Read-only", ex.Message);
        Assert.False(Directory.Exists(Path.Combine(mount.History, "@99999999")));
        Assert.False(Directory.Exists(Path.Combine(mount.History, "no-such-snapshot")));
        Assert.Contains($"@{seq}", Directory.GetDirectories(mount.History).Select(Path.GetFileName));
    }

    [Fact]
    public void History_inode_numbers_are_one_per_file_and_point_so_find_and_tar_see_no_loops_or_false_hard_links()
    {
        Directory.CreateDirectory(Cur("inodes/sub"));
        File.WriteAllText(Cur("inodes/sub/f.txt"), "first\n");
        LighthouseMountFixture.MustRun("ln", $"{Cur("inodes/sub/f.txt")} {Cur("inodes/sub/link.txt")}");
        long first = mount.WaitForEvent(e => e.Op == "link" && e.Path2 == "inodes/sub/link.txt").Seq;
        File.WriteAllText(Cur("inodes/sub/f.txt"), "second\n");
        // Recorded under either name of the file.
        long second = mount.WaitForEvent(e => e.Op == "write" && e.Path.StartsWith("inodes/sub/", StringComparison.Ordinal), first).Seq;
        string a = Path.Combine(mount.History, $"@{first}", "inodes"), b = Path.Combine(mount.History, $"@{second}", "inodes");

        ulong Ino(string path) => ulong.Parse(LighthouseMountFixture.MustRun("stat", $"-c %i {path}").Trim());
        // The same file at two points is two files; its two names at one point are one; no point is the mount root.
        Assert.NotEqual(Ino($"{a}/sub/f.txt"), Ino($"{b}/sub/f.txt"));
        Assert.NotEqual(Ino(a), Ino(b));
        Assert.Equal(Ino($"{a}/sub/f.txt"), Ino($"{a}/sub/link.txt"));
        Assert.NotEqual(Ino(mount.MountPoint), Ino(Path.Combine(mount.History, $"@{first}")));
        Assert.NotEqual(Ino(Cur("inodes/sub/f.txt")), Ino($"{b}/sub/f.txt"));
        // readdir's d_ino agrees with stat (ls -i prints the former, find -inum compares the latter).
        var listed = LighthouseMountFixture.MustRun("ls", $"-i {a}/sub").Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Trim().Split(' ', 2)).ToDictionary(p => p[1], p => ulong.Parse(p[0]));
        Assert.Equal(Ino($"{a}/sub/f.txt"), listed["f.txt"]);
        // find walks the whole mount without a loop; tar of both points keeps each point's own bytes.
        var (code, output) = LighthouseMountFixture.Run("find", $"{mount.MountPoint} -name f.txt");
        Assert.True(code == 0 && !output.Contains("loop"), output);
        string archive = Path.Combine(mount.Root, "points.tar"), extracted = Path.Combine(mount.Root, "points");
        Directory.CreateDirectory(extracted);
        LighthouseMountFixture.MustRun("tar", $"cf {archive} -C {mount.History} @{first}/inodes @{second}/inodes");
        LighthouseMountFixture.MustRun("tar", $"xf {archive} -C {extracted}");
        Assert.Equal("first\n", File.ReadAllText(Path.Combine(extracted, $"@{first}/inodes/sub/f.txt")));
        Assert.Equal("second\n", File.ReadAllText(Path.Combine(extracted, $"@{second}/inodes/sub/f.txt")));
        Assert.Equal("first\n", File.ReadAllText(Path.Combine(extracted, $"@{first}/inodes/sub/link.txt")));
    }

    [Fact]
    public void Git_works_in_current_and_every_change_is_attributed_to_git()
    {
        string repo = Cur("gitrepo");
        Directory.CreateDirectory(repo);
        long start = mount.LastSeq;
        LighthouseMountFixture.MustRun("git", "init -q -b main", repo);
        File.WriteAllText(Path.Combine(repo, "a.txt"), "one\n");
        LighthouseMountFixture.MustRun("git", "add a.txt", repo);
        LighthouseMountFixture.MustRun("git", "commit -q -m first", repo);
        long afterFirst = mount.WaitForEvent(e => e.Agent == "root/git" && e.Path.StartsWith("gitrepo/.git/refs/heads/main"), start).Seq;
        File.WriteAllText(Path.Combine(repo, "a.txt"), "two\n");
        LighthouseMountFixture.MustRun("git", "commit -q -am second", repo);
        Assert.Equal("", LighthouseMountFixture.MustRun("git", "status --porcelain", repo).Trim());
        Assert.Contains("first", LighthouseMountFixture.MustRun("git", "log --oneline", repo));
        LighthouseMountFixture.MustRun("git", "checkout -q HEAD~1", repo);
        Assert.Equal("one\n", File.ReadAllText(Path.Combine(repo, "a.txt")));
        LighthouseMountFixture.MustRun("git", "fsck --no-progress", repo);

        var gitEvents = mount.Events(start).Where(e => e.Agent == "root/git").ToList();
        Assert.Contains(gitEvents, e => e.Op == "rename" && e.Path2 == "gitrepo/.git/index");
        Assert.Contains(gitEvents, e => e.Path.StartsWith("gitrepo/.git/objects/"));
        // As of the first commit, the work tree held "one".
        Assert.Equal("one\n", File.ReadAllText(Path.Combine(mount.History, $"@{afterFirst}", "gitrepo", "a.txt")));
    }

    [Fact]
    public void A_C_program_builds_and_runs_inside_current()
    {
        string dir = Cur("cprog");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "hello.c"), "#include <stdio.h>\nint main(void){puts(\"built on lighthouse\");return 0;}\n");
        LighthouseMountFixture.MustRun("gcc", "-O2 -o hello hello.c", dir);
        Assert.Equal("built on lighthouse", LighthouseMountFixture.MustRun(Path.Combine(dir, "hello"), "", dir).Trim());
        var built = mount.WaitForEvent(e => e.Path == "cprog/hello" && e.Op == "write");
        Assert.Equal("root/ld", built.Agent); // gcc had the linker (ld) write it
    }

    [Fact]
    public void Tar_extracts_thousands_of_files_and_each_is_recorded()
    {
        string work = Path.Combine(mount.Root, "tarwork");
        string tree = Path.Combine(work, "tree");
        for (int d = 0; d < 20; d++)
        {
            Directory.CreateDirectory(Path.Combine(tree, $"dir{d:00}"));
            for (int f = 0; f < 100; f++)
                File.WriteAllText(Path.Combine(tree, $"dir{d:00}", $"file{f:000}.txt"), $"content {d} {f}\n");
        }
        string tar = Path.Combine(work, "tree.tar");
        LighthouseMountFixture.MustRun("tar", $"-cf {tar} -C {work} tree");
        long start = mount.LastSeq;
        string dest = Cur("untarred");
        Directory.CreateDirectory(dest);
        LighthouseMountFixture.MustRun("tar", $"-xf {tar} -C {dest}");
        Assert.Equal(2000, Directory.EnumerateFiles(Path.Combine(dest, "tree"), "*", SearchOption.AllDirectories).Count());
        Assert.Equal("content 7 42\n", File.ReadAllText(Path.Combine(dest, "tree", "dir07", "file042.txt")));
        // tar extracts in directory order, not name order: wait for the count, not for one name.
        List<LighthouseMountFixture.Event> creates = [];
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            creates = mount.Events(start).Where(e => e.Op == "create" && e.Path.StartsWith("untarred/tree/")).ToList();
            if (creates.Count >= 2000) break;
            Thread.Sleep(200);
        }
        Assert.Equal(2000, creates.Count);
        Assert.Equal(2000, creates.Select(e => e.Path).Distinct().Count());
        Assert.All(creates, e => Assert.Equal("root/tar", e.Agent));
    }

    [Fact]
    public void A_file_written_over_several_seconds_through_one_descriptor_is_the_writer_s_not_external()
    {
        // A log, a clone's pack file, fsx: one open, writes for longer than the watcher's few seconds of grace.
        // With kernel passthrough the bytes reach the project directory without passing through the mount.
        string name = "slow-writer.log";
        long start = mount.LastSeq;
        LighthouseMountFixture.MustRun("/bin/bash",
            $"-c \"exec 3>'{Cur(name)}'; echo first >&3; sleep 4.5; echo second >&3; sleep 1; exec 3>&-\"");
        mount.WaitForEvent(e => e.Path == name && e.Op == "write", start);
        Thread.Sleep(1500); // let the watcher's debounce and reconciliation run, if it were to
        var events = mount.Events(start).Where(e => e.Path == name).ToList();
        Assert.All(events, e => Assert.Equal("root/bash", e.Agent));
        Assert.Equal("first\nsecond\n", File.ReadAllText(Cur(name)));
        Assert.Contains(events, e => e.Op == "create");
    }

    [Fact]
    public void An_edit_made_beside_the_mount_shows_in_current_at_once_and_is_logged_as_external()
    {
        string name = "outside.txt";
        File.WriteAllText(Cur(name), "from the mount\n");
        mount.WaitForEvent(e => e.Path == name && e.Op == "write");
        Assert.Equal("from the mount\n", File.ReadAllText(Cur(name))); // now cached by the kernel
        Thread.Sleep(3500); // past the window in which inotify events are taken for our own
        long start = mount.LastSeq;
        File.WriteAllText(Path.Combine(mount.Project, name), "edited directly in the project directory\n");
        var sw = System.Diagnostics.Stopwatch.StartNew();
        while (File.ReadAllText(Cur(name)) != "edited directly in the project directory\n")
        {
            Assert.True(sw.ElapsedMilliseconds < 1000, $"current/ still shows the old content after {sw.ElapsedMilliseconds} ms");
            Thread.Sleep(20);
        }
        var external = mount.WaitForEvent(e => e.Path == name && e.Agent == "external", start);
        Assert.Equal("write", external.Op);

        // A name the kernel has just been told does not exist (a cached negative entry) appears too.
        string created = "created-outside.txt";
        Assert.False(File.Exists(Cur(created)));
        File.WriteAllText(Path.Combine(mount.Project, created), "new\n");
        sw.Restart();
        while (!File.Exists(Cur(created)))
        {
            Assert.True(sw.ElapsedMilliseconds < 1000, $"{created} still invisible in current/ after {sw.ElapsedMilliseconds} ms");
            Thread.Sleep(20);
        }
        Assert.Equal("create", mount.WaitForEvent(e => e.Path == created && e.Agent == "external", start).Op);
    }

    [Fact]
    public void Lighthouse_log_shows_each_change_with_its_caller_and_restore_brings_an_old_version_back()
    {
        string lighthouse = Path.Combine(mount.RepoRoot, "lighthouse");
        string file = Cur("restore-me.txt");
        File.WriteAllText(file, "good\n");
        long good = mount.WaitForEvent(e => e.Path == "restore-me.txt" && e.Op == "write").Seq;
        File.WriteAllText(file, "broken\n");
        long broken = mount.WaitForEvent(e => e.Path == "restore-me.txt" && e.Op == "write", good).Seq;

        string log = LighthouseMountFixture.MustRun(lighthouse, $"log -C {mount.Project} --path restore-me.txt");
        string stat = File.ReadAllText("/proc/self/stat");
        string me = "root/" + stat[(stat.IndexOf('(') + 1)..stat.LastIndexOf(')')];
        Assert.Contains($"@{good} ", log);
        Assert.Contains($"@{broken} ", log);
        Assert.Contains(me, log);

        LighthouseMountFixture.MustRun(lighthouse, $"restore restore-me.txt --at @{good} -C {mount.Project}");
        Assert.Equal("good\n", File.ReadAllText(file));
        // The undo is itself a change, recorded after the broken version, and history keeps both.
        var undo = mount.WaitForEvent(e => e.Path2 == "restore-me.txt" || (e.Path == "restore-me.txt" && e.Op == "write"), broken);
        Assert.Equal("root/lighthouse", undo.Agent);
        Assert.Equal("broken\n", File.ReadAllText(Path.Combine(mount.History, $"@{broken}", "restore-me.txt")));
    }
}
