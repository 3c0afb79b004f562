using Lighthouse.Conformance.Tests.Support;
using Xunit.Abstractions;
using static Lighthouse.Conformance.Tests.Support.Sys;

namespace Lighthouse.Conformance.Tests;

/// <summary>
/// The error paths: each call must fail natively with the named errno (so the test itself is right)
/// and fail the same way on the mount. ENOENT, EEXIST, ENOTEMPTY, ENOTDIR, EISDIR, EXDEV,
/// ENAMETOOLONG (255 bytes work, 256 do not), EINVAL, ELOOP, EPERM, EBADF. Failed calls must leave
/// nothing behind.
/// </summary>
public abstract unsafe class ErrorPathTests<TTarget> : ConformanceTestBase<TTarget> where TTarget : MountTarget
{
    protected ErrorPathTests(TTarget fx, ITestOutputHelper output) : base(fx, output) { }

    private static void Setup(Twin t) => t.Do(d =>
    {
        WriteFile($"{d}/file", "content");
        Mkdir($"{d}/dir");
        Mkdir($"{d}/full");
        WriteFile($"{d}/full/inside", "x");
        Mkdir($"{d}/empty");
        Check(symlink("missing", $"{d}/dangling"), "symlink");
        Check(symlink("loop2", $"{d}/loop1"), "symlink");
        Check(symlink("loop1", $"{d}/loop2"), "symlink");
    });

    private static long OpenClose(string path, int flags, uint mode = 0x1a4)
    {
        int fd = open(path, flags | O_CLOEXEC, mode);
        if (fd < 0) return fd; // errno is read by the caller
        close(fd);
        return 0; // the descriptor's number depends on what else the test process has open: not compared
    }

    private static void SameTrees(Twin t)
    {
        Tree.AssertSame("tree after the failed calls", t.M, t.N);
        Tree.AssertSame("mount vs backing", t.M, t.B);
    }

    [Fact]
    public void Enoent() => Run(t =>
    {
        Setup(t);
        t.Err("stat", ENOENT, d => Stat($"{d}/missing", out int e) == null ? Fail(e) : 0);
        t.Err("stat through a dangling symlink", ENOENT, d => Stat($"{d}/dangling", out int e) == null ? Fail(e) : 0);
        t.Err("open", ENOENT, d => OpenClose($"{d}/missing", O_RDONLY));
        t.Err("open(O_CREAT) in a missing directory", ENOENT, d => OpenClose($"{d}/nodir/f", O_CREAT | O_WRONLY));
        t.Err("unlink", ENOENT, d => unlink($"{d}/missing"));
        t.Err("rmdir", ENOENT, d => rmdir($"{d}/missing"));
        t.Err("rename of a missing source", ENOENT, d => rename($"{d}/missing", $"{d}/x"));
        t.Err("rename into a missing directory", ENOENT, d => rename($"{d}/file", $"{d}/nodir/x"));
        t.Err("link of a missing source", ENOENT, d => link($"{d}/missing", $"{d}/x"));
        t.Err("readlink", ENOENT, d => ReadLink($"{d}/missing", out int e) == null ? Fail(e) : 0);
        t.Err("chmod", ENOENT, d => chmod($"{d}/missing", 0x1ff));
        t.Err("chown", ENOENT, d => chown($"{d}/missing", 1, 1));
        t.Err("truncate", ENOENT, d => truncate($"{d}/missing", 0));
        t.Err("mkdir in a missing directory", ENOENT, d => mkdir($"{d}/nodir/sub", 0x1ed));
        t.Err("symlink in a missing directory", ENOENT, d => symlink("x", $"{d}/nodir/l"));
        t.Err("mknod in a missing directory", ENOENT, d => mknod($"{d}/nodir/p", S_IFIFO | 0x1a4, 0));
        t.Err("utimensat", ENOENT, d => utimensat(AT_FDCWD, $"{d}/missing", null, 0));
        t.Err("faccessat", ENOENT, d => faccessat(AT_FDCWD, $"{d}/missing", F_OK, 0));
        t.Err("opendir", ENOENT, d => { nint p = opendir($"{d}/missing"); if (p != 0) { closedir(p); return 0; } return -1; });
        t.Err("renameat2 EXCHANGE with a missing name", ENOENT, d => renameat2(AT_FDCWD, $"{d}/file", AT_FDCWD, $"{d}/missing", RENAME_EXCHANGE));
        t.Err("create through a dangling symlink with O_EXCL", EEXIST, d => OpenClose($"{d}/dangling", O_CREAT | O_EXCL | O_WRONLY));
        // a lookup that failed must not stop the name from being created afterwards
        t.Both("create after ENOENT", d => { WriteFile($"{d}/missing", "now"); return StatE($"{d}/missing").ToString(); });
        t.Do(d => Check(unlink($"{d}/missing"), "unlink"));
        SameTrees(t);
    });

    private static long Fail(int errno)
    {
        System.Runtime.InteropServices.Marshal.SetLastPInvokeError(errno);
        return -1;
    }

    [Fact]
    public void Eexist() => Run(t =>
    {
        Setup(t);
        t.Err("mkdir on an existing directory", EEXIST, d => mkdir($"{d}/dir", 0x1ed));
        t.Err("mkdir on an existing file", EEXIST, d => mkdir($"{d}/file", 0x1ed));
        t.Err("mkdir on a dangling symlink", EEXIST, d => mkdir($"{d}/dangling", 0x1ed));
        t.Err("open(O_CREAT|O_EXCL) on an existing file", EEXIST, d => OpenClose($"{d}/file", O_CREAT | O_EXCL | O_WRONLY));
        t.Err("open(O_CREAT|O_EXCL) on a directory", EEXIST, d => OpenClose($"{d}/dir", O_CREAT | O_EXCL | O_WRONLY));
        t.Err("symlink onto an existing name", EEXIST, d => symlink("x", $"{d}/file"));
        t.Err("link onto an existing name", EEXIST, d => link($"{d}/file", $"{d}/dangling"));
        t.Err("mknod onto an existing name", EEXIST, d => mknod($"{d}/file", S_IFIFO | 0x1a4, 0));
        t.Err("renameat2 NOREPLACE onto an existing name", EEXIST, d => renameat2(AT_FDCWD, $"{d}/file", AT_FDCWD, $"{d}/dir", RENAME_NOREPLACE));
        t.Err("renameat2 NOREPLACE onto itself", EEXIST, d => renameat2(AT_FDCWD, $"{d}/file", AT_FDCWD, $"{d}/file", RENAME_NOREPLACE));
        t.Both("content unharmed", d => ReadText($"{d}/file"));
        SameTrees(t);
    });

    [Fact]
    public void Enotempty() => Run(t =>
    {
        Setup(t);
        t.Err("rmdir of a non-empty directory", ENOTEMPTY, d => rmdir($"{d}/full"));
        t.Err("rename a directory onto a non-empty one", ENOTEMPTY, d => rename($"{d}/empty", $"{d}/full"));
        t.Do(d => { Check(unlink($"{d}/full/inside"), "unlink"); Mkdir($"{d}/full/.hidden"); });
        t.Err("rmdir of a directory holding only a hidden directory", ENOTEMPTY, d => rmdir($"{d}/full"));
        t.Err("rmdir of the parent of the test directory", ENOTEMPTY, d => rmdir($"{d}/dir/.."));
        t.Do(d => Check(rmdir($"{d}/full/.hidden"), "rmdir"));
        t.Call("rmdir once empty", d => rmdir($"{d}/full"));
        SameTrees(t);
    });

    [Fact]
    public void Enotdir() => Run(t =>
    {
        Setup(t);
        t.Err("stat file/x", ENOTDIR, d => Stat($"{d}/file/x", out int e) == null ? Fail(e) : 0);
        t.Err("open file/x", ENOTDIR, d => OpenClose($"{d}/file/x", O_RDONLY));
        t.Err("create file/x", ENOTDIR, d => OpenClose($"{d}/file/x", O_CREAT | O_WRONLY));
        t.Err("mkdir file/x", ENOTDIR, d => mkdir($"{d}/file/x", 0x1ed));
        t.Err("rmdir of a file", ENOTDIR, d => rmdir($"{d}/file"));
        t.Err("rename a directory onto a file", ENOTDIR, d => rename($"{d}/empty", $"{d}/file"));
        t.Err("open(O_DIRECTORY) of a file", ENOTDIR, d => OpenClose($"{d}/file", O_RDONLY | O_DIRECTORY));
        t.Err("opendir of a file", ENOTDIR, d => { nint p = opendir($"{d}/file"); if (p != 0) { closedir(p); return 0; } return -1; });
        t.Err("file with a trailing slash", ENOTDIR, d => Stat($"{d}/file/", out int e) == null ? Fail(e) : 0);
        t.Err("rename a file to name/", ENOTDIR, d => rename($"{d}/file", $"{d}/newname/"));
        SameTrees(t);
    });

    [Fact]
    public void Eisdir() => Run(t =>
    {
        Setup(t);
        t.Err("unlink of a directory", EISDIR, d => unlink($"{d}/dir"));
        t.Err("open a directory for writing", EISDIR, d => OpenClose($"{d}/dir", O_WRONLY));
        t.Err("open a directory read-write", EISDIR, d => OpenClose($"{d}/dir", O_RDWR));
        t.Err("open(O_CREAT) of a directory", EISDIR, d => OpenClose($"{d}/dir", O_CREAT | O_RDONLY));
        t.Err("rename a file onto a directory", EISDIR, d => rename($"{d}/file", $"{d}/dir"));
        t.Err("truncate a directory", EISDIR, d => truncate($"{d}/dir", 0));
        t.Err("read(2) on a directory", EISDIR, d =>
        {
            int fd = Open($"{d}/dir", O_RDONLY | O_DIRECTORY);
            var b = new byte[10];
            long n;
            fixed (byte* p = b) n = read(fd, p, 10);
            int e = Errno;
            close(fd);
            return n < 0 ? Fail(e) : n;
        });
        SameTrees(t);
    });

    [Fact]
    public void ExdevAcrossFilesystems() => Run(t =>
    {
        Setup(t);
        string shm = $"/dev/shm/lighthouse-tests-{Guid.NewGuid():N}";
        Mkdir(shm);
        try
        {
            WriteFile($"{shm}/onshm", "shm");
            t.Err("rename to /dev/shm", EXDEV, d => rename($"{d}/file", $"{shm}/moved"));
            t.Err("link to /dev/shm", EXDEV, d => link($"{d}/file", $"{shm}/linked"));
            t.Err("rename a directory to /dev/shm", EXDEV, d => rename($"{d}/dir", $"{shm}/dir"));
            t.Err("rename from /dev/shm", EXDEV, d => rename($"{shm}/onshm", $"{d}/fromshm"));
            t.Err("link from /dev/shm", EXDEV, d => link($"{shm}/onshm", $"{d}/fromshm"));
            t.Err("renameat2 EXCHANGE with /dev/shm", EXDEV, d => renameat2(AT_FDCWD, $"{d}/file", AT_FDCWD, $"{shm}/onshm", RENAME_EXCHANGE));
            // the mount and the native twin are different mounts, even on the same disk
            t.Err("rename between the mount and the native twin", EXDEV, d => rename($"{d}/file", $"{(d == t.M ? t.N : t.M)}/crossed"));
            t.Err("link between the mount and the native twin", EXDEV, d => link($"{d}/file", $"{(d == t.M ? t.N : t.M)}/crossed"));
            // copy_file_range across filesystems of different types: EXDEV
            t.Err("copy_file_range to tmpfs", EXDEV, d =>
            {
                int s = Open($"{d}/file", O_RDONLY);
                int o = Open($"{shm}/cfr", O_CREAT | O_WRONLY);
                long n = copy_file_range(s, null, o, null, 5, 0);
                int e = Errno;
                close(s);
                close(o);
                return n < 0 ? Fail(e) : n;
            });
            Assert.Equal(new[] { "onshm", "cfr" }, Directory.GetFileSystemEntries(shm).Select(p => Path.GetFileName(p)).OrderDescending().ToArray());
            SameTrees(t);
        }
        finally
        {
            Directory.Delete(shm, recursive: true);
        }
    });

    [Fact]
    public void NameLength255WorksAnd256IsTooLong() => Run(t =>
    {
        Setup(t);
        string n255 = new('a', 255), n256 = new('b', 256);
        string m255 = new('m', 255);
        t.Call("create 255", d => OpenClose($"{d}/{n255}", O_CREAT | O_WRONLY | O_EXCL));
        t.Both("stat 255", d => StatE($"{d}/{n255}").ToString());
        t.Call("mkdir 255", d => mkdir($"{d}/{m255}", 0x1ed));
        t.Call("symlink named 255", d => symlink(n255, $"{d}/{new string('s', 255)}"));
        t.Call("link named 255", d => link($"{d}/{n255}", $"{d}/{new string('l', 255)}"));
        t.Call("rename to 255", d => rename($"{d}/{new string('l', 255)}", $"{d}/{new string('r', 255)}"));
        t.Call("mknod 255", d => mknod($"{d}/{new string('p', 255)}", S_IFIFO | 0x1a4, 0));
        t.Call("xattr on a 255 name", d => SetXattr($"{d}/{n255}", "user.x", [1]).Value);
        t.Both("readdir shows 255-byte names", d => Twin.Show(Sys.ReadDir(d).Select(e => e.Name.Length).Order()));

        t.Err("create 256", ENAMETOOLONG, d => OpenClose($"{d}/{n256}", O_CREAT | O_WRONLY));
        t.Err("open 256", ENAMETOOLONG, d => OpenClose($"{d}/{n256}", O_RDONLY));
        t.Err("stat 256", ENAMETOOLONG, d => Stat($"{d}/{n256}", out int e) == null ? Fail(e) : 0);
        t.Err("mkdir 256", ENAMETOOLONG, d => mkdir($"{d}/{n256}", 0x1ed));
        t.Err("unlink 256", ENAMETOOLONG, d => unlink($"{d}/{n256}"));
        t.Err("rmdir 256", ENAMETOOLONG, d => rmdir($"{d}/{n256}"));
        t.Err("rename to 256", ENAMETOOLONG, d => rename($"{d}/file", $"{d}/{n256}"));
        t.Err("link to 256", ENAMETOOLONG, d => link($"{d}/file", $"{d}/{n256}"));
        t.Err("symlink named 256", ENAMETOOLONG, d => symlink("file", $"{d}/{n256}"));
        t.Err("mknod 256", ENAMETOOLONG, d => mknod($"{d}/{n256}", S_IFIFO | 0x1a4, 0));
        t.Err("256 as a directory component", ENAMETOOLONG, d => OpenClose($"{d}/{n256}/x", O_RDONLY));
        t.Err("renameat2 NOREPLACE to 256", ENAMETOOLONG, d => renameat2(AT_FDCWD, $"{d}/file", AT_FDCWD, $"{d}/{n256}", RENAME_NOREPLACE));
        // a symlink target is not a name: 256 bytes and more are fine there
        t.Call("symlink with a 256-byte target", d => symlink(n256, $"{d}/longtarget"));
        t.Both("readlink of it", d => ReadLink($"{d}/longtarget", out _));
        SameTrees(t);
    });

    [Fact]
    public void EinvalEloopEpermEbadf() => Run(t =>
    {
        Setup(t);
        t.Err("rename a directory into itself", EINVAL, d => rename($"{d}/dir", $"{d}/dir/sub"));
        t.Err("rename a directory into its subdirectory", EINVAL, d => { Mkdir($"{d}/dir/sub"); return rename($"{d}/dir", $"{d}/dir/sub/deeper"); });
        t.Err("rmdir of '.'", EINVAL, d => rmdir($"{d}/dir/."));
        t.Err("renameat2 with unknown flags", EINVAL, d => renameat2(AT_FDCWD, $"{d}/file", AT_FDCWD, $"{d}/x", 0x80));
        t.Err("lseek to a negative offset", EINVAL, d =>
        {
            int fd = Open($"{d}/file", O_RDONLY);
            long r = lseek(fd, -10, SEEK_SET);
            int e = Errno;
            close(fd);
            return r < 0 ? Fail(e) : r;
        });
        t.Err("stat through a symlink loop", ELOOP, d => Stat($"{d}/loop1", out int e, follow: true) == null ? Fail(e) : 0);
        t.Err("open through a symlink loop", ELOOP, d => OpenClose($"{d}/loop1", O_RDONLY));
        t.Err("open(O_NOFOLLOW) of a symlink", ELOOP, d => OpenClose($"{d}/dangling", O_RDONLY | O_NOFOLLOW));
        t.Err("link to a directory", EPERM, d => link($"{d}/dir", $"{d}/dirlink"));
        t.Err("user.* xattr on a fifo", EPERM, d => { Check(mknod($"{d}/fifo", S_IFIFO | 0x1a4, 0), "mknod"); return SetXattr($"{d}/fifo", "user.x", [1]).Errno is var e and > 0 ? Fail(e) : 0; });
        t.Err("write on a read-only descriptor", EBADF, d =>
        {
            int fd = Open($"{d}/file", O_RDONLY);
            var b = Twin.Utf8("x");
            long n;
            fixed (byte* p = b) n = write(fd, p, 1);
            int e = Errno;
            close(fd);
            return n < 0 ? Fail(e) : n;
        });
        t.Err("read on a write-only descriptor", EBADF, d =>
        {
            int fd = Open($"{d}/file", O_WRONLY);
            var b = new byte[4];
            long n;
            fixed (byte* p = b) n = read(fd, p, 4);
            int e = Errno;
            close(fd);
            return n < 0 ? Fail(e) : n;
        });
        t.Err("ftruncate on a read-only descriptor", EINVAL, d =>
        {
            int fd = Open($"{d}/file", O_RDONLY);
            long r = ftruncate(fd, 0);
            int e = Errno;
            close(fd);
            return r < 0 ? Fail(e) : r;
        });
        t.Err("SEEK_DATA past the end", ENXIO, d =>
        {
            int fd = Open($"{d}/file", O_RDONLY);
            long r = lseek(fd, 1000, SEEK_DATA);
            int e = Errno;
            close(fd);
            return r < 0 ? Fail(e) : r;
        });
        t.Both("content unharmed", d => ReadText($"{d}/file"));
        SameTrees(t);
    });
}

public sealed class ErrorPathTests_Passthrough(PassthroughDefault fx, ITestOutputHelper output) : ErrorPathTests<PassthroughDefault>(fx, output);
public sealed class ErrorPathTests_Mount(RecordedMount fx, ITestOutputHelper output) : ErrorPathTests<RecordedMount>(fx, output);
