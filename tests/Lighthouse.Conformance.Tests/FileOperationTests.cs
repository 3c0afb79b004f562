using System.Security.Cryptography;
using Lighthouse.Conformance.Tests.Support;
using Xunit.Abstractions;
using Lighthouse.Interop;
using static Lighthouse.Conformance.Tests.Support.Sys;

namespace Lighthouse.Conformance.Tests;

/// <summary>
/// Every file operation through real system calls, on the mount and on a native twin directory, with
/// equal results required: create/open/read/write/pread/pwrite, truncate, setattr (chmod, chown,
/// utimensat incl. UTIME_NOW/UTIME_OMIT), symlink/readlink, mknod of every kind, link, fsync,
/// O_TMPFILE + linkat, fallocate and punch hole, SEEK_DATA/SEEK_HOLE, copy_file_range, shared mmap,
/// a 64 MiB file, poll, an open-unlinked file, statfs, access, rename (plain, NOREPLACE, EXCHANGE).
/// </summary>
public abstract unsafe class FileOperationTests<TTarget> : ConformanceTestBase<TTarget> where TTarget : MountTarget
{
    protected FileOperationTests(TTarget fx, ITestOutputHelper output) : base(fx, output) { }

    private static string Core(string path, bool follow = false) => StatE(path, follow).ToString();

    [Fact]
    public void CreateWriteReadStat() => Run(t =>
    {
        var data = Twin.Pattern(10_000, 1);
        t.Both("create+write+read", d =>
        {
            int fd = open($"{d}/a", O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0x1a4);
            if (fd < 0) return $"open: {ErrName(Errno)}";
            PwriteAll(fd, data, 0);
            var back = PreadFull(fd, 20_000, 0);
            var fst = Fstat(fd).Core;
            close(fd);
            return $"{Twin.Hash(back)} {fst} | {Core($"{d}/a")}";
        });
        Assert.Equal(data, ReadFile(t.Bp("a")));
        Assert.Equal(data, ReadFile(t.Mp("a")));
        // open(O_CREAT) on an existing file opens it; O_CREAT|O_EXCL fails (checked in ErrorPathTests too).
        t.Call0("open(O_CREAT) existing", d => { int fd = open($"{d}/a", O_CREAT | O_RDONLY | O_CLOEXEC, 0); if (fd >= 0) close(fd); return fd; });
        t.Both("size after reopen", d => Stat($"{d}/a").Size);
    });

    [Fact]
    public void PreadPwriteAtOffsetsAndHoles() => Run(t =>
    {
        t.Both("pread/pwrite sequence", d =>
        {
            int fd = Open($"{d}/f", O_CREAT | O_RDWR);
            var log = new List<string>();
            PwriteAll(fd, Twin.Pattern(100, 2), 0);
            PwriteAll(fd, Twin.Pattern(50, 3), 10_000);          // leaves a hole 100..10000
            log.Add(Twin.Hash(PreadFull(fd, 200, 4_950)));        // zeros from the hole
            log.Add(PreadFull(fd, 100, 10_040).Length.ToString()); // short read at EOF: 10 bytes
            log.Add(PreadFull(fd, 100, 20_000).Length.ToString()); // beyond EOF: 0
            PwriteAll(fd, Twin.Pattern(4_000, 4), 60);            // overlapping rewrite
            PwriteAll(fd, Twin.Pattern(70_000, 5), 131_000);      // crosses several pages
            log.Add(Twin.Hash(PreadFull(fd, 300_000, 0)));
            log.Add(Fstat(fd).Size.ToString());
            // read(2)/write(2) use and move the file offset
            log.Add(lseek(fd, 5, SEEK_SET).ToString());
            var buf = new byte[16];
            fixed (byte* p = buf) log.Add(read(fd, p, 16).ToString());
            log.Add(Twin.Hash(buf));
            fixed (byte* p = buf) log.Add(write(fd, p, 16).ToString());
            log.Add(lseek(fd, 0, SEEK_CUR).ToString());
            log.Add(lseek(fd, 0, SEEK_END).ToString());
            close(fd);
            log.Add(Twin.Hash(ReadFile($"{d}/f")));
            return string.Join(' ', log);
        });
        Assert.Equal(ReadFile(t.Mp("f")), ReadFile(t.Bp("f")));
    });

    [Fact]
    public void AppendMode() => Run(t =>
    {
        t.Both("O_APPEND", d =>
        {
            WriteFile($"{d}/log", "start\n");
            int fd = Open($"{d}/log", O_WRONLY | O_APPEND);
            var a = Twin.Utf8("line one\n");
            fixed (byte* p = a) write(fd, p, (nuint)a.Length);
            // pwrite on an O_APPEND descriptor appends on Linux, whatever the offset
            fixed (byte* p = a) pwrite(fd, p, (nuint)a.Length, 0);
            close(fd);
            return ReadText($"{d}/log") + "|" + Stat($"{d}/log").Size;
        });
    });

    [Fact]
    public void TruncateGrowAndShrink() => Run(t =>
    {
        t.Do(d => WriteFile($"{d}/f", Twin.Pattern(50_000, 6)));
        foreach (long size in new long[] { 10_000, 100_000, 4095, 0, 1 << 20, 12_345 })
        {
            t.Call($"truncate({size})", d => truncate($"{d}/f", size));
            t.Both($"after truncate({size})", d => $"{Core($"{d}/f")} {Twin.Hash(ReadFile($"{d}/f"))}");
        }
        t.Both("ftruncate", d =>
        {
            int fd = Open($"{d}/f", O_RDWR);
            var r = new List<Res> { R(ftruncate(fd, 7)), R(ftruncate(fd, 70_000)) };
            PwriteAll(fd, Twin.Utf8("tail"), 69_000);
            r.Add(R(ftruncate(fd, 69_002)));
            var s = Fstat(fd).Size;
            close(fd);
            return $"{string.Join(',', r)} {s} {Twin.Hash(ReadFile($"{d}/f"))}";
        });
        t.Both("open(O_TRUNC)", d =>
        {
            int fd = Open($"{d}/f", O_WRONLY | O_TRUNC);
            var s = Fstat(fd).Size;
            close(fd);
            return $"{s} {Stat($"{d}/f").Size}";
        });
        t.Err("truncate(-1)", EINVAL, d => truncate($"{d}/f", -1));
    });

    [Fact]
    public void ChmodAndFchmod() => Run(t =>
    {
        t.Do(d => { WriteFile($"{d}/f", "x"); Mkdir($"{d}/dir"); });
        foreach (uint mode in new uint[] { 0x1ff, 0x180, 0x0, 0x9ed /* 04755 */, 0x5ed /* 02755 */, 0x3ed /* 01755 */, 0x124 })
        {
            t.Call($"chmod(f, {Convert.ToString(mode, 8)})", d => chmod($"{d}/f", mode));
            t.Both($"stat after chmod {Convert.ToString(mode, 8)}", d => Core($"{d}/f"));
            t.Call($"chmod(dir, {Convert.ToString(mode, 8)})", d => chmod($"{d}/dir", mode));
            t.Both($"stat dir after chmod {Convert.ToString(mode, 8)}", d => Core($"{d}/dir"));
        }
        t.Both("fchmod", d =>
        {
            int fd = Open($"{d}/f", O_RDONLY);
            var r = R(fchmod(fd, 0x1c0));
            var m = Fstat(fd).Core;
            close(fd);
            return $"{r} {m} {Core($"{d}/f")}";
        });
        // chmod through a symlink changes the target
        t.Do(d => Check(symlink("f", $"{d}/lnk"), "symlink"));
        t.Call("chmod via symlink", d => chmod($"{d}/lnk", 0x1a0));
        t.Both("target after chmod via symlink", d => Core($"{d}/f") + " " + Core($"{d}/lnk"));
    });

    [Fact]
    public void ChownLchownFchown() => Run(t =>
    {
        t.Do(d => { WriteFile($"{d}/f", "x"); Check(symlink("f", $"{d}/lnk"), "symlink"); });
        t.Call("chown(1234, 5678)", d => chown($"{d}/f", 1234, 5678));
        t.Both("stat", d => Core($"{d}/f"));
        t.Call("chown(-1, 42)", d => chown($"{d}/f", -1, 42));
        t.Both("stat", d => Core($"{d}/f"));
        t.Call("chown(7, -1)", d => chown($"{d}/f", 7, -1));
        t.Both("stat", d => Core($"{d}/f"));
        t.Call("lchown(symlink, 99, 98)", d => lchown($"{d}/lnk", 99, 98));
        t.Both("lstat symlink + stat target", d => Core($"{d}/lnk") + " | " + Core($"{d}/f"));
        t.Both("fchown", d =>
        {
            int fd = Open($"{d}/f", O_RDONLY);
            var r = R(fchown(fd, 0, 0));
            close(fd);
            return $"{r} {Core($"{d}/f")}";
        });
        // chown of a set-user-id/set-group-id executable clears both bits (even for root)
        t.Call("chmod 06755", d => chmod($"{d}/f", 0xded));
        t.Call("chown of setuid file", d => chown($"{d}/f", 1000, 1000));
        t.Both("mode after chown of setuid file", d => Core($"{d}/f"));
    });

    [Fact]
    public void UtimensatExplicitNowAndOmit() => Run(t =>
    {
        t.Do(d => { WriteFile($"{d}/f", "x"); Check(symlink("f", $"{d}/lnk"), "symlink"); });
        t.Do(d => Utimens($"{d}/f", new Timespec(1_000_000_000, 123_456_789), new Timespec(1_500_000_000, 987_654_321)));
        t.Both("explicit times", d => { var s = Stat($"{d}/f"); return (s.AtimeNs, s.MtimeNs); });

        // UTIME_OMIT on atime, explicit mtime: atime unchanged
        t.Do(d => Utimens($"{d}/f", new Timespec(0, UTIME_OMIT), new Timespec(1_600_000_000, 5)));
        t.Both("UTIME_OMIT atime", d => { var s = Stat($"{d}/f"); return (s.AtimeNs, s.MtimeNs); });

        // UTIME_NOW on mtime, UTIME_OMIT on atime: mtime is "now", atime unchanged
        t.Both("UTIME_NOW mtime", d =>
        {
            long before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000 - 2_000_000_000L;
            Utimens($"{d}/f", new Timespec(0, UTIME_OMIT), new Timespec(0, UTIME_NOW));
            long after = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000 + 2_000_000_000L;
            var s = Stat($"{d}/f");
            return (s.AtimeNs, nowInWindow: s.MtimeNs >= before && s.MtimeNs <= after);
        });
        // both UTIME_NOW (times == NULL equivalent)
        t.Both("UTIME_NOW both", d =>
        {
            long before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000 - 2_000_000_000L;
            Check(utimensat(AT_FDCWD, $"{d}/f", null, 0), "utimensat(NULL)");
            var s = Stat($"{d}/f");
            return (s.AtimeNs >= before, s.MtimeNs >= before);
        });
        // the symlink's own times (AT_SYMLINK_NOFOLLOW) leave the target alone
        t.Do(d => Utimens($"{d}/f", new Timespec(1_100_000_000, 1), new Timespec(1_200_000_000, 2)));
        t.Do(d => Utimens($"{d}/lnk", new Timespec(1_300_000_000, 3), new Timespec(1_400_000_000, 4), follow: false));
        t.Both("lutimes", d =>
        {
            var l = Lstat($"{d}/lnk");
            var f = Stat($"{d}/f");
            return (l.MtimeNs, f.AtimeNs, f.MtimeNs);
        });
        // futimens on an open descriptor
        t.Both("futimens", d =>
        {
            int fd = Open($"{d}/f", O_RDWR);
            var ts = stackalloc Timespec[2];
            ts[0] = new Timespec(1_700_000_000, 7);
            ts[1] = new Timespec(1_700_000_001, 8);
            var r = R(futimens(fd, ts));
            close(fd);
            var s = Stat($"{d}/f");
            return (r, s.AtimeNs, s.MtimeNs);
        });
    });

    [Fact]
    public void WriteAndTruncateAdvanceMtimeAndCtime() => Run(t =>
    {
        t.Do(d => WriteFile($"{d}/f", "x"));
        var old = new Timespec(946_684_800, 0); // 2000-01-01
        long start = (DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 5) * 1_000_000_000L;
        t.Do(d => Utimens($"{d}/f", old, old));
        t.Both("mtime after write", d =>
        {
            int fd = Open($"{d}/f", O_WRONLY);
            PwriteAll(fd, Twin.Utf8("more"), 1);
            close(fd);
            var s = Stat($"{d}/f");
            return (s.MtimeNs >= start, s.CtimeNs >= start, s.Size);
        });
        t.Do(d => Utimens($"{d}/f", old, old));
        t.Both("mtime after truncate", d =>
        {
            Check(truncate($"{d}/f", 2), "truncate");
            var s = Stat($"{d}/f");
            return (s.MtimeNs >= start, s.Size);
        });
        t.Do(d => Utimens($"{d}/f", old, old));
        t.Both("mtime after write through a descriptor opened before", d =>
        {
            int fd = Open($"{d}/f", O_WRONLY);
            Utimens($"{d}/f", old, old);
            PwriteAll(fd, Twin.Utf8("z"), 0);
            var fs = Fstat(fd);
            close(fd);
            var s = Stat($"{d}/f");
            return (fs.MtimeNs >= start, s.MtimeNs >= start);
        });
        t.Both("directory mtime after create", d =>
        {
            Utimens(d, old, old);
            WriteFile($"{d}/g", "");
            return Stat(d).MtimeNs >= start;
        });
    });

    [Fact]
    public void SymlinkAndReadlink() => Run(t =>
    {
        t.Do(d => WriteFile($"{d}/target", "content"));
        string longTarget = string.Join('/', Enumerable.Repeat(new string('t', 99), 40)); // 3999 bytes
        foreach (var (name, target) in new[] { ("rel", "target"), ("abs", "/nonexistent/abs/target"), ("dangling", "nope"), ("long", longTarget), ("dots", "../x/./y") })
        {
            t.Call($"symlink({name})", d => symlink(target, $"{d}/{name}"));
            t.Both($"readlink({name})", d => ReadLink($"{d}/{name}", out int e) ?? ErrName(e));
            t.Both($"lstat({name})", d => Core($"{d}/{name}"));
            t.Both($"stat({name}) follows", d => Core($"{d}/{name}", follow: true));
        }
        Assert.Equal("target", ReadLink(t.Bp("rel"), out _));
        t.Both("read through symlink", d => ReadText($"{d}/rel"));
        t.Both("write through symlink", d => { WriteFile($"{d}/rel", "new"); return ReadText($"{d}/target"); });
        t.Both("symlink to directory", d =>
        {
            Mkdir($"{d}/dir");
            WriteFile($"{d}/dir/inner", "i");
            Check(symlink("dir", $"{d}/dirlink"), "symlink");
            return ReadText($"{d}/dirlink/inner") + Core($"{d}/dirlink/inner");
        });
        t.Err("open(O_NOFOLLOW) of a symlink", ELOOP, d => open($"{d}/rel", O_RDONLY | O_NOFOLLOW, 0));
        t.Err("readlink of a regular file", EINVAL, d => ReadLink($"{d}/target", out int e) == null ? SetErr(e) : 0);
    });

    /// <summary>Re-sets errno for helpers that already read it (so Twin.Err sees it).</summary>
    protected static long SetErr(int e)
    {
        System.Runtime.InteropServices.Marshal.SetLastPInvokeError(e);
        return -1;
    }

    [Fact]
    public void MknodEveryKind() => Run(t =>
    {
        var kinds = new (string Name, uint Mode, ulong Dev)[]
        {
            ("reg", S_IFREG | 0x1a4, 0),
            ("fifo", S_IFIFO | 0x1a0, 0),
            ("sock", S_IFSOCK | 0x1ed, 0),
            ("chr", S_IFCHR | 0x180, Makedev(1, 3)),
            ("blk", S_IFBLK | 0x180, Makedev(7, 200)),
        };
        foreach (var (name, mode, dev) in kinds)
        {
            t.Call($"mknod({name})", d => mknod($"{d}/{name}", mode, dev));
            t.Both($"lstat({name})", d => Core($"{d}/{name}"));
            Assert.Equal(mode & S_IFMT, Lstat(t.Bp(name)).Type);
        }
        // a FIFO on the mount works as a FIFO: write end and read end meet
        t.Both("fifo round trip", d =>
        {
            int r = Open($"{d}/fifo", O_RDONLY | O_NONBLOCK);
            int w = Open($"{d}/fifo", O_WRONLY | O_NONBLOCK);
            var msg = Twin.Utf8("through the fifo");
            fixed (byte* p = msg) write(w, p, (nuint)msg.Length);
            var buf = new byte[64];
            long n;
            fixed (byte* p = buf) n = read(r, p, 64);
            close(w);
            close(r);
            return System.Text.Encoding.UTF8.GetString(buf, 0, (int)Math.Max(n, 0));
        });
        t.Call("mknod on an existing name", d => mknod($"{d}/reg", S_IFREG | 0x1a4, 0));
    });

    [Fact]
    public void HardLinks() => Run(t =>
    {
        t.Do(d => WriteFile($"{d}/a", "one"));
        t.Call("link(a, b)", d => link($"{d}/a", $"{d}/b"));
        t.Both("both names", d => $"{Core($"{d}/a")} | {Core($"{d}/b")}");
        t.Both("write via b, read via a", d => { WriteFile($"{d}/b", "two!"); return ReadText($"{d}/a"); });
        t.Call("link(a, sub/c)", d => { Mkdir($"{d}/sub"); return link($"{d}/a", $"{d}/sub/c"); });
        t.Both("nlink 3", d => Core($"{d}/sub/c"));
        t.Call("unlink(a)", d => unlink($"{d}/a"));
        t.Both("after unlink", d => $"{Core($"{d}/a")} | {Core($"{d}/b")} | {ReadText($"{d}/sub/c")}");
        var mb = Lstat(t.Mp("b"));
        var mc = Lstat(t.Mp("sub/c"));
        Assert.Equal(mb.Ino, mc.Ino); // the two names are one inode on the mount too
        t.Call("link of a symlink (not followed)", d => { Check(symlink("b", $"{d}/sl"), "symlink"); return link($"{d}/sl", $"{d}/sl2"); });
        t.Both("hard-linked symlink", d => $"{Core($"{d}/sl2")} {ReadLink($"{d}/sl2", out _)}");
    });

    [Fact]
    public void HardLinkThenUnlinkTheNewNameKeepsTheOldOne() => Run(t =>
    {
        // link(a, b); unlink(b): a is untouched and must open at once (not only once a cache expires)
        t.Do(d => WriteFile($"{d}/a", "first name"));
        t.Both("stat a", d => Core($"{d}/a"));
        t.Call("link(a, b)", d => link($"{d}/a", $"{d}/b"));
        t.Call("unlink(b)", d => unlink($"{d}/b"));
        t.Both("open a", d => { int fd = open($"{d}/a", O_RDONLY | O_CLOEXEC, 0); if (fd < 0) return ErrName(Errno); close(fd); return "ok"; });
        t.Both("read a", d => Stat($"{d}/a", out int e) == null ? ErrName(e) : ReadText($"{d}/a"));
        t.Both("stat a", d => Core($"{d}/a"));
        // the same across directories
        t.Call("link(a, sub/c)", d => { Mkdir($"{d}/sub"); return link($"{d}/a", $"{d}/sub/c"); });
        t.Call("unlink(sub/c)", d => unlink($"{d}/sub/c"));
        t.Call("rmdir(sub)", d => rmdir($"{d}/sub"));
        t.Both("truncate a", d => R(truncate($"{d}/a", 5)).ToString());
        t.Both("chmod a", d => R(chmod($"{d}/a", 0x180)).ToString());
        t.Both("a at the end", d => Core($"{d}/a"));
    });

    [Fact]
    public void TimesSetRightAfterClose() => Run(t =>
    {
        // what cp -p, rsync, tar and git do for every file they write: create, write, close, utimensat
        t.Both("create/write/close/utimensat x 500", d =>
        {
            var results = new Dictionary<string, int>();
            var ts = stackalloc Timespec[2];
            for (int i = 0; i < 500; i++)
            {
                string p = $"{d}/f{i}";
                int fd = Open(p, O_CREAT | O_EXCL | O_WRONLY);
                PwriteAll(fd, Twin.Pattern(100 + i, i), 0);
                close(fd);
                ts[0] = new Timespec(1_000_000_000, 1);
                ts[1] = new Timespec(1_000_000_000 + i, 2);
                var r = R(utimensat(AT_FDCWD, p, ts, 0)).ToString();
                results[r] = results.GetValueOrDefault(r) + 1;
            }
            return string.Join(", ", results.OrderBy(kv => kv.Key).Select(kv => $"{kv.Key} x{kv.Value}"));
        });
        t.Both("mtimes", d => string.Join(",", Enumerable.Range(0, 500).Select(i => Stat($"{d}/f{i}", out _)?.MtimeNs ?? -1)));
    });

    [Fact]
    public void FsyncAndFdatasync() => Run(t =>
    {
        t.Both("fsync/fdatasync", d =>
        {
            int fd = Open($"{d}/f", O_CREAT | O_RDWR);
            PwriteAll(fd, Twin.Pattern(100_000, 7), 0);
            var a = R(fsync(fd));
            PwriteAll(fd, Twin.Pattern(1000, 8), 5);
            var b = R(fdatasync(fd));
            close(fd);
            int ro = Open($"{d}/f", O_RDONLY);
            var c = R(fsync(ro)); // fsync on a read-only descriptor is allowed
            close(ro);
            int dfd = Open(d, O_RDONLY | O_DIRECTORY);
            var e = R(fsync(dfd)); // and on a directory
            var f = R(fdatasync(dfd));
            close(dfd);
            return $"{a} {b} {c} {e} {f} {Twin.Hash(ReadFile($"{d}/f"))}";
        });
        Assert.Equal(ReadFile(t.Mp("f")), ReadFile(t.Bp("f")));
    });

    [Fact]
    public void TmpfileThenLinkat() => Run(t =>
    {
        t.Both("O_TMPFILE + linkat", d =>
        {
            int fd = open(d, O_TMPFILE | O_RDWR | O_CLOEXEC, 0x180);
            if (fd < 0) return $"open(O_TMPFILE): {ErrName(Errno)}";
            PwriteAll(fd, Twin.Utf8("anonymous until linked"), 0);
            var before = Fstat(fd);
            var names = Sys.ReadDir(d).Count; // "." and ".." only: the file has no name
            var l = R(linkat(AT_FDCWD, $"/proc/self/fd/{fd}", AT_FDCWD, $"{d}/named", AT_SYMLINK_FOLLOW));
            var after = Fstat(fd);
            PwriteAll(fd, Twin.Utf8("!"), 22);
            close(fd);
            return $"nlink {before.Nlink} mode {Convert.ToString(before.Mode, 8)} entries {names} link {l} nlink {after.Nlink} " +
                   $"{Core($"{d}/named")} \"{ReadText($"{d}/named")}\"";
        });
        Assert.Equal("anonymous until linked!", ReadText(t.Bp("named")));
        // O_TMPFILE|O_EXCL: can never be given a name
        t.Both("O_TMPFILE|O_EXCL + linkat", d =>
        {
            int fd = open(d, O_TMPFILE | O_EXCL | O_RDWR | O_CLOEXEC, 0x180);
            if (fd < 0) return $"open: {ErrName(Errno)}";
            var l = R(linkat(AT_FDCWD, $"/proc/self/fd/{fd}", AT_FDCWD, $"{d}/never", AT_SYMLINK_FOLLOW));
            close(fd);
            return l.ToString();
        });
    });

    [Fact]
    public void FallocateAndPunchHole() => Run(t =>
    {
        var data = Twin.Pattern(1 << 20, 9);
        t.Do(d => { WriteFile($"{d}/f", data); int fd = Open($"{d}/f", O_RDWR); fsync(fd); close(fd); });
        t.Both("fallocate", d =>
        {
            int fd = Open($"{d}/f", O_RDWR);
            var log = new List<string>();
            log.Add($"{R(fallocate(fd, 0, 0, 2 << 20))} size {Fstat(fd).Size}");              // extends
            log.Add($"{R(fallocate(fd, FALLOC_FL_KEEP_SIZE, 2 << 20, 1 << 20))} size {Fstat(fd).Size}"); // does not
            fsync(fd);
            long blocksBefore = Fstat(fd).Blocks;
            log.Add($"{R(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 64 << 10, 256 << 10))} size {Fstat(fd).Size}");
            fsync(fd);
            long blocksAfter = Fstat(fd).Blocks;
            log.Add($"blocks decreased: {blocksAfter < blocksBefore}");
            var hole = PreadFull(fd, 256 << 10, 64 << 10);
            log.Add($"hole zero: {hole.All(b => b == 0)} len {hole.Length}");
            log.Add($"unaligned punch {R(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 1000, 3000))}");
            log.Add($"punch without KEEP_SIZE {R(fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 10))}");
            close(fd);
            log.Add(Twin.Hash(ReadFile($"{d}/f")));
            return string.Join("; ", log);
        });
        var expect = new byte[2 << 20];
        data.CopyTo(expect, 0);
        Array.Clear(expect, 64 << 10, 256 << 10);
        Array.Clear(expect, 1000, 3000);
        Assert.Equal(Twin.Hash(expect), Twin.Hash(ReadFile(t.Mp("f"))));
        Assert.Equal(Twin.Hash(expect), Twin.Hash(ReadFile(t.Bp("f"))));
    });

    [Fact]
    public void SeekDataAndSeekHole() => Run(t =>
    {
        t.Both("SEEK_DATA/SEEK_HOLE", d =>
        {
            int fd = Open($"{d}/sparse", O_CREAT | O_RDWR);
            PwriteAll(fd, Twin.Pattern(4096, 10), 0);
            PwriteAll(fd, Twin.Pattern(8192, 11), 1 << 20);
            Check(ftruncate(fd, 3 << 20), "ftruncate");
            fsync(fd);
            var log = new List<string>();
            foreach (long off in new long[] { 0, 100, 4096, 8192, 1 << 20, (1 << 20) + 100, (1 << 20) + 8192, (3 << 20) - 1, 3 << 20, 5 << 20 })
                log.Add($"{off}: data {R(lseek(fd, off, SEEK_DATA))} hole {R(lseek(fd, off, SEEK_HOLE))}");
            close(fd);
            return string.Join("\n", log);
        });
        // sanity of the expectation itself, natively
        int nfd = Open(t.Np("sparse"), O_RDONLY);
        Assert.Equal(1 << 20, lseek(nfd, 4096, SEEK_DATA));
        close(nfd);
    });

    [Fact]
    public void CopyFileRange() => Run(t =>
    {
        var data = Twin.Pattern(300_000, 12);
        t.Do(d => { WriteFile($"{d}/src", data); WriteFile($"{d}/dst", Twin.Pattern(20_000, 13)); });
        t.Both("copy_file_range", d =>
        {
            int s = Open($"{d}/src", O_RDONLY);
            int o = Open($"{d}/dst", O_RDWR);
            long inOff = 50_000, outOff = 10_000;
            var log = new List<string>();
            long total = 0;
            while (total < 100_000)
            {
                long n = copy_file_range(s, &inOff, o, &outOff, (nuint)(100_000 - total), 0);
                if (n <= 0) { log.Add($"copy stopped: {R(n)}"); break; }
                total += n;
            }
            log.Add($"copied {total} in {inOff} out {outOff}");
            long past = 400_000;
            log.Add($"past EOF {R(copy_file_range(s, &past, o, null, 100, 0))}");
            // without offsets: uses and moves the file positions
            lseek(s, 1000, SEEK_SET);
            lseek(o, 0, SEEK_END);
            log.Add($"positional {R(copy_file_range(s, null, o, null, 5000, 0))} pos {lseek(s, 0, SEEK_CUR)} {lseek(o, 0, SEEK_CUR)}");
            close(s);
            close(o);
            log.Add($"size {Stat($"{d}/dst").Size} {Twin.Hash(ReadFile($"{d}/dst"))}");
            return string.Join("; ", log);
        });
        Assert.Equal(ReadFile(t.Mp("dst")), ReadFile(t.Bp("dst")));
    });

    [Fact]
    public void SharedMmapWriteAndMsync() => Run(t =>
    {
        const int len = 256 << 10;
        t.Do(d => WriteFile($"{d}/m", Twin.Pattern(len, 14)));
        t.Both("mmap shared", d =>
        {
            int fd = Open($"{d}/m", O_RDWR);
            byte* p = (byte*)mmap(null, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
            if (p == (byte*)-1) { var e = Errno; close(fd); return $"mmap: {ErrName(e)}"; }
            // read through the mapping what write() put there
            var first = new Span<byte>(p, len).ToArray();
            // write through the mapping
            var patch = Twin.Pattern(10_000, 15);
            patch.CopyTo(new Span<byte>(p + 5000, patch.Length));
            patch.CopyTo(new Span<byte>(p + len - 10_000, patch.Length));
            var ms = R(msync(p, len, MS_SYNC));
            munmap(p, len);
            close(fd);
            // another descriptor sees what the mapping wrote
            return $"{Twin.Hash(first)} msync {ms} after {Twin.Hash(ReadFile($"{d}/m"))} size {Stat($"{d}/m").Size}";
        });
        // the bytes written through the mapping reached the backing file
        Assert.Equal(Twin.Hash(ReadFile(t.Np("m"))), Twin.Hash(ReadFile(t.Bp("m"))));
        // a write() after the mapping is seen by a new mapping
        t.Both("mmap sees write()", d =>
        {
            int fd = Open($"{d}/m", O_RDWR);
            PwriteAll(fd, Twin.Pattern(3000, 16), 100_000);
            byte* p = (byte*)mmap(null, len, PROT_READ, MAP_SHARED, fd, 0);
            if (p == (byte*)-1) { var e = Errno; close(fd); return $"mmap: {ErrName(e)}"; }
            var h = Twin.Hash(new Span<byte>(p, len).ToArray());
            munmap(p, len);
            close(fd);
            return h;
        });
    });

    [Fact]
    public void LargeFile64MiBChecksum() => Run(t =>
    {
        const int chunk = 1 << 20, chunks = 64;
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        int fd = Open(t.Mp("big"), O_CREAT | O_WRONLY | O_TRUNC);
        var rng = new Random(17);
        var buf = new byte[chunk];
        for (int i = 0; i < chunks; i++)
        {
            rng.NextBytes(buf);
            sha.AppendData(buf);
            PwriteAll(fd, buf, (long)i * chunk);
        }
        Check(fsync(fd), "fsync");
        close(fd);
        string expected = Convert.ToHexString(sha.GetHashAndReset());
        Assert.Equal((long)chunk * chunks, Stat(t.Mp("big")).Size);

        string HashOf(string path, int blockSize)
        {
            using var h = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            int f = Open(path, O_RDONLY);
            var b = new byte[blockSize];
            long off = 0;
            fixed (byte* p = b)
                while (true)
                {
                    long n = Check(pread(f, p, (nuint)b.Length, off), "pread");
                    if (n == 0) break;
                    h.AppendData(b, 0, (int)n);
                    off += n;
                }
            close(f);
            return Convert.ToHexString(h.GetHashAndReset());
        }
        Assert.Equal(expected, HashOf(t.Mp("big"), 1 << 20));
        Assert.Equal(expected, HashOf(t.Mp("big"), 12_345)); // unaligned reads
        Assert.Equal(expected, HashOf(t.Bp("big"), 1 << 20)); // the backing file holds the same bytes
        Check(unlink(t.Mp("big")), "unlink");
        Assert.False(File.Exists(t.Bp("big")));
    }, timeoutSeconds: 180);

    [Fact]
    public void PollOnRegularFile() => Run(t =>
    {
        t.Do(d => WriteFile($"{d}/f", "data"));
        t.Both("poll", d =>
        {
            int fd = Open($"{d}/f", O_RDWR);
            PollFd pfd = new() { Fd = fd, Events = POLLIN | POLLOUT };
            var r = R(poll(&pfd, 1, 2000));
            close(fd);
            return $"{r} revents 0x{pfd.Revents & (POLLIN | POLLOUT | POLLERR | POLLHUP | POLLNVAL):x}";
        });
    });

    [Fact]
    public void OpenUnlinkedFileStaysUsable() => Run(t =>
    {
        t.Both("open-unlinked", d =>
        {
            WriteFile($"{d}/f", Twin.Pattern(50_000, 18));
            int fd = Open($"{d}/f", O_RDWR);
            int fd2 = Open($"{d}/f", O_RDONLY);
            var log = new List<string> { R(unlink($"{d}/f")).ToString(), StatE($"{d}/f").ToString() };
            var st = Fstat(fd);
            log.Add($"nlink {st.Nlink} size {st.Size}");
            log.Add(Twin.Hash(PreadFull(fd, 60_000, 0)));
            PwriteAll(fd, Twin.Utf8("after unlink"), 49_990);
            log.Add(R(ftruncate(fd, 50_001)).ToString());
            log.Add(R(fsync(fd)).ToString());
            log.Add(Twin.Hash(PreadFull(fd2, 60_000, 0)));
            log.Add($"size {Fstat(fd2).Size}");
            log.Add(Sys.ReadDir(d).Count(e => e.Name is not ("." or "..")).ToString()); // nothing visible
            close(fd);
            close(fd2);
            // a new file with the same name is a different file
            WriteFile($"{d}/f", "new");
            log.Add(ReadText($"{d}/f"));
            return string.Join("; ", log);
        });
        // the backing directory shows no leftover (e.g. a hidden renamed file)
        Assert.Equal(new[] { "f" }, Directory.GetFileSystemEntries(t.B).Select(p => Path.GetFileName(p)).ToArray());
    });

    [Fact]
    public void StatfsMatchesBackingFilesystem() => Run(t =>
    {
        StatfsBuf m, b;
        Check(statfs(t.M, &m), "statfs(mount)");
        Check(statfs(t.B, &b), "statfs(backing)");
        Assert.Equal(b.Bsize, m.Bsize);
        Assert.Equal(b.Frsize, m.Frsize);
        Assert.Equal(b.Blocks, m.Blocks);
        Assert.Equal(b.Files, m.Files);
        Assert.Equal(b.Namelen, m.Namelen);
        Assert.InRange((double)m.Bfree, b.Bfree * 0.98, b.Bfree * 1.02 + 1024);
        Assert.InRange((double)m.Bavail, b.Bavail * 0.98, b.Bavail * 1.02 + 1024);
        Assert.InRange((double)m.Ffree, b.Ffree * 0.98, b.Ffree * 1.02 + 1024);
        StatfsBuf f;
        int rc = statfs(t.Mp("missing"), &f);
        int err = Errno;
        Assert.Equal(-1, rc);
        Assert.Equal(ENOENT, err);
    });

    [Fact]
    public void AccessAndFaccessat() => Run(t =>
    {
        t.Do(d =>
        {
            WriteFile($"{d}/rw", "x", 0x1a4);
            WriteFile($"{d}/x", "x", 0x1ed);
            WriteFile($"{d}/none", "x", 0);
            Check(chmod($"{d}/none", 0), "chmod");
            Mkdir($"{d}/dir", 0x1c0);
            Check(symlink("x", $"{d}/lnk"), "symlink");
            Check(symlink("missing", $"{d}/dangling"), "symlink");
        });
        foreach (var name in new[] { "rw", "x", "none", "dir", "lnk", "dangling", "missing", "rw/sub" })
            foreach (var (mode, flag) in new[] { (F_OK, 0), (R_OK, 0), (W_OK, 0), (X_OK, 0), (R_OK | W_OK | X_OK, 0), (X_OK, AT_EACCESS), (F_OK, AT_SYMLINK_NOFOLLOW) })
                t.Call($"faccessat({name}, {mode}, {flag})", d => faccessat(AT_FDCWD, $"{d}/{name}", mode, flag));
        t.Call("access(x, X_OK)", d => access($"{d}/x", X_OK));
    });

    [Fact]
    public void RenamePlainNoreplaceExchange() => Run(t =>
    {
        t.Do(d =>
        {
            WriteFile($"{d}/a", "A");
            WriteFile($"{d}/b", "BB");
            Mkdir($"{d}/d1");
            Mkdir($"{d}/d2");
            WriteFile($"{d}/d1/in1", "1");
            WriteFile($"{d}/d2/in2", "22");
        });
        string State(string d) => string.Join(" ", new[] { "a", "b", "c", "d1", "d2", "d1/in1", "d1/in2", "d2/in1", "d2/in2", "d3", "d3/in1" }
            .Select(n => $"{n}={StatE($"{d}/{n}")}" + (File.Exists($"{d}/{n}") ? $":{ReadText($"{d}/{n}")}" : "")));

        t.Call("rename(a, c)", d => rename($"{d}/a", $"{d}/c"));
        t.Both("state", State);
        t.Call("rename(c, b) replaces b", d => rename($"{d}/c", $"{d}/b"));
        t.Both("state", State);
        t.Call("rename to the same name", d => rename($"{d}/b", $"{d}/b"));
        t.Call("rename(b, d1/b) across directories", d => rename($"{d}/b", $"{d}/d1/b"));
        t.Call("rename(d1/b, a) back", d => rename($"{d}/d1/b", $"{d}/a"));
        t.Call("renameat2 NOREPLACE onto existing", d => { WriteFile($"{d}/b", "bee"); return renameat2(AT_FDCWD, $"{d}/a", AT_FDCWD, $"{d}/b", RENAME_NOREPLACE); });
        t.Call("renameat2 NOREPLACE to a new name", d => renameat2(AT_FDCWD, $"{d}/a", AT_FDCWD, $"{d}/c", RENAME_NOREPLACE));
        t.Both("state", State);
        t.Call("renameat2 EXCHANGE two files", d => renameat2(AT_FDCWD, $"{d}/b", AT_FDCWD, $"{d}/c", RENAME_EXCHANGE));
        t.Both("state", State);
        t.Call("renameat2 EXCHANGE two directories", d => renameat2(AT_FDCWD, $"{d}/d1", AT_FDCWD, $"{d}/d2", RENAME_EXCHANGE));
        t.Both("state", State);
        t.Call("renameat2 EXCHANGE file and directory", d => renameat2(AT_FDCWD, $"{d}/b", AT_FDCWD, $"{d}/d1", RENAME_EXCHANGE));
        t.Both("state", State);
        t.Call("renameat2 EXCHANGE back", d => renameat2(AT_FDCWD, $"{d}/b", AT_FDCWD, $"{d}/d1", RENAME_EXCHANGE));
        t.Call("renameat2 EXCHANGE with a missing target", d => renameat2(AT_FDCWD, $"{d}/b", AT_FDCWD, $"{d}/zz", RENAME_EXCHANGE));
        t.Call("renameat2 NOREPLACE|EXCHANGE", d => renameat2(AT_FDCWD, $"{d}/b", AT_FDCWD, $"{d}/c", RENAME_NOREPLACE | RENAME_EXCHANGE));
        t.Call("rename directory onto an empty directory", d => { Mkdir($"{d}/d3"); return rename($"{d}/d1", $"{d}/d3"); });
        t.Both("state", State);
        // a descriptor open across a rename keeps working
        t.Both("descriptor across rename", d =>
        {
            int fd = Open($"{d}/c", O_RDWR);
            Check(rename($"{d}/c", $"{d}/d2/moved"), "rename");
            PwriteAll(fd, Twin.Utf8("X"), 0);
            close(fd);
            return ReadText($"{d}/d2/moved") + " " + StatE($"{d}/c");
        });
        Tree.AssertSame("tree after renames", t.M, t.N);
        Tree.AssertSame("mount vs backing", t.M, t.B);
    });
}

public sealed class FileOperationTests_Passthrough(PassthroughDefault fx, ITestOutputHelper output) : FileOperationTests<PassthroughDefault>(fx, output);
public sealed class FileOperationTests_Mount(RecordedMount fx, ITestOutputHelper output) : FileOperationTests<RecordedMount>(fx, output);

/// <summary>The same tests with nothing cached in the kernel and no kernel passthrough: every
/// read, write and attribute goes through the daemon.</summary>
public sealed class FileOperationTests_PassthroughNoCache(PassthroughNoCache fx, ITestOutputHelper output) : FileOperationTests<PassthroughNoCache>(fx, output);
/// <summary>The recorded mount with nothing cached in the kernel and no kernel passthrough: every
/// operation goes through the recording code.</summary>
public sealed class FileOperationTests_MountNoCache(RecordedMountNoCache fx, ITestOutputHelper output) : FileOperationTests<RecordedMountNoCache>(fx, output);
