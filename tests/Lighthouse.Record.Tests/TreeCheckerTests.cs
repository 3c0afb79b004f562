namespace Lighthouse.Record.Tests;

/// <summary>The checker itself, on two plain directories: it sees every kind of difference it claims to, and none
/// between equal trees (a checker that always says "same" would make every other test here pass).</summary>
public sealed class TreeCheckerTests : IDisposable
{
    private readonly string _root = Path.Combine(LighthouseMountFixture.TempBase, "checker-" + Guid.NewGuid().ToString("N")[..10]);
    private string A => Path.Combine(_root, "a");
    private string B => Path.Combine(_root, "b");

    public TreeCheckerTests()
    {
        foreach (var side in new[] { A, B }) MakeTree(side);
    }

    public void Dispose() => DeepTree.Remove(_root);

    private static void MakeTree(string root)
    {
        Directory.CreateDirectory(Path.Combine(root, "dir/sub"));
        File.WriteAllText(Path.Combine(root, "dir/file.txt"), "same bytes\n");
        File.WriteAllText(Path.Combine(root, "dir/sub/other.txt"), "other bytes\n");
        File.CreateSymbolicLink(Path.Combine(root, "dir/link"), "file.txt");
        Assert.Equal(0, Libc.Link(Path.Combine(root, "dir/file.txt"), Path.Combine(root, "dir/hard")));
        SettleTimes(root);
    }

    /// <summary>Gives every entry (symlinks too) one modification time, so the two trees differ only where a test makes them.</summary>
    private static unsafe void SettleTimes(string root)
    {
        var times = stackalloc Timespec[2];
        times[0] = times[1] = new Timespec(1_714_979_289, 0); // 2024-05-06T07:08:09Z
        foreach (var path in Directory.EnumerateFileSystemEntries(root, "*", SearchOption.AllDirectories))
            Assert.Equal(0, Libc.UtimensAt(Libc.AT_FDCWD, path, times, Libc.AT_SYMLINK_NOFOLLOW));
    }

    [Fact]
    public void Equal_trees_have_no_differences()
    {
        var report = new TreeChecker().Compare(A, B);
        Assert.True(report.Clean, report.Describe());
        Assert.Equal(6, report.Compared);
    }

    [Fact]
    public void Every_kind_of_difference_is_one_line_naming_the_path_and_the_field()
    {
        File.WriteAllText(Path.Combine(B, "dir/sub/other.txt"), "OTHER bytes\n");   // same size, other bytes
        File.Delete(Path.Combine(B, "dir/link"));
        File.CreateSymbolicLink(Path.Combine(B, "dir/link"), "elsewhere");
        File.SetUnixFileMode(Path.Combine(B, "dir/sub"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        Assert.Equal(0, Libc.Chown(Path.Combine(B, "dir/file.txt"), 1000, 1001));
        File.Delete(Path.Combine(B, "dir/hard"));
        File.WriteAllText(Path.Combine(B, "dir/hard"), "same bytes\n"); // same content, but no longer the same file
        File.WriteAllText(Path.Combine(B, "only-in-history"), "");
        Directory.CreateDirectory(Path.Combine(A, "only-in-current"));
        SettleTimes(B);

        var report = new TreeChecker().Compare(A, B);
        var found = report.Differences.Select(d => $"{d.Path} {d.Field}").ToHashSet();
        string all = report.Describe();
        foreach (var expected in new[]
                 {
                     "dir/sub/other.txt content", "dir/link target", "dir/sub mode", "dir/file.txt uid", "dir/file.txt gid",
                     "dir/file.txt nlink", "dir/hard nlink", "dir/file.txt = dir/hard hard links", "only-in-history exists",
                     "only-in-current exists",
                 })
            Assert.True(found.Contains(expected), $"expected a difference \"{expected}\" in:\n{all}");
        Assert.Contains("dir/link: target: current \"file.txt\", history \"elsewhere\"", all);
        Assert.Contains("only-in-current: exists: current directory, history missing", all);
        Assert.Contains("dir/sub/other.txt: content: current sha256:", all);
    }

    [Fact]
    public void Types_sizes_rdev_and_mtime_are_compared()
    {
        File.Delete(Path.Combine(B, "dir/sub/other.txt"));
        Assert.Equal(0, Libc.Mknod(Path.Combine(B, "dir/sub/other.txt"), Libc.S_IFIFO | 0x1a4, 0));
        File.AppendAllText(Path.Combine(B, "dir/file.txt"), "longer\n");
        Assert.Equal(0, Libc.Mknod(Path.Combine(A, "dir/device"), Libc.S_IFCHR | 0x1a4, 0x103));
        Assert.Equal(0, Libc.Mknod(Path.Combine(B, "dir/device"), Libc.S_IFCHR | 0x1a4, 0x105));

        var report = new TreeChecker().Compare(A, B);
        string all = report.Describe();
        Assert.Contains("dir/sub/other.txt: type: current file, history fifo", all);
        Assert.Contains("dir/file.txt: size: current 11, history 18", all);
        Assert.Contains("dir/device: rdev: current 1:3, history 1:5", all);
        Assert.Contains("dir/file.txt: mtime: current 2024-05-06T07:08:09.000000000Z", all);
    }

    [Fact]
    public void Paths_deeper_than_PATH_MAX_are_walked_and_reported()
    {
        foreach (var side in new[] { A, B })
        {
            int dir = At.OpenDirectory(Libc.AT_FDCWD, side);
            for (int level = 0; level < 20; level++)
            {
                string name = $"level{level:D2}".PadRight(250, 'x');
                Assert.Equal(0, Libc.MkdirAt(dir, name, 0x1ed));
                int next = At.OpenDirectory(dir, name);
                Libc.Close(dir);
                dir = next;
            }
            int fd = At.Open(dir, "bottom", Libc.O_WRONLY | Libc.O_CREAT, side == A ? 0x1a4u : 0x124u);
            Libc.Close(fd);
            Libc.Close(dir);
        }
        var report = new TreeChecker { IgnoreWriteBits = false }.Compare(A, B);
        var bottom = Assert.Single(report.Differences, d => d.Path.EndsWith("/bottom", StringComparison.Ordinal) && d.Field == "mode");
        Assert.Equal(("mode", "0644", "0444"), (bottom.Field, bottom.Current, bottom.History));
        Assert.True(bottom.Path.Length > At.PathMax, $"the path is {bottom.Path.Length} bytes");
        Assert.Contains("level00xx…(250)/level01xx…(250)/", bottom.ToString());
    }
}
