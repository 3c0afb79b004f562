using System.Diagnostics;

namespace Lighthouse.Record.Tests;

/// <summary>
/// The cases that lost or garbled records before, each on a mount of its own and each ending with the check of the
/// whole record (<see cref="RecordAssert.Exact"/>).
/// </summary>
public sealed unsafe class RegressionTests(ITestOutputHelper output)
{
    private const int Repeats = 200;

    private static int Call(int rc, string what)
    {
        Assert.True(rc >= 0, $"{what}: {Errno.Name(Libc.Errno)}");
        return rc;
    }

    private static int OpenDirectory(string path) => Call(At.OpenDirectory(Libc.AT_FDCWD, path), "open " + path);

    private static void Symlink(int dir, string target, string name)
    {
        fixed (byte* t = At.Z(target)) fixed (byte* n = At.Z(name)) Call(Libc.SymlinkAt(t, dir, n), $"symlink {name} -> {target}");
    }

    private static void Rename(int fromDir, string from, int toDir, string to, uint flags = 0)
    {
        fixed (byte* a = At.Z(from)) fixed (byte* b = At.Z(to)) Call(Libc.RenameAt2(fromDir, a, toDir, b, flags), $"renameat2 {from} {to} {flags}");
    }

    private static void Unlink(int dir, string name)
    {
        fixed (byte* n = At.Z(name)) Call(Libc.UnlinkAt(dir, n, 0), "unlink " + name);
    }

    private static void MakeDirectory(int dir, string name)
    {
        fixed (byte* n = At.Z(name)) Call(Libc.MkdirAt(dir, n, 0x1ed), "mkdir " + name);
    }

    private static void WriteFile(int dir, string name, string text)
    {
        int fd = Call(At.Open(dir, name, Libc.O_WRONLY | Libc.O_CREAT | Libc.O_TRUNC, 0x1a4), "create " + name);
        var bytes = System.Text.Encoding.UTF8.GetBytes(text);
        fixed (byte* p = bytes) Assert.Equal(bytes.Length, (int)Libc.Write(fd, p, (nuint)bytes.Length));
        Libc.Close(fd);
    }

    /// <summary>Mounts, makes <paramref name="directory"/> in current/, runs <paramref name="act"/> on a descriptor of
    /// it, then checks the whole record.</summary>
    private void InItsOwnDirectory(string directory, Action<int, LighthouseMountFixture> act)
    {
        using var mount = new LighthouseMountFixture();
        Directory.CreateDirectory(Path.Combine(mount.Current, directory));
        int dir = OpenDirectory(Path.Combine(mount.Current, directory));
        try { act(dir, mount); }
        finally { Libc.Close(dir); }
        RecordAssert.Exact(mount, output);
    }

    [Fact]
    public void A_file_closed_again_and_again_records_every_close_and_keeps_its_last_bytes_and_those_before_its_removal() =>
        InItsOwnDirectory("again", (dir, mount) =>
    {
        // Rewritten in place (no O_TRUNC: with kernel passthrough the writes never reach the daemon) and closed 40 times
        // in well under a second: closes soon after the last capture are recorded by metadata only.
        for (int i = 0; i < 40; i++)
        {
            int fd = Call(At.Open(dir, "notes.txt", Libc.O_WRONLY | Libc.O_CREAT, 0x1a4), "open notes.txt");
            var bytes = System.Text.Encoding.UTF8.GetBytes($"version {i:D2}\n");
            fixed (byte* p = bytes) Assert.Equal(bytes.Length, (int)Libc.Pwrite(fd, p, (nuint)bytes.Length, 0));
            Libc.Close(fd);
        }
        WriteFile(dir, "doomed.txt", "first words\n");
        WriteFile(dir, "doomed.txt", "the last words before its removal\n"); // closed within a second of its capture
        Unlink(dir, "doomed.txt");

        var unlink = mount.WaitForEvent(e => e.Op == "unlink" && e.Path == "again/doomed.txt");
        var notes = mount.Events().Where(e => e.Path == "again/notes.txt").ToList();
        Assert.Equal(40, notes.Count(e => e.Op == "write")); // every close that changed it, none lost
        // The bytes of the version the removal ended were saved first (copy-on-write), not left to the vanished file.
        Assert.Equal("the last words before its removal\n",
            File.ReadAllText(Path.Combine(mount.History, $"@{unlink.Seq - 1}", "again/doomed.txt")));
        // (RecordAssert.Exact, after this, checks that history's latest notes.txt has its last bytes.)
    });

    [Fact]
    public void A_symlink_renamed_right_after_its_creation_is_recorded_with_its_target() => InItsOwnDirectory("links", (dir, _) =>
    {
        for (int i = 0; i < Repeats; i++)
        {
            Symlink(dir, $"target-{i}", $"new-{i}");
            Rename(dir, $"new-{i}", dir, $"link-{i}");
        }
    });

    [Fact]
    public void A_symlink_unlinked_right_after_its_creation_leaves_no_trace_in_the_latest_tree() => InItsOwnDirectory("links", (dir, _) =>
    {
        for (int i = 0; i < Repeats; i++)
        {
            Symlink(dir, $"target-{i}", $"gone-{i}");
            Unlink(dir, $"gone-{i}");
        }
    });

    [Fact]
    public void RENAME_WHITEOUT_leaves_a_whiteout_where_the_source_was() => InItsOwnDirectory("w", (dir, mount) =>
    {
        WriteFile(dir, "a", "moved with a whiteout left behind\n");
        Rename(dir, "a", dir, "b", Libc.RENAME_WHITEOUT);
        Assert.True(At.Lstat(Libc.AT_FDCWD, Path.Combine(mount.Current, "w/a"), out var whiteout));
        Assert.Equal("char device 0:0", $"{At.TypeName(whiteout.Mode)} {whiteout.RdevMajor}:{whiteout.RdevMinor}");
    });

    [Fact]
    public void A_tree_deeper_than_PATH_MAX_with_files_written_at_the_bottom()
    {
        using var mount = new LighthouseMountFixture();
        int dir = OpenDirectory(mount.Current);
        int depth = 0;
        for (int level = 0; depth <= At.PathMax + 500; level++)
        {
            string name = $"level{level:D2}".PadRight(250, 'x');
            MakeDirectory(dir, name);
            int next = Call(At.OpenDirectory(dir, name), "open level " + level);
            Libc.Close(dir);
            dir = next;
            depth += name.Length + 1;
        }
        WriteFile(dir, "bottom.txt", "written more than PATH_MAX below the root\n");
        WriteFile(dir, "renamed-away.txt", "then renamed\n");
        Rename(dir, "renamed-away.txt", dir, "renamed.txt");
        Symlink(dir, "bottom.txt", "link-to-bottom");
        MakeDirectory(dir, "below-the-bottom");
        Libc.Close(dir);
        output.WriteLine($"the bottom is {depth} bytes below current/");
        RecordAssert.Exact(mount, output);
    }

    [Fact]
    public void RENAME_EXCHANGE_of_a_file_and_a_directory_swaps_them_in_history()
    {
        using var mount = new LighthouseMountFixture();
        Directory.CreateDirectory(Path.Combine(mount.Current, "x/dir/inside"));
        File.WriteAllText(Path.Combine(mount.Current, "x/dir/inside/deep.txt"), "inside the directory\n");
        File.WriteAllText(Path.Combine(mount.Current, "x/file"), "the file\n");
        int dir = OpenDirectory(Path.Combine(mount.Current, "x"));
        Rename(dir, "file", dir, "dir", Libc.RENAME_EXCHANGE);
        Libc.Close(dir);
        Assert.Equal("the file\n", File.ReadAllText(Path.Combine(mount.Current, "x/dir")));
        Assert.Equal("inside the directory\n", File.ReadAllText(Path.Combine(mount.Current, "x/file/inside/deep.txt")));
        RecordAssert.Exact(mount, output);
    }

    /// <summary>An unnamed file written, then linked in; and (the workload's case) linked in and renamed at once,
    /// before the record of its new name could read it there.</summary>
    [Fact]
    public void An_O_TMPFILE_file_given_a_name_with_linkat_is_recorded_with_its_content() => InItsOwnDirectory("t", (dir, _) =>
    {
        LinkTmpFile(dir, "named", "written before it had a name\n");
        for (int i = 0; i < Repeats / 4; i++)
        {
            LinkTmpFile(dir, $"linked-{i}", $"unnamed file {i}\n");
            Rename(dir, $"linked-{i}", dir, $"renamed-{i}");
        }
    });

    private static void LinkTmpFile(int dir, string name, string text)
    {
        int fd = Call(At.Open(dir, ".", Libc.O_TMPFILE | Libc.O_RDWR, 0x1a4), "open O_TMPFILE");
        var bytes = System.Text.Encoding.UTF8.GetBytes(text);
        fixed (byte* p = bytes) Assert.Equal(bytes.Length, (int)Libc.Write(fd, p, (nuint)bytes.Length));
        fixed (byte* empty = At.Z("")) fixed (byte* n = At.Z(name))
            Call(Libc.LinkAt(fd, empty, dir, n, Libc.AT_EMPTY_PATH), "linkat AT_EMPTY_PATH " + name);
        Libc.Close(fd);
    }

    [Fact]
    public void An_atomic_save_by_rename_over_the_file_sed_i_style_keeps_the_new_content() => InItsOwnDirectory("edit", (dir, mount) =>
    {
        string dirPath = Path.Combine(mount.Current, "edit");
        File.WriteAllText(Path.Combine(dirPath, "config.txt"), "colour = red\nsize = 1\n");
        // By hand: write a temporary file beside it, fsync, rename it over the original.
        int fd = Call(At.Open(dir, ".config.txt.tmp", Libc.O_WRONLY | Libc.O_CREAT | Libc.O_EXCL, 0x1a4), "create the temporary file");
        var bytes = "colour = blue\nsize = 1\n"u8.ToArray();
        fixed (byte* p = bytes) Assert.Equal(bytes.Length, (int)Libc.Write(fd, p, (nuint)bytes.Length));
        Call(Libc.Fsync(fd), "fsync");
        Libc.Close(fd);
        Rename(dir, ".config.txt.tmp", dir, "config.txt");
        // And the real thing, twice: sed -i writes a temporary file (sedXXXXXX) and renames it over the file.
        for (int i = 0; i < 2; i++)
        {
            var sed = Process.Start(new ProcessStartInfo("sed", ["-i", "s/size = [0-9]*/size = " + (i + 2) + "/", "config.txt"]) { WorkingDirectory = dirPath })!;
            sed.WaitForExit();
            Assert.Equal(0, sed.ExitCode);
        }
        Assert.Equal("colour = blue\nsize = 3\n", File.ReadAllText(Path.Combine(dirPath, "config.txt")));
    });
}
