using System.Net.Sockets;
using Lighthouse.Interop;
using Lighthouse.Store;

namespace Lighthouse.FileSystem.Tests;

/// <summary>
/// history/ reproduces the tree as current/ showed it: type, permissions, owner, group, device number, link count,
/// modification time, and (for all but directories) size. A directory's size is the backing filesystem's business (the
/// record keeps 0); its mtime moves with every entry made or removed in it, and history shows it as it was at each point.
/// </summary>
public sealed unsafe class ExactHistoryTests(LighthouseMountFixture mount) : IClassFixture<LighthouseMountFixture>
{
    private const uint Fifo = 0x1000, CharDevice = 0x2000;
    // Each test makes its nodes in a directory of its own (the mount is shared).
    private readonly string _dir = "exact-" + Guid.NewGuid().ToString("N")[..8];
    private string Cur(string name) => Path.Combine(mount.Current, _dir, name);
    private string Past(long seq, string name) => Path.Combine(mount.History, $"@{seq}", _dir, name);

    /// <summary>Writes a file and waits for its write to be recorded (at RELEASE, which the kernel sends after close() returned).</summary>
    private void Write(string name, string text)
    {
        long start = mount.LastSeq;
        File.WriteAllText(Cur(name), text);
        mount.WaitForEvent(e => e.Op == "write" && e.Path == $"{_dir}/{name}", start);
    }

    /// <summary>Makes each kind of node and change in current/ and waits until all are recorded; returns the last event.</summary>
    private long MakeEveryKindOfNode(List<IDisposable> keep)
    {
        Directory.CreateDirectory(Cur(""));
        Assert.Equal(0, Libc.Mknod(Cur("fifo"), Fifo | 0x1a0, 0));
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        keep.Add(socket); // .NET removes the name when it closes the socket
        socket.Bind(new UnixDomainSocketEndPoint(Cur("socket")));
        Assert.Equal(0, Libc.Mknod(Cur("null"), CharDevice | 0x1b6, Libc.MakeDev(1, 3)));

        Write("moved-away", "whiteout source\n");
        Assert.True(Libc.RenameAt2(Libc.AT_FDCWD, Cur("moved-away"), Libc.AT_FDCWD, Cur("moved-here"), Libc.RENAME_WHITEOUT) == 0,
            $"renameat2(RENAME_WHITEOUT) in current/: {Libc.ErrorText(Libc.Errno)}");

        Write("swap-file", "a file that becomes a directory's name\n");
        Directory.CreateDirectory(Cur("swap-dir/inside"));
        Assert.True(Libc.RenameAt2(Libc.AT_FDCWD, Cur("swap-file"), Libc.AT_FDCWD, Cur("swap-dir"), Libc.RENAME_EXCHANGE) == 0,
            $"renameat2(RENAME_EXCHANGE) in current/: {Libc.ErrorText(Libc.Errno)}");

        Write("owned", "someone else's\n");
        Assert.Equal(0, Libc.Chown(Cur("owned"), 1234, 5678));
        Write("linked", "two names\n");
        Assert.Equal(0, Libc.Link(Cur("linked"), Cur("second-name")));
        Write("mode", "#!/bin/sh\n");
        File.SetUnixFileMode(Cur("mode"), (UnixFileMode)0x1e1); // 0741
        Write("private", "for 65534 only\n");
        Assert.Equal(0, Libc.Chown(Cur("private"), 65534, 65534));
        File.SetUnixFileMode(Cur("private"), UnixFileMode.UserRead | UnixFileMode.UserWrite);

        // Changes are recorded in the order they were made: once the last is, all are.
        long start = mount.LastSeq;
        Directory.CreateDirectory(Cur("last"));
        return mount.WaitForEvent(e => e.Op == "mkdir" && e.Path == $"{_dir}/last", start).Seq;
    }

    /// <summary>What lstat says of every node under <paramref name="root"/>, one line each, by name.</summary>
    private static List<string> Describe(string root)
    {
        var lines = new List<string>();
        foreach (var path in Directory.EnumerateFileSystemEntries(root, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            StatxBuf st;
            Assert.True(Libc.Statx(Libc.AT_FDCWD, path, Libc.AT_SYMLINK_NOFOLLOW, Libc.STATX_BASIC_STATS, &st) == 0, $"statx {path}: {Libc.ErrorText(Libc.Errno)}");
            var line = $"{Path.GetRelativePath(root, path)}: type {st.Mode >> 12:x} mode {Convert.ToString(st.Mode & 0xfff, 8)} owner {st.Uid}:{st.Gid} " +
                $"rdev {st.RdevMajor}:{st.RdevMinor} nlink {st.Nlink}";
            if (!st.IsDirectory) line += $" size {st.Size}";
            line += $" mtime {st.MtimeSec}.{st.MtimeNsec:D9}";
            lines.Add(line);
        }
        return lines;
    }

    [Fact]
    public void History_shows_every_node_as_current_does_and_the_record_keeps_what_the_kernel_said()
    {
        var keep = new List<IDisposable>();
        try
        {
            long seq = MakeEveryKindOfNode(keep);
            var now = Describe(Cur(""));
            Assert.Equal(now, Describe(Past(seq, "")));
            Assert.Contains(now, l => l.StartsWith("fifo: type 1 mode 640 ", StringComparison.Ordinal));
            Assert.Contains(now, l => l.StartsWith("socket: type c ", StringComparison.Ordinal));
            Assert.Contains(now, l => l.StartsWith("null: type 2 ", StringComparison.Ordinal) && l.Contains(" owner 0:0 rdev 1:3 ", StringComparison.Ordinal));
            Assert.Contains(now, l => l.StartsWith("moved-away: type 2 mode 0 owner 0:0 rdev 0:0 ", StringComparison.Ordinal)); // the whiteout
            Assert.Contains(now, l => l.StartsWith("swap-file: type 4 ", StringComparison.Ordinal) && l.Contains(" nlink 3 mtime ", StringComparison.Ordinal));
            Assert.Contains(now, l => l.StartsWith("swap-file/inside: type 4 ", StringComparison.Ordinal));
            Assert.Contains(now, l => l.StartsWith("owned: type 8 mode 644 owner 1234:5678 ", StringComparison.Ordinal));
            Assert.Contains(now, l => l.StartsWith("second-name: type 8 mode 644 owner 0:0 rdev 0:0 nlink 2 ", StringComparison.Ordinal));
            Assert.Contains(now, l => l.StartsWith("mode: type 8 mode 741 ", StringComparison.Ordinal));

            // The record holds the device number in glibc's makedev encoding, as stat(2) gives st_rdev: makedev(1, 3) = 0x103.
            using var store = SqliteProjectStoreFactory.Instance.OpenReadOnly(mount.Project, new StoreOptions { ReconcileOnOpen = false, CheckIntegrityOnOpen = false });
            Assert.Equal(0x103, store.Attributes($"{_dir}/null", seq).Attributes.Rdev);
            Assert.Equal(FileKind.CharDevice, store.Attributes($"{_dir}/moved-away", seq).Kind);
            var log = store.Log(new LogQuery { PathPrefix = $"{_dir}/moved-away" }).Events.Select(e => EventOpNames.Name(e.Op)).Reverse();
            Assert.Equal(["rename", "create"], log.TakeLast(2)); // the whiteout's creation follows the rename
            Assert.True(store.Verify().Ok);
        }
        finally
        {
            foreach (var k in keep) k.Dispose();
        }
    }

    /// <summary>Every directory under <paramref name="root"/> (itself included) and its mtime, one line each, by name.</summary>
    private static List<string> DirectoryTimes(string root)
    {
        var lines = new List<string>();
        foreach (var path in Directory.EnumerateDirectories(root, "*", SearchOption.AllDirectories).Prepend(root).Order(StringComparer.Ordinal))
        {
            StatxBuf st;
            Assert.True(Libc.Statx(Libc.AT_FDCWD, path, Libc.AT_SYMLINK_NOFOLLOW, Libc.STATX_BASIC_STATS, &st) == 0, $"statx {path}: {Libc.ErrorText(Libc.Errno)}");
            lines.Add($"'{Path.GetRelativePath(root, path)}' mtime {st.MtimeSec}.{st.MtimeNsec:D9}");
        }
        return lines;
    }

    [Fact]
    public void History_shows_each_directory_s_modification_time_as_of_every_point()
    {
        Directory.CreateDirectory(Cur("a"));
        Directory.CreateDirectory(Cur("b"));
        var points = new List<(long Seq, List<string> Times)>();
        void Step(string op, string path, Action change)
        {
            Thread.Sleep(15); // past the coarse clock's tick, so each change gives its directories a new mtime
            long start = mount.LastSeq;
            change();
            long seq = mount.WaitForEvent(e => e.Op == op && (e.Path == $"{_dir}/{path}" || e.Path2 == $"{_dir}/{path}"), start).Seq;
            points.Add((seq, DirectoryTimes(Path.Combine(mount.Project, _dir)))); // the disk itself, beside the mount
        }
        static void Ok(int rc) => Assert.True(rc == 0, Libc.ErrorText(Libc.Errno));

        Step("create", "a/f", () => File.Create(Cur("a/f")).Dispose());
        Step("link", "b/h", () => Ok(Libc.Link(Cur("a/f"), Cur("b/h")))); // into another directory: b's entries alone change
        Step("rename", "b/f", () => File.Move(Cur("a/f"), Cur("b/f")));
        Step("mkdir", "a/sub", () => Directory.CreateDirectory(Cur("a/sub")));
        Step("exchange", "a/sub", () => Ok(Libc.RenameAt2(Libc.AT_FDCWD, Cur("a/sub"), Libc.AT_FDCWD, Cur("b/h"), Libc.RENAME_EXCHANGE)));
        Step("unlink", "b/f", () => File.Delete(Cur("b/f")));
        Step("rmdir", "b/h", () => Directory.Delete(Cur("b/h")));
        Step("setattr", "a", () => File.SetUnixFileMode(Cur("a"), (UnixFileMode)0x1c0)); // chmod: its own version, same mtime
        Step("setattr", "b", () => Directory.SetLastWriteTimeUtc(Cur("b"), new DateTime(2001, 2, 3, 4, 5, 6, DateTimeKind.Utc)));
        Step("symlink", "b/l", () => File.CreateSymbolicLink(Cur("b/l"), "a/sub"));
        Step("create", "a/p", () => Ok(Libc.Mknod(Cur("a/p"), Fifo | 0x1a4, 0)));
        Step("rename", "a/l2", () => File.Move(Cur("b/l"), Cur("a/l2")));

        Assert.True(points.Select(p => p.Times.Single(t => t.StartsWith("'b' ", StringComparison.Ordinal))).Distinct().Count() >= 8,
            "the changes did not move b's mtime");
        foreach (var (seq, times) in points)
            Assert.Equal(times, DirectoryTimes(Past(seq, "")));
    }

    [Fact]
    public void A_user_reads_an_old_version_of_their_own_private_file_and_nobody_else_can()
    {
        long seq = MakeEveryKindOfNode([]);
        foreach (var path in new[] { Cur("private"), Past(seq, "private") })
        {
            var (code, output) = LighthouseMountFixture.Run("setpriv", $"--reuid=65534 --regid=65534 --clear-groups cat {path}");
            Assert.True(code == 0, $"its owner could not read {path}: {output}");
            Assert.Equal("for 65534 only\n", output);
            (code, output) = LighthouseMountFixture.Run("setpriv", $"--reuid=65533 --regid=65533 --clear-groups cat {path}");
            Assert.NotEqual(0, code);
            Assert.Contains("Permission denied", output);
            (code, output) = LighthouseMountFixture.Run("setpriv", $"--reuid=65534 --regid=65534 --clear-groups sh -c \"echo more >> {path}\"");
            if (path.Contains("/history/", StringComparison.Ordinal)) Assert.Contains("Read-only file system", output);
            else Assert.True(code == 0, output);
        }
    }

    [Fact]
    public void Special_files_in_history_stat_but_never_reach_a_device_or_the_project_s_fifo()
    {
        var keep = new List<IDisposable>();
        try
        {
            long seq = MakeEveryKindOfNode(keep);
            string past = Past(seq, "");
            // The mount is nodev: no device node opens through it (current/ alike).
            Assert.Equal(Libc.EACCES, OpenError(Path.Combine(past, "null"), Libc.O_RDONLY));
            Assert.Equal(Libc.EACCES, OpenError(Cur("null"), Libc.O_RDONLY));
            // A socket never opens.
            Assert.Equal(Libc.ENXIO, OpenError(Path.Combine(past, "socket"), Libc.O_RDONLY));
            // A fifo in history is a pipe of that history entry alone, with no writer: a read gets end of file at once,
            // a write finds no reader.
            int fd = Libc.Open(Path.Combine(past, "fifo"), Libc.O_RDONLY | Libc.O_NONBLOCK | Libc.O_CLOEXEC, 0);
            Assert.True(fd >= 0, Libc.ErrorText(Libc.Errno));
            byte[] buffer = new byte[16];
            fixed (byte* b = buffer) Assert.Equal(0, Libc.Read(fd, b, (nuint)buffer.Length));
            Libc.Close(fd);
            Assert.Equal(Libc.ENXIO, OpenError(Path.Combine(past, "fifo"), Libc.O_WRONLY | Libc.O_NONBLOCK));
            Assert.Equal(Libc.EROFS, OpenError(Path.Combine(past, "owned"), Libc.O_WRONLY));
            Assert.Equal(Libc.EROFS, OpenError(Path.Combine(past, "owned"), Libc.O_RDONLY | Libc.O_TRUNC));
        }
        finally
        {
            foreach (var k in keep) k.Dispose();
        }
    }

    private static int OpenError(string path, int flags)
    {
        int fd = Libc.Open(path, flags | Libc.O_CLOEXEC, 0);
        if (fd < 0) return Libc.Errno;
        Libc.Close(fd);
        return 0;
    }
}
