using System.Collections.Concurrent;
using System.Text;
using Lighthouse.FileSystem.Current;
using Lighthouse.FileSystem.History;
using Lighthouse.FileSystem.Sections;
using Lighthouse.Fuse.LowLevel;
using Lighthouse.Fuse.Protocol;
using Lighthouse.Fuse.Session;
using Lighthouse.Project;
using Lighthouse.Store;
using Lighthouse.FileSystem;

namespace Lighthouse.FileSystem.Tests;

/// <summary>
/// The mount's sections driven in-process, without a mount: requests are calls on their
/// <see cref="FuseFileSystem"/>, and what a section sends the kernel unasked goes to a fake notifier.
/// </summary>
public sealed class SectionTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "lh-section-tests", Guid.NewGuid().ToString("N")[..12]);
    private readonly ProjectHost _project;
    private readonly CurrentSection _current;
    private readonly HistorySection _history;
    private readonly MountRoot _root;

    public SectionTests()
    {
        Directory.CreateDirectory(_dir);
        File.WriteAllText(Path.Combine(_dir, "a.txt"), "first\n");
        _project = ProjectHost.Open(_dir, new ProjectOptions
        {
            Stores = SqliteProjectStoreFactory.Instance, Store = new StoreOptions { Durability = Durability.Normal, FsyncObjects = false },
        });
        _current = new CurrentSection(_project, SectionIds.Tag(1), kernelPassthrough: false, TimeSpan.FromSeconds(10));
        _history = new HistorySection(_project.History, SectionIds.Tag(2), 0, 0);
        _root = new MountRoot([_current, _history], 0, 0);
    }

    public void Dispose()
    {
        _current.Dispose();
        _project.Dispose();
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    private static readonly RequestContext Root = default; // pid 0, uid 0: what these calls need

    private sealed class FakeNotifier : IFuseNotifier
    {
        public readonly ConcurrentQueue<string> Sent = new();
        public void InvalidateInode(ulong node, long offset = 0, long length = 0) => Sent.Enqueue($"inode {node}");
        public void InvalidateEntry(ulong parent, ReadOnlySpan<byte> name) => Sent.Enqueue($"entry {parent} {Encoding.UTF8.GetString(name)}");
        public void Delete(ulong parent, ulong child, ReadOnlySpan<byte> name) => Sent.Enqueue($"delete {parent} {child} {Encoding.UTF8.GetString(name)}");
        public void PollWakeup(ulong kh) => Sent.Enqueue($"poll {kh}");
    }

    [Fact]
    public void The_root_lists_the_sections_and_routes_each_node_to_its_own()
    {
        Assert.Equal(0, _root.Lookup(Root, 1, "current"u8, out var current));
        Assert.Equal(_current.RootId, current.NodeId);
        Assert.Equal(0, _root.Lookup(Root, 1, "history"u8, out var history));
        Assert.Equal(_history.RootId, history.NodeId);
        Assert.Equal(Errno.ENOENT, _root.Lookup(Root, 1, "nothing"u8, out _));
        // A name under current/ is the project's, under history/ a point.
        Assert.Equal(0, _root.Lookup(Root, current.NodeId, "a.txt"u8, out var file));
        Assert.Equal(SectionIds.Tag(1), SectionIds.TagOf(file.NodeId));
        Assert.Equal(6ul, file.Attr.Size);
        Assert.Equal(0, _root.Lookup(Root, history.NodeId, "@1"u8, out var point));
        Assert.Equal(SectionIds.Tag(2), SectionIds.TagOf(point.NodeId));
        // Between sections, as between two filesystems.
        Assert.Equal(Errno.EXDEV, _root.Rename(Root, current.NodeId, "a.txt"u8, history.NodeId, "a.txt"u8, 0));
        Assert.Equal(Errno.EPERM, _root.MkDir(Root, 1, "new"u8, 0x1ed, 0, out _));
    }

    [Fact]
    public void Two_sections_may_not_share_a_tag_or_a_name()
    {
        var other = new HistorySection(_project.History, SectionIds.Tag(1), 0, 0);
        Assert.Throws<ArgumentException>(() => new MountRoot([_current, other], 0, 0)); // tag 1 twice
        var sameName = new HistorySection(_project.History, SectionIds.Tag(3), 0, 0);
        Assert.Throws<ArgumentException>(() => new MountRoot([_current, _history, sameName], 0, 0)); // "history" twice
        Assert.Throws<ArgumentOutOfRangeException>(() => SectionIds.Tag(0));
    }

    [Fact]
    public void A_change_beside_the_mount_drops_the_kernel_s_cached_name_and_inode()
    {
        var notifier = new FakeNotifier();
        _project.FollowExternalChanges();
        ((IMountSection)_current).Attach(notifier);
        Assert.Equal(0, _current.FileSystem.Lookup(Root, _current.RootId, "a.txt"u8, out var file)); // the kernel now knows it

        File.WriteAllText(Path.Combine(_dir, "a.txt"), "changed by an editor beside the mount\n");

        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (notifier.Sent.Count < 2 && DateTime.UtcNow < deadline) Thread.Sleep(50);
        Assert.Contains($"entry {_current.RootId} a.txt", notifier.Sent);
        Assert.Contains($"inode {file.NodeId}", notifier.Sent);
        Assert.True(_current.Invalidations >= 2);
    }

    [Fact]
    public void History_serves_the_past_read_only()
    {
        var historyRoot = _history.RootId;
        long last = _project.Store.LastSeq;
        Assert.Equal(0, _history.Lookup(Root, historyRoot, Encoding.UTF8.GetBytes($"@{last}"), out var point));
        Assert.Equal(0, _history.Lookup(Root, point.NodeId, "a.txt"u8, out var file));
        Assert.Equal(6ul, file.Attr.Size);
        var disk = NodeAttributes.Of(Path.Combine(_dir, "a.txt"))!;
        // The mode, owner and group of then, write bits included: the kernel checks access against them.
        Assert.Equal(0x8000u | (uint)disk.Mode, file.Attr.Mode);
        Assert.Equal(((uint)disk.Uid, (uint)disk.Gid, 1u), (file.Attr.Uid, file.Attr.Gid, file.Attr.Nlink));
        Assert.Equal(Errno.ENOENT, _history.Lookup(Root, historyRoot, Encoding.UTF8.GetBytes($"@{last + 100}"), out _));
        Assert.Equal(Errno.ENOENT, _history.Lookup(Root, historyRoot, "not-a-point"u8, out _));

        // Every request that would change something is refused as on a read-only filesystem.
        ulong dir = point.NodeId, node = file.NodeId;
        Assert.Equal(0, _history.Open(Root, node, 0 /* O_RDONLY */, 0, out var reading));
        Assert.Equal(0, _history.Release(Root, node, reading.Fh, 0));
        foreach (var flags in new[] { 1 /* O_WRONLY */, 2 /* O_RDWR */, 0x200 /* O_RDONLY | O_TRUNC */, 0x401 /* O_WRONLY | O_APPEND */ })
            Assert.Equal(Errno.EROFS, _history.Open(Root, node, flags, 0, out _));
        var refused = new Dictionary<string, int>
        {
            ["setattr"] = _history.SetAttr(Root, node, new SetAttrIn { Valid = SetAttrValid.Mode, Mode = 0x1ff }, out _),
            ["mknod"] = _history.MkNod(Root, dir, "n"u8, 0x2000 | 0x1b6, 0x103, 0, out _),
            ["mkdir"] = _history.MkDir(Root, dir, "d"u8, 0x1ed, 0, out _),
            ["symlink"] = _history.Symlink(Root, dir, "s"u8, "a.txt"u8, out _),
            ["link"] = _history.Link(Root, node, dir, "hard"u8, out _),
            ["create"] = _history.Create(Root, dir, "new"u8, 0x41, 0x1a4, 0, out _, out _),
            ["tmpfile"] = _history.TmpFile(Root, dir, 0x410002, 0x1a4, 0, out _, out _),
            ["unlink"] = _history.Unlink(Root, dir, "a.txt"u8),
            ["rmdir"] = _history.RmDir(Root, dir, "a.txt"u8),
            ["rename"] = _history.Rename(Root, dir, "a.txt"u8, dir, "b.txt"u8, 0),
            ["exchange"] = _history.Rename(Root, dir, "a.txt"u8, dir, "b.txt"u8, 2),
            ["whiteout"] = _history.Rename(Root, dir, "a.txt"u8, dir, "b.txt"u8, 4),
            ["write"] = _history.Write(Root, node, reading.Fh, 0, "x"u8, 0, out _),
            ["fallocate"] = _history.Fallocate(Root, node, reading.Fh, 0, 10, 0),
            ["copy_file_range"] = _history.CopyFileRange(Root, node, reading.Fh, 0, node, reading.Fh, 0, 1, 0, out _),
            ["setxattr"] = _history.SetXattr(Root, node, "user.x"u8, "1"u8, 0),
            ["removexattr"] = _history.RemoveXattr(Root, node, "user.x"u8),
            ["access W_OK"] = _history.Access(Root, node, 2),
        };
        Assert.All(refused, r => Assert.True(r.Value == Errno.EROFS, $"{r.Key} in history/ gave {r.Value}, not EROFS"));
    }
}

/// <summary>The whole mount hosted in-process (root, /dev/fuse): started, used through the kernel, unmounted.</summary>
public sealed class InProcessMountTests
{
    [Fact]
    public void A_mount_started_in_process_records_a_change_made_through_the_kernel()
    {
        if (Environment.UserName != "root" || !File.Exists("/dev/fuse"))
            throw new InvalidOperationException("the mount tests need root and /dev/fuse (CI runs them as root)");
        string root = Path.Combine(LighthouseMountFixture.TempBase, "inproc-" + Guid.NewGuid().ToString("N")[..10]);
        string project = Path.Combine(root, "project"), mnt = Path.Combine(root, "mnt");
        Directory.CreateDirectory(project);
        try
        {
            using var mount = LighthouseMount.Open(project, new LighthouseMountOptions
            {
                Stores = SqliteProjectStoreFactory.Instance, Store = new StoreOptions { Durability = Durability.Normal, FsyncObjects = false },
            });
            using (var server = mount.Start(mnt, TextWriter.Null))
            {
                Assert.Equal(["agents", "current", "debug", "history", "streams"], Directory.GetDirectories(mnt).Select(Path.GetFileName).Order());
                File.WriteAllText(Path.Combine(mnt, "current", "made-through-the-mount.txt"), "hello\n");
                Assert.Equal("hello\n", File.ReadAllText(Path.Combine(project, "made-through-the-mount.txt")));
                // The kernel sends RELEASE (where the write is captured) after close() returned: wait for it.
                IReadOnlyList<StoreEvent> events = [];
                for (var deadline = DateTime.UtcNow.AddSeconds(10); DateTime.UtcNow < deadline && !events.Any(e => e.Op == EventOp.Write); Thread.Sleep(50))
                {
                    mount.Project.Recorder.Flush();
                    events = mount.Project.Store.Log(new LogQuery { PathPrefix = "made-through-the-mount.txt" }).Events;
                }
                // Written by this (root) process: its user and command, never another's name.
                Assert.Contains(events, e => e.Op == EventOp.Create && e.Agent.StartsWith("root/", StringComparison.Ordinal));
                Assert.Contains(events, e => e.Op == EventOp.Write && e.Attributes!.Size == 6);
                Assert.Equal(mount.Project.Store.LastSeq, mount.Status().LastSeq);
            }
            Assert.False(Lighthouse.Fuse.Mounting.FuseMounter.IsMounted(mnt));
        }
        finally
        {
            try { Directory.Delete(root, true); } catch (IOException) { }
        }
    }
}

/// <summary>A mount point that would make the mount serve itself is refused before anything is mounted.</summary>
public sealed class MountPointTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "lh-mountpoint-tests", Guid.NewGuid().ToString("N")[..10]);
    private string P(string rel) => Path.Combine(_root, rel);

    public MountPointTests()
    {
        Directory.CreateDirectory(P("project/src"));
        Directory.CreateDirectory(P("elsewhere"));
        File.CreateSymbolicLink(P("link-into-project"), P("project/src"));
    }

    public void Dispose() { try { Directory.Delete(_root, true); } catch (IOException) { } }

    [Fact]
    public void Inside_the_project_or_around_it_is_refused_beside_it_is_fine()
    {
        Assert.Contains("inside the project", LighthouseMount.MountPointProblem(P("project"), P("project/mnt"))); // not created yet
        Assert.Contains("inside the project", LighthouseMount.MountPointProblem(P("project"), P("project")));
        Assert.Contains("inside the project", LighthouseMount.MountPointProblem(P("project/"), P("link-into-project/mnt"))); // through a symlink
        Assert.Contains("inside the mount point", LighthouseMount.MountPointProblem(P("project/src"), P("project")));
        Assert.Null(LighthouseMount.MountPointProblem(P("project"), P("project-mnt"))); // a common prefix is not inside
        Assert.Null(LighthouseMount.MountPointProblem(P("project"), P("elsewhere/mnt")));
    }

    [Fact]
    public void The_mount_command_says_so_at_once_instead_of_hanging()
    {
        var repo = LighthouseMountFixture.FindRepoRoot();
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var (code, output) = LighthouseMountFixture.Run(Path.Combine(repo, "lighthouse"), $"mount {P("project")} {P("project/mnt")}");
        Assert.Equal(2, code);
        Assert.Contains("is inside the project", output);
        Assert.False(Directory.Exists(P("project/mnt"))); // nothing created, nothing mounted
        Assert.True(sw.Elapsed < TimeSpan.FromMinutes(2), $"took {sw.Elapsed}");
    }
}
