using Lighthouse.Conformance.Tests.Support;
using Xunit.Abstractions;
using Lighthouse.Interop;
using static Lighthouse.Conformance.Tests.Support.Sys;

namespace Lighthouse.Conformance.Tests;

/// <summary>
/// Real programs on the mount, each compared with the same program run on the native twin: git (clone
/// of a local repository, status, commit, log, gc, fsck), tar x of a generated tree of ~5,000 files
/// (names, modes, sizes, contents, symlink targets, hard links, mtimes), cp -a (into the mount and
/// within it), rsync -a (and a second rsync that finds nothing to do).
/// </summary>
public abstract class RealToolTests<TTarget> : ConformanceTestBase<TTarget> where TTarget : MountTarget
{
    protected RealToolTests(TTarget fx, ITestOutputHelper output) : base(fx, output) { }

    private static readonly object GenLock = new();

    /// <summary>A generated tree of about 5,000 files (deterministic): nested directories, small and
    /// a few large files, varied modes and mtimes (with nanoseconds), symlinks (some dangling), hard
    /// links, an empty directory, a FIFO. Built once per mount, natively, under work/.</summary>
    private string GeneratedTree()
    {
        string root = Path.Join(Fx.Work, "gen");
        lock (GenLock)
        {
            if (Directory.Exists(root)) return root;
            string tmp = root + ".tmp";
            Mkdir(tmp);
            var rng = new Random(2026);
            uint[] modes = [0x1a4, 0x1a4, 0x1a4, 0x1ed, 0x180, 0x124, 0x1c0, 0x1b4];
            var files = new List<string>();
            for (int d = 0; d < 120; d++)
            {
                string dir = d < 20 ? $"d{d:D2}" : $"d{d % 20:D2}/sub{d:D3}";
                Mkdir($"{tmp}/{dir}");
                int nfiles = d < 20 ? 20 : 45;
                for (int f = 0; f < nfiles; f++)
                {
                    string path = $"{dir}/file{f:D3}{(f % 3 == 0 ? ".txt" : f % 3 == 1 ? ".bin" : "")}";
                    int size = rng.Next(100) switch { < 15 => 0, < 90 => rng.Next(1, 4096), < 99 => rng.Next(4096, 65536), _ => rng.Next(256 << 10, 2 << 20) };
                    var data = new byte[size];
                    rng.NextBytes(data);
                    WriteFile($"{tmp}/{path}", data, modes[rng.Next(modes.Length)]);
                    Check(chmod($"{tmp}/{path}", modes[rng.Next(modes.Length)]), "chmod");
                    files.Add(path);
                }
            }
            for (int i = 0; i < 100; i++)
            {
                string target = i % 10 == 0 ? "does/not/exist" : "../" + files[rng.Next(files.Count)];
                Check(symlink(target, $"{tmp}/d{i % 20:D2}/link{i:D3}"), "symlink");
            }
            for (int i = 0; i < 50; i++)
                Check(link($"{tmp}/{files[rng.Next(files.Count)]}", $"{tmp}/d{i % 20:D2}/hard{i:D3}"), "link");
            Mkdir($"{tmp}/empty");
            Check(mknod($"{tmp}/d00/fifo", S_IFIFO | 0x1a4, 0), "mkfifo");
            // mtimes last, deepest first, so that directory times stick
            var all = Tree.Snap(tmp, TreeOpts.None).Keys.OrderByDescending(k => k.Count(c => c == '/')).ThenBy(k => k, StringComparer.Ordinal).ToList();
            foreach (var rel in all)
            {
                long sec = 1_500_000_000 + rng.Next(100_000_000);
                var ts = new Timespec(sec, rng.Next(1_000_000_000));
                Utimens($"{tmp}/{rel}", ts, ts, follow: false);
            }
            Check(rename(tmp, root), "rename");
            return root;
        }
    }

    private static Dictionary<string, string> GitEnv(string home) => new()
    {
        ["HOME"] = home,
        ["GIT_CONFIG_NOSYSTEM"] = "1",
        ["GIT_AUTHOR_NAME"] = "Lighthouse Test",
        ["GIT_AUTHOR_EMAIL"] = "test@lighthouse.invalid",
        ["GIT_COMMITTER_NAME"] = "Lighthouse Test",
        ["GIT_COMMITTER_EMAIL"] = "test@lighthouse.invalid",
        ["GIT_AUTHOR_DATE"] = "2026-01-01T00:00:00Z",
        ["GIT_COMMITTER_DATE"] = "2026-01-01T00:00:00Z",
        ["LC_ALL"] = "C",
    };

    [Fact]
    public void GitCloneStatusCommitFsck() => Run(t =>
    {
        string home = Path.Join(Fx.Work, "git-home");
        Directory.CreateDirectory(home);
        var env = GitEnv(home);
        string origin = Path.Join(Fx.Work, $"origin-{Guid.NewGuid():N}");
        Directory.CreateDirectory(origin);
        Shell.Ok("git", ["init", "-q", "-b", "main", origin], env: env);
        for (int c = 0; c < 4; c++)
        {
            Directory.CreateDirectory($"{origin}/src/module{c}");
            for (int f = 0; f < 25; f++)
                File.WriteAllText($"{origin}/src/module{c}/file{f}.cs", $"// commit {c} file {f}\n" + new string('x', f * 40 * (c + 1)));
            File.WriteAllText($"{origin}/README.md", $"revision {c}\n");
            if (c == 1)
            {
                File.WriteAllText($"{origin}/run.sh", "#!/bin/sh\necho hi\n");
                Check(chmod($"{origin}/run.sh", 0x1ed), "chmod");
                File.CreateSymbolicLink($"{origin}/readme-link", "README.md");
            }
            Shell.Ok("git", ["add", "-A"], origin, env);
            Shell.Ok("git", ["commit", "-q", "-m", $"commit {c}"], origin, env);
        }

        string Git(string cwd, params string[] args) => Shell.Ok("git", args, cwd, env, 180).Stdout;
        foreach (var side in new[] { t.M, t.N })
        {
            Git(side, "clone", "-q", origin, "clone");
            string repo = $"{side}/clone";
            Assert.Equal("", Git(repo, "status", "--porcelain"));
            File.AppendAllText($"{repo}/README.md", "changed on the mount\n");
            File.WriteAllText($"{repo}/src/new.txt", "new file\n");
            File.Delete($"{repo}/src/module0/file3.cs");
            Git(repo, "mv", "src/module1/file4.cs", "src/module1/renamed.cs");
            Assert.Equal(" M README.md\n D src/module0/file3.cs\nR  src/module1/file4.cs -> src/module1/renamed.cs\n?? src/new.txt\n",
                Git(repo, "status", "--porcelain"));
            Git(repo, "add", "-A");
            Git(repo, "commit", "-q", "-m", "change made through the mount");
            Assert.Contains("change made through the mount", Git(repo, "log", "--oneline"));
            Assert.Equal("", Git(repo, "status", "--porcelain"));
            Git(repo, "gc", "-q");
            Git(repo, "fsck", "--full", "--strict");
            Assert.Equal("", Git(repo, "status", "--porcelain"));
        }
        // identical commits (fixed dates): identical hashes and trees
        Assert.Equal(Git($"{t.N}/clone", "rev-parse", "HEAD"), Git($"{t.M}/clone", "rev-parse", "HEAD"));
        Tree.AssertSame("git working trees", $"{t.M}/clone", $"{t.N}/clone", TreeOpts.Default, rel => rel.StartsWith(".git", StringComparison.Ordinal));
        // git reads its own repository back from the backing directory too
        Assert.Equal("", Shell.Ok("git", ["status", "--porcelain"], $"{t.B}/clone", env).Stdout);
    }, timeoutSeconds: 240);

    [Fact]
    public void TarExtractOfALargeTree() => Run(t =>
    {
        string gen = Timed("generated tree", GeneratedTree);
        string tar = Path.Join(Fx.Work, "gen.tar");
        lock (GenLock)
            if (!File.Exists(tar)) Shell.Ok("tar", ["-cf", tar + ".tmp", "-C", gen, "."]);
        if (File.Exists(tar + ".tmp")) File.Move(tar + ".tmp", tar, overwrite: true);
        foreach (var side in new[] { t.M, t.N })
        {
            Mkdir($"{side}/x");
            var r = Timed($"tar x into {side}", () => Shell.Ok("tar", ["-xf", tar, "-C", $"{side}/x"], timeoutSeconds: 200));
            Assert.Equal("", r.Stderr);
        }
        Timed("compare", () => Tree.AssertSame("tar x: mount vs native", t.Mp("x"), t.Np("x"), TreeOpts.Default | TreeOpts.Mtime));
        Tree.AssertSame("tar x: mount vs backing", t.Mp("x"), t.Bp("x"), TreeOpts.Default | TreeOpts.Mtime);
        // against the original: tar keeps whole seconds only, so times are not compared here
        Tree.AssertSame("tar x: mount vs original", t.Mp("x"), gen, TreeOpts.Default);
        // tar's own comparison of the archive with the extracted tree (mode, mtime, size, content, links)
        var cmp = Shell.Run("tar", ["--compare", "-f", tar, "-C", t.Mp("x")], timeoutSeconds: 200);
        Assert.True(cmp.Code == 0 && cmp.Stdout == "", $"tar --compare on the mount: {cmp}");
    }, timeoutSeconds: 300);

    [Fact]
    public void CpArchiveIntoAndWithinTheMount() => Run(t =>
    {
        string gen = Timed("generated tree", GeneratedTree);
        foreach (var side in new[] { t.M, t.N })
        {
            var r = Timed($"cp -a into {side}", () => Shell.Ok("cp", ["-a", gen, $"{side}/copy"], timeoutSeconds: 200));
            Assert.Equal("", r.Stderr);
        }
        var opts = TreeOpts.Default | TreeOpts.Mtime;
        Tree.AssertSame("cp -a: mount vs native", t.Mp("copy"), t.Np("copy"), opts);
        Tree.AssertSame("cp -a: mount vs original", t.Mp("copy"), gen, opts);
        // within the mount (cp may use copy_file_range or reflinks here)
        foreach (var side in new[] { t.M, t.N })
            Assert.Equal("", Shell.Ok("cp", ["-a", $"{side}/copy", $"{side}/copy2"], timeoutSeconds: 200).Stderr);
        Tree.AssertSame("cp -a within: mount vs original", t.Mp("copy2"), gen, opts);
        Tree.AssertSame("cp -a within: mount vs backing", t.Mp("copy2"), t.Bp("copy2"), opts);
        // and out of the mount again
        string back = Path.Join(Fx.Work, $"back-{Guid.NewGuid():N}");
        Shell.Ok("cp", ["-a", t.Mp("copy2"), back], timeoutSeconds: 200);
        Tree.AssertSame("cp -a out of the mount vs original", back, gen, opts);
        Shell.Ok("rm", "-rf", back);
    }, timeoutSeconds: 300);

    [Fact]
    public void RsyncArchive() => Run(t =>
    {
        Assert.True(File.Exists("/usr/bin/rsync") || File.Exists("/bin/rsync"),
            "rsync is not installed (CI setup installs it: apt-get install rsync)");
        string gen = Timed("generated tree", GeneratedTree);
        foreach (var side in new[] { t.M, t.N })
        {
            var r = Timed($"rsync -a into {side}", () => Shell.Ok("rsync", ["-a", "-H", gen + "/", $"{side}/rs/"], timeoutSeconds: 200));
            Assert.Equal("", r.Stderr);
        }
        var opts = TreeOpts.Default | TreeOpts.Mtime;
        Tree.AssertSame("rsync -a: mount vs native", t.Mp("rs"), t.Np("rs"), opts);
        Tree.AssertSame("rsync -a: mount vs original", t.Mp("rs"), gen, opts);
        // a second run finds everything up to date (sizes and mtimes read back right)
        var again = Shell.Ok("rsync", ["-a", "-H", "-i", gen + "/", t.Mp("rs") + "/"], timeoutSeconds: 200);
        Assert.Equal("", again.Stdout);
        // a change on one file (not hard-linked) is picked up, and nothing else
        string changed = Directory.GetFiles(t.Mp("rs/d01")).Select(p => Path.GetRelativePath(t.Mp("rs"), p)).Order(StringComparer.Ordinal)
            .First(rel => Lstat(t.Mp($"rs/{rel}")) is { IsReg: true, Nlink: 1, Size: > 0 });
        File.AppendAllText(t.Mp($"rs/{changed}"), "changed");
        var back = Shell.Ok("rsync", ["-a", "-H", "-i", t.Mp("rs") + "/", t.Np("rs") + "/"], timeoutSeconds: 200);
        Assert.Equal($">f.st...... {changed}", back.Stdout.Trim());
        Tree.AssertSame("rsync from the mount", t.Mp("rs"), t.Np("rs"), opts);
    }, timeoutSeconds: 300);
}

public sealed class RealToolTests_Passthrough(PassthroughDefault fx, ITestOutputHelper output) : RealToolTests<PassthroughDefault>(fx, output);
public sealed class RealToolTests_Mount(RecordedMount fx, ITestOutputHelper output) : RealToolTests<RecordedMount>(fx, output);
