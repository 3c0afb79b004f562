using Lighthouse.Conformance.Tests.Support;
using Xunit.Abstractions;
using Xunit.Sdk;
using Lighthouse.Interop;
using static Lighthouse.Conformance.Tests.Support.Sys;

namespace Lighthouse.Conformance.Tests;

/// <summary>
/// Directories: mkdir/rmdir and link counts, readdir of every entry with its d_type, directories of
/// thousands of entries (created through the mount and behind it), getdents64 with small buffers and
/// seeking to a d_off, readdir while entries are added and removed, renaming whole subtrees,
/// set-group-id directories, and a tree deeper than PATH_MAX reached with *at() calls.
/// </summary>
public abstract unsafe class DirectoryTests<TTarget> : ConformanceTestBase<TTarget> where TTarget : MountTarget
{
    protected DirectoryTests(TTarget fx, ITestOutputHelper output) : base(fx, output) { }

    private static List<(string, byte)> Sorted(string dir) =>
        Sys.ReadDir(dir).OrderBy(e => e.Name, StringComparer.Ordinal).ToList();

    [Fact]
    public void MkdirRmdirAndLinkCounts() => Run(t =>
    {
        t.Call("mkdir(a)", d => mkdir($"{d}/a", 0x1ed));
        t.Call("mkdir(a/b)", d => mkdir($"{d}/a/b", 0x1c0));
        t.Call("mkdir(a/c)", d => mkdir($"{d}/a/c", 0x3ff /* 01777 */));
        t.Call("mkdir(a/s)", d => mkdir($"{d}/a/s", 0x5ed /* 02755 */));
        t.Both("stats", d => string.Join(" | ", new[] { "", "/a", "/a/b", "/a/c", "/a/s" }.Select(p => StatE(d + p).ToString())));
        t.Call("rmdir(a/b)", d => rmdir($"{d}/a/b"));
        t.Both("stats after rmdir", d => $"{StatE($"{d}/a")} | {StatE($"{d}/a/b")}");
        t.Call("mkdir(a/b) again", d => mkdir($"{d}/a/b", 0x1ed));
        t.Call("rmdir(a) non-empty", d => rmdir($"{d}/a"));
        t.Both("entries", d => Twin.Show(Sorted($"{d}/a")));
        t.Call("rmdir everything", d => rmdir($"{d}/a/b") + rmdir($"{d}/a/c") + rmdir($"{d}/a/s") + rmdir($"{d}/a"));
        t.Both("parent after", d => StatE(d).ToString());
    });

    [Fact]
    public void ReaddirReturnsEveryEntryWithItsType() => Run(t =>
    {
        t.Do(d =>
        {
            WriteFile($"{d}/file", "x");
            Mkdir($"{d}/dir");
            Check(symlink("file", $"{d}/symlink"), "symlink");
            Check(symlink("missing", $"{d}/dangling"), "symlink");
            Check(mknod($"{d}/fifo", S_IFIFO | 0x1a4, 0), "mknod fifo");
            Check(mknod($"{d}/socket", S_IFSOCK | 0x1a4, 0), "mknod socket");
            Check(mknod($"{d}/chardev", S_IFCHR | 0x1a4, Makedev(1, 3)), "mknod chr");
            Check(link($"{d}/file", $"{d}/hardlink"), "link");
            WriteFile($"{d}/{new string('n', 255)}", "longest name");
            WriteFile($"{d}/with space and ünïcödé", "u");
        });
        var list = t.Both("readdir", d => Twin.Show(Sorted(d)));
        var m = Sys.ReadDir(t.M).ToDictionary(e => e.Name, e => e.Type);
        Assert.Equal(DT_REG, m["file"]);
        Assert.Equal(DT_DIR, m["dir"]);
        Assert.Equal(DT_LNK, m["symlink"]);
        Assert.Equal(DT_FIFO, m["fifo"]);
        Assert.Equal(DT_SOCK, m["socket"]);
        Assert.Equal(DT_CHR, m["chardev"]);
        Assert.Equal(DT_DIR, m["."]);
        Assert.Equal(DT_DIR, m[".."]);
        // readdir of an empty directory: "." and ".." only
        t.Both("empty dir", d => Twin.Show(Sorted($"{d}/dir")));
        // the listing through the mount is the listing of the backing directory
        Assert.Equal(Sorted(t.B).Select(e => e.Item1), Sorted(t.M).Select(e => e.Item1));
    });

    [Fact]
    public void LargeDirectoryThroughTheMount() => Run(t =>
    {
        const int count = 5000;
        var names = Enumerable.Range(0, count).Select(i => $"entry-{i:D5}-{new string('x', i % 200)}").ToList();
        t.Do(d =>
        {
            Mkdir($"{d}/big");
            foreach (var n in names) Sys.Close(Open($"{d}/big/{n}", O_CREAT | O_WRONLY | O_EXCL));
        });
        foreach (var side in new[] { t.M, t.N })
        {
            var seen = Sys.ReadDir($"{side}/big").Select(e => e.Name).Where(n => n is not ("." or "..")).ToList();
            var dup = seen.GroupBy(n => n).FirstOrDefault(g => g.Count() > 1);
            if (dup != null) throw new XunitException($"{side}: readdir returned {dup.Key} {dup.Count()} times");
            Assert.Equal(names.OrderBy(n => n, StringComparer.Ordinal), seen.OrderBy(n => n, StringComparer.Ordinal));
        }
        t.Both("listing", d => Twin.Hash(Twin.Utf8(string.Join('\n', Sorted($"{d}/big")))));
        // getdents64 with a buffer of a few entries: many calls, each continuing from the previous offset
        t.Both("getdents64 small buffer + lseek to a d_off", d =>
        {
            int fd = Open($"{d}/big", O_RDONLY | O_DIRECTORY);
            var all = GetDents(fd, 600);
            var names1 = all.Select(e => e.Name).ToList();
            // restart from the offset of entry k: the rest must be what followed entry k
            int k = all.Count / 3;
            Check(lseek(fd, all[k].Off, SEEK_SET), "lseek(dir)");
            var tail = GetDents(fd, 4096).Select(e => e.Name).ToList();
            bool tailMatches = tail.SequenceEqual(names1.Skip(k + 1));
            // rewind: everything again
            Check(lseek(fd, 0, SEEK_SET), "lseek(dir, 0)");
            var again = GetDents(fd, 32768).Select(e => e.Name).OrderBy(n => n, StringComparer.Ordinal);
            close(fd);
            return (all.Count, names1.Distinct().Count(), tailMatches,
                again.SequenceEqual(names1.OrderBy(n => n, StringComparer.Ordinal)));
        });
        // stat every entry (lookups of thousands of names)
        t.Both("stat all", d => names.Count(n => Stat($"{d}/big/{n}", out _) != null));
        t.Both("unlink all", d => names.Count(n => unlink($"{d}/big/{n}") == 0));
        t.Both("empty again", d => Twin.Show(Sorted($"{d}/big")));
        Assert.Empty(Directory.GetFileSystemEntries(t.Bp("big")));
    }, timeoutSeconds: 180);

    [Fact]
    public void LargeDirectoryCreatedInTheBackingDirectory() => Run(t =>
    {
        // created behind the mount, in a directory the mount has never looked up
        Mkdir(t.Bp("outside"));
        for (int i = 0; i < 3000; i++) WriteFile(t.Bp($"outside/f{i}"), i.ToString());
        Mkdir(t.Bp("outside/sub"));
        var listing = Sorted(t.Mp("outside"));
        Assert.Equal(3003, listing.Count);
        Assert.Equal(Sorted(t.Bp("outside")), listing);
        Assert.Equal("2999", ReadText(t.Mp("outside/f2999")));
    }, timeoutSeconds: 120);

    [Fact]
    public void ReaddirWhileEntriesAreAddedAndRemoved() => Run(t =>
    {
        const int stable = 2000;
        foreach (var side in new[] { t.M, t.N })
        {
            Mkdir($"{side}/d");
            for (int i = 0; i < stable; i++) Sys.Close(Open($"{side}/d/s{i:D4}", O_CREAT | O_WRONLY));
            var stableNames = Enumerable.Range(0, stable).Select(i => $"s{i:D4}").ToHashSet();
            var churnNames = new System.Collections.Concurrent.ConcurrentDictionary<string, bool>();
            using var stop = new CancellationTokenSource();
            Exception? churnError = null;
            var churn = new Thread(() =>
            {
                try
                {
                    int n = 0;
                    var live = new Queue<string>();
                    while (!stop.IsCancellationRequested)
                    {
                        string name = $"c{n++:D6}";
                        churnNames[name] = true;
                        Sys.Close(Open($"{side}/d/{name}", O_CREAT | O_WRONLY | O_EXCL));
                        live.Enqueue(name);
                        if (live.Count > 50) Check(unlink($"{side}/d/{live.Dequeue()}"), "unlink");
                    }
                }
                catch (Exception e) { churnError = e; }
            });
            churn.Start();
            try
            {
                for (int pass = 0; pass < 6; pass++)
                {
                    var seen = Sys.ReadDir($"{side}/d").Select(e => e.Name).Where(n => n is not ("." or "..")).ToList();
                    var counts = seen.GroupBy(n => n).ToDictionary(g => g.Key, g => g.Count());
                    var missing = stableNames.Where(n => !counts.ContainsKey(n)).Take(5).ToList();
                    var twice = stableNames.Where(n => counts.GetValueOrDefault(n) > 1).Take(5).ToList();
                    var unknown = counts.Keys.Where(n => !stableNames.Contains(n) && !churnNames.ContainsKey(n)).Take(5).ToList();
                    if (missing.Count > 0 || twice.Count > 0 || unknown.Count > 0)
                        throw new XunitException(
                            $"{side}, pass {pass}: entries that were never touched must be listed exactly once: missing " +
                            $"[{string.Join(',', missing)}], listed twice [{string.Join(',', twice)}], never created [{string.Join(',', unknown)}]");
                }
            }
            finally
            {
                stop.Cancel();
                churn.Join();
            }
            if (churnError != null) throw new XunitException($"{side}: the thread adding/removing entries failed: {churnError}");
        }
    }, timeoutSeconds: 180);

    [Fact]
    public void RenameMovesWholeSubtree() => Run(t =>
    {
        t.Do(d =>
        {
            Mkdir($"{d}/from");
            Mkdir($"{d}/to");
            Mkdir($"{d}/from/tree");
            Mkdir($"{d}/from/tree/a");
            Mkdir($"{d}/from/tree/a/b");
            WriteFile($"{d}/from/tree/a/b/leaf", "leaf");
            WriteFile($"{d}/from/tree/top", "top");
            Check(symlink("a/b/leaf", $"{d}/from/tree/lnk"), "symlink");
        });
        // look everything up first, so the kernel has it cached under the old names
        t.Both("before", d => ReadText($"{d}/from/tree/a/b/leaf") + StatE($"{d}/from/tree/lnk", true));
        t.Both("rename subtree", d =>
        {
            int fd = Open($"{d}/from/tree/a/b/leaf", O_RDWR);
            var r = R(rename($"{d}/from/tree", $"{d}/to/moved"));
            PwriteAll(fd, Twin.Utf8("LEAF"), 0);
            close(fd);
            return $"{r} old={StatE($"{d}/from/tree")} oldleaf={StatE($"{d}/from/tree/a/b/leaf")} " +
                   $"new={ReadText($"{d}/to/moved/a/b/leaf")} via link={ReadText($"{d}/to/moved/lnk")} " +
                   $"from={StatE($"{d}/from")} to={StatE($"{d}/to")}";
        });
        t.Call("rename into its own subdirectory", d => rename($"{d}/to/moved", $"{d}/to/moved/a/inside"));
        t.Call("rename parent onto its child", d => rename($"{d}/to", $"{d}/to/moved"));
        Tree.AssertSame("after subtree rename", t.M, t.N);
        Tree.AssertSame("mount vs backing", t.M, t.B);
    });

    [Fact]
    public void SetGroupIdDirectoryInheritance() => Run(t =>
    {
        t.Do(d =>
        {
            Mkdir($"{d}/sg");
            Check(chown($"{d}/sg", 0, 4242), "chown");
            Check(chmod($"{d}/sg", 0x5fd /* 02775 */), "chmod");
        });
        t.Both("file in setgid dir", d => { WriteFile($"{d}/sg/f", "x"); return StatE($"{d}/sg/f").ToString(); });
        t.Both("dir in setgid dir", d => { Mkdir($"{d}/sg/sub"); return StatE($"{d}/sg/sub").ToString(); });
        t.Both("symlink in setgid dir", d => { Check(symlink("f", $"{d}/sg/l"), "symlink"); return StatE($"{d}/sg/l").ToString(); });
        t.Both("fifo in setgid dir", d => { Check(mknod($"{d}/sg/p", S_IFIFO | 0x1a4, 0), "mknod"); return StatE($"{d}/sg/p").ToString(); });
        Assert.Equal(4242u, Lstat(t.Bp("sg/f")).Gid);
    });

    [Fact]
    public void TreeDeeperThanPathMax() => Run(t =>
    {
        // 25 levels of 200-byte names: about 5,000 bytes, more than PATH_MAX (4096). Reached
        // component by component with openat/mkdirat, as any program must.
        const int depth = 25;
        string Comp(int i) => $"{i:D3}" + new string('d', 197);
        string Walk(string root)
        {
            var log = new List<string>();
            int dfd = Open(root, O_RDONLY | O_DIRECTORY);
            var fds = new List<int> { dfd };
            for (int i = 0; i < depth; i++)
            {
                var r = R(mkdirat(dfd, Comp(i), 0x1ed));
                if (!r.Ok) log.Add($"mkdirat {i}: {r}");
                int next = openat(dfd, Comp(i), O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
                if (next < 0) { log.Add($"openat {i}: {ErrName(Errno)}"); break; }
                dfd = next;
                fds.Add(dfd);
            }
            if (fds.Count != depth + 1)
            {
                foreach (var fd in fds) close(fd);
                return string.Join("; ", log);
            }
            int f = openat(dfd, "leaf", O_CREAT | O_RDWR | O_CLOEXEC, 0x1a4);
            if (f < 0) log.Add($"create leaf: {ErrName(Errno)}");
            else
            {
                PwriteAll(f, Twin.Utf8("deep"), 0);
                log.Add($"read back: {System.Text.Encoding.UTF8.GetString(PreadFull(f, 10, 0))}");
                close(f);
            }
            StatxBuf sb;
            log.Add($"fstatat: {R(statx(dfd, "leaf", AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &sb))} size {sb.Size}");
            log.Add($"rename: {R(renameat2(dfd, "leaf", fds[depth / 2], "moved", 0))}");
            log.Add($"unlink: {R(unlinkat(fds[depth / 2], "moved", 0))}");
            log.Add($"entries: {GetDents(dfd, 4096).Count}");
            // the absolute path is too long for the kernel: ENAMETOOLONG natively as well
            string abs = root + "/" + string.Join('/', Enumerable.Range(0, depth).Select(Comp));
            log.Add($"absolute stat: {StatE(abs)}");
            for (int i = depth - 1; i >= 0; i--)
                log.Add(R(unlinkat(fds[i], Comp(i), AT_REMOVEDIR)).ToString());
            foreach (var fd in fds) close(fd);
            return string.Join("; ", log);
        }
        var m = Walk(t.M);
        var n = Walk(t.N);
        Twin.Same("deep tree via *at calls", m, n);
        Assert.Empty(Directory.GetFileSystemEntries(t.B));
    });

    /// <summary>The mount's root lists what the backing directory holds, less only the names the target
    /// hides there (the recorded mount: `.lighthouse/`, the store's state); the same names deeper in the
    /// tree are ordinary entries.</summary>
    [Fact]
    public void OnlyTheRootHidesTheTargetsNames() => Run(t =>
    {
        static List<string> Names(string dir) =>
            Sys.ReadDir(dir).Select(e => e.Name).Where(n => n is not "." and not "..").Order(StringComparer.Ordinal).ToList();
        Assert.Equal(Names(Fx.Src).Except(Fx.HiddenAtRoot).ToList(), Names(Fx.Mnt));
        foreach (var hidden in Fx.HiddenAtRoot)
        {
            Assert.True(Directory.Exists(Path.Join(Fx.Src, hidden)) || File.Exists(Path.Join(Fx.Src, hidden)),
                $"{hidden} is declared hidden at the root, but the backing directory has none");
            Stat(Path.Join(Fx.Mnt, hidden), out int e, follow: false);
            Assert.True(e == ENOENT, $"lstat({hidden}) at the mount's root: expected ENOENT, got {ErrName(e)}");
        }
        foreach (var name in Fx.HiddenAtRoot.Append(".lighthouse").Distinct())
        {
            t.Call($"mkdir({name}) below the root", d => mkdir($"{d}/{name}", 0x1ed));
            t.Do(d => WriteFile($"{d}/{name}/inside", "inside\n"));
            t.Both($"{name} listed below the root", d => Twin.Show(Sorted(d)));
            t.Both($"{name}/inside", d => ReadText($"{d}/{name}/inside"));
        }
        Tree.AssertSame("mount vs backing", t.M, t.B);
    });
}


public sealed class DirectoryTests_Passthrough(PassthroughDefault fx, ITestOutputHelper output) : DirectoryTests<PassthroughDefault>(fx, output);
public sealed class DirectoryTests_Mount(RecordedMount fx, ITestOutputHelper output) : DirectoryTests<RecordedMount>(fx, output);
