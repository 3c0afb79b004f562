using Lighthouse.Project.History;
using Lighthouse.Store;

namespace Lighthouse.Project.Tests;

/// <summary>"What may uid U read as of event N": the kernel's rule on the owner, group and mode each entry had at N.</summary>
public sealed class HistoryAccessTests : IDisposable
{
    private const long Alice = 5001, Bob = 5002, Staff = 6000, Other = 6001;
    private readonly ScratchProject _p = new();
    public void Dispose() => _p.Dispose();

    private static NodeAttributes Entry(long uid, long gid, int mode) => new(FileKind.File, 0, mode, 0, 0, uid, gid, 0);

    private static HistoryReader Reader(long uid, long gid, params long[] groups) => new(uid, gid, groups);

    [Fact]
    public void Owner_group_and_other_bits_apply_to_whom_they_name_and_root_reads_all()
    {
        var file = Entry(Alice, Staff, Convert.ToInt32("640", 8));
        Assert.True(HistoryAccess.Allows(Reader(Alice, Other), file, Permission.Read));
        Assert.True(HistoryAccess.Allows(Reader(Alice, Other), file, Permission.Read | Permission.Write));
        Assert.False(HistoryAccess.Allows(Reader(Alice, Other), file, Permission.Execute));
        Assert.True(HistoryAccess.Allows(Reader(Bob, Staff), file, Permission.Read));          // primary group
        Assert.True(HistoryAccess.Allows(Reader(Bob, Other, Staff), file, Permission.Read));   // supplementary group
        Assert.False(HistoryAccess.Allows(Reader(Bob, Staff), file, Permission.Write));
        Assert.False(HistoryAccess.Allows(Reader(Bob, Other), file, Permission.Read));         // others: nothing
        Assert.True(HistoryAccess.Allows(Reader(0, 0), Entry(Alice, Staff, 0), Permission.Read));

        // The owner's bits apply to the owner even when the group's or others' grant more.
        var ownerLockedOut = Entry(Alice, Staff, Convert.ToInt32("077", 8));
        Assert.False(HistoryAccess.Allows(Reader(Alice, Staff), ownerLockedOut, Permission.Read));
        Assert.True(HistoryAccess.Allows(Reader(Bob, Staff), ownerLockedOut, Permission.Read));
        // As do the group's to a member, even when others' grant more.
        var groupLockedOut = Entry(Alice, Staff, Convert.ToInt32("604", 8));
        Assert.False(HistoryAccess.Allows(Reader(Bob, Other, Staff), groupLockedOut, Permission.Read));
        Assert.True(HistoryAccess.Allows(Reader(Bob, Other), groupLockedOut, Permission.Read));
    }

    [Fact]
    public void Names_need_a_readable_directory_and_content_a_readable_file_under_searchable_ones_as_of_the_point()
    {
        _p.Write("root/x", "dir/secret", "password=1");
        _p.Write("root/x", "open.txt", "hello");
        Chmod("", "777");
        Chmod("dir", "755");
        Chmod("dir/secret", "644");
        Chown("dir", Alice, Staff);
        Chown("dir/secret", Alice, Staff);
        long open = _p.Store.LastSeq;
        Chmod("dir/secret", "600");
        long fileClosed = _p.Store.LastSeq;
        Chmod("dir", "711");
        long listClosed = _p.Store.LastSeq;
        Chmod("dir/secret", "644");
        long readableAgain = _p.Store.LastSeq;
        Chmod("dir", "700");
        long closedAgain = _p.Store.LastSeq;

        var bob = new HistoryAccess(_p.Store, Reader(Bob, Other));
        var alice = new HistoryAccess(_p.Store, Reader(Alice, Other));
        var root = new HistoryAccess(_p.Store, Reader(0, 0));

        Assert.True(bob.CanSeeName("dir/secret", open));
        Assert.True(bob.CanReadContent("dir/secret", open));
        Assert.True(bob.CanReadContent("open.txt", closedAgain));

        // chmod 600: the name stays visible, the content is not readable from then on (and still is before).
        Assert.True(bob.CanSeeName("dir/secret", fileClosed));
        Assert.False(bob.CanReadContent("dir/secret", fileClosed));
        Assert.True(bob.CanReadContent("dir/secret", open));

        // The directory 711: no listing (names hidden), search still allowed.
        Assert.False(bob.CanSeeName("dir/secret", listClosed));
        Assert.False(bob.CanReadContent("dir/secret", listClosed)); // the file is still 600
        Assert.False(bob.CanSeeName("dir/secret", readableAgain));
        Assert.True(bob.CanReadContent("dir/secret", readableAgain));

        // The directory 700: nothing under it, the file's own mode notwithstanding.
        Assert.False(bob.CanSeeName("dir/secret", closedAgain));
        Assert.False(bob.CanReadContent("dir/secret", closedAgain));
        Assert.True(bob.CanSeeName("dir", closedAgain)); // the directory's own name is in the root, which is readable

        // Its owner and root read it at every point; the owner through its own bits.
        foreach (var seq in new[] { open, fileClosed, listClosed, readableAgain, closedAgain })
        {
            Assert.True(alice.CanReadContent("dir/secret", seq), $"alice @{seq}");
            Assert.True(root.CanReadContent("dir/secret", seq), $"root @{seq}");
        }

        // A supplementary group of the directory's group: group bits (none at 700).
        Assert.False(new HistoryAccess(_p.Store, Reader(Bob, Other, Staff)).CanSeeName("dir/secret", closedAgain));
        Chmod("dir", "750");
        Assert.True(new HistoryAccess(_p.Store, Reader(Bob, Other, Staff)).CanReadContent("dir/secret", _p.Store.LastSeq));

        // A removed file: the event that removed it is judged as of just before it.
        _p.Store.CaptureBeforeModify("root/x", "open.txt");
        File.Delete(_p.Abs("open.txt"));
        var unlink = _p.Store.RecordUnlink("root/x", "open.txt");
        Assert.False(bob.CanReadContent("open.txt", unlink.Seq));
        Assert.True(bob.CanReadEventContent("open.txt", unlink.Seq));
        Assert.True(bob.CanSeeEventPath("open.txt", unlink.Seq));
    }

    [Fact]
    public void A_process_reader_has_the_supplementary_groups_of_its_status()
    {
        var self = HistoryReader.OfProcess(Environment.ProcessId, 0, 0);
        var line = File.ReadLines("/proc/self/status").First(l => l.StartsWith("Groups:", StringComparison.Ordinal));
        Assert.Equal(line[7..].Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries).Select(long.Parse).Order(), self.Groups.Order());
        Assert.Empty(HistoryReader.OfProcess(int.MaxValue, 1, 1).Groups); // gone: no groups
    }

    private void Chmod(string rel, string octal)
    {
        File.SetUnixFileMode(_p.Abs(rel), (UnixFileMode)Convert.ToInt32(octal, 8));
        _p.Store.RecordSetAttributes("root/x", rel);
    }

    private void Chown(string rel, long uid, long gid)
    {
        // The tests run as root (CI does): chown(1) gives the entry to a user who is not.
        using var chown = System.Diagnostics.Process.Start("chown", [$"{uid}:{gid}", _p.Abs(rel)])!;
        chown.WaitForExit();
        Assert.Equal(0, chown.ExitCode);
        _p.Store.RecordSetAttributes("root/x", rel);
    }
}
