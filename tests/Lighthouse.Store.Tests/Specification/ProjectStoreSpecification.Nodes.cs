using System.Net.Sockets;
using Lighthouse.Interop;
using Lighthouse.Store;

namespace Lighthouse.Store.Tests.Specification;

// What a node is besides its name and bytes: owner, group, exact kind, device number, link count; and exchanges.
public abstract partial class ProjectStoreSpecification
{
    private const int Fifo = 0x1000;

    [Fact]
    public async Task A_chown_is_a_recorded_attribute_change_and_the_old_owner_stays_in_history()
    {
        var store = OpenStore();
        var created = Create(store, "owned.txt", "mine");
        var before = store.Attributes("owned.txt", StorePoint.Latest).Attributes;
        Assert.Equal((long)Libc.GetEuid(), before.Uid);
        Assert.Equal((long)Libc.GetGid(), before.Gid);

        var chown = await store.RecordSetAttributesAsync(Builder, "owned.txt", before with { Uid = 1234, Gid = 5678 });

        Assert.Equal(EventOp.SetAttributes, chown!.Op);
        Assert.Equal((1234L, 5678L), (chown.Attributes!.Uid, chown.Attributes.Gid));
        var now = store.Attributes("owned.txt", StorePoint.Latest);
        Assert.Equal((1234L, 5678L), (now.Attributes.Uid, now.Attributes.Gid));
        Assert.Equal((before.Uid, before.Gid), (store.Attributes("owned.txt", created.Seq).Attributes.Uid, store.Attributes("owned.txt", created.Seq).Attributes.Gid));
        Assert.Equal("mine", Text(store.ReadAllBytes("owned.txt", StorePoint.Latest)));
        Assert.Null(await store.RecordSetAttributesAsync(Builder, "owned.txt", now.Attributes)); // nothing changed
        Assert.True(store.Verify().Ok);
    }

    [Fact]
    public void Fifos_and_sockets_are_recorded_with_their_kinds_in_the_baseline_and_after()
    {
        Assert.Equal(0, Libc.Mknod(Project.Abs("early.pipe"), Fifo | 0x1a4, 0));
        var store = OpenStore();
        Assert.Equal(FileKind.Fifo, store.Attributes("early.pipe", StorePoint.Latest).Kind);

        Assert.Equal(0, Libc.Mknod(Project.Abs("late.pipe"), Fifo | 0x180, 0));
        var fifo = store.RecordCreate(Builder, "late.pipe");
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(Project.Abs("server.sock"))); // .NET removes the name when it closes the socket
        var sock = store.RecordCreate(Builder, "server.sock");

        Assert.Equal(EventOp.Create, fifo.Op);
        Assert.Equal(FileKind.Fifo, fifo.Attributes!.Kind);
        Assert.Equal(0x180, fifo.Attributes.Mode);
        Assert.Equal(FileKind.Socket, sock.Attributes!.Kind);
        var kinds = store.List("", StorePoint.Latest).ToDictionary(e => e.Name, e => e.Kind);
        Assert.Equal(FileKind.Fifo, kinds["early.pipe"]);
        Assert.Equal(FileKind.Fifo, kinds["late.pipe"]);
        Assert.Equal(FileKind.Socket, kinds["server.sock"]);
        Assert.Equal(ContentState.None, store.Content("late.pipe", StorePoint.Latest).State);
        Assert.Empty(store.Reconcile().Events); // the disk agrees with what was recorded
    }

    [Fact]
    public async Task Device_nodes_keep_their_kind_and_device_number_across_a_rebuild_and_a_reopen()
    {
        var store = OpenStore();
        long null13 = (long)Libc.MakeDev(1, 3), sda1 = (long)Libc.MakeDev(8, 1), big = (long)Libc.MakeDev(0x12345, 0x6789a);
        // The mount passes what it stat'ed; no device node needs to exist here (making one needs CAP_MKNOD).
        var chr = await store.RecordCreateAsync(Builder, "null", new NodeAttributes(FileKind.CharDevice, 0, 0x1b6, 1_000, 77, 0, 0, null13));
        var blk = await store.RecordCreateAsync(Builder, "disk", new NodeAttributes(FileKind.BlockDevice, 0, 0x1b0, 2_000, 78, 0, 6, sda1));
        var wide = await store.RecordCreateAsync(Builder, "wide", new NodeAttributes(FileKind.CharDevice, 0, 0x180, 3_000, 79, 0, 0, big));

        void Check(IProjectStore s)
        {
            Assert.Equal((FileKind.CharDevice, null13), (s.Attributes("null", StorePoint.Latest).Kind, s.Attributes("null", StorePoint.Latest).Attributes.Rdev));
            Assert.Equal((FileKind.BlockDevice, sda1, 6L), (s.Attributes("disk", blk.Seq).Kind, s.Attributes("disk", blk.Seq).Attributes.Rdev, s.Attributes("disk", blk.Seq).Attributes.Gid));
            Assert.Equal(big, s.Attributes("wide", StorePoint.Latest).Attributes.Rdev);
            Assert.Equal((0x12345UL, 0x6789aUL), (Libc.Major((ulong)big), Libc.Minor((ulong)big)));
            Assert.Equal(FileKind.CharDevice, s.Lookup("", "null", StorePoint.Latest)!.Kind);
            Assert.Equal(EventOp.Create, s.Log(new LogQuery { PathPrefix = "null" }).Events.Single().Op);
            Assert.Equal(sda1, s.Log(new LogQuery { PathPrefix = "disk" }).Events.Single().Attributes!.Rdev);
        }
        Check(store);
        Assert.Equal(wide.Seq, store.LastSeq);
        Assert.True(store.RebuildIndex().AgreedWithPrevious);
        Check(store);
        Check(OpenReader());
        Assert.True(store.Verify().Ok);
    }

    [Fact]
    public void Link_counts_as_of_each_point_are_the_names_a_file_had_and_the_subdirectories_a_directory_had()
    {
        var store = OpenStore();
        var rootBefore = store.LinkCount(StoreConstants.RootFileId, StorePoint.Latest);
        var file = Create(store, "a.txt", "shared");
        Assert.Equal(0, Libc.Link(Project.Abs("a.txt"), Project.Abs("b.txt")));
        var link = store.RecordLink(Builder, "a.txt", "b.txt");
        Directory.CreateDirectory(Project.Abs("d"));
        var dir = store.RecordCreate(Builder, "d");
        Directory.CreateDirectory(Project.Abs("d/sub"));
        var sub = store.RecordCreate(Builder, "d/sub");
        Create(store, "d/file.txt", "not a directory");
        File.Delete(Project.Abs("a.txt"));
        var unlink = store.RecordUnlink(Builder, "a.txt");

        Assert.Equal(0, store.LinkCount(file.FileId, file.Seq - 1));
        Assert.Equal(1, store.LinkCount(file.FileId, file.Seq));
        Assert.Equal(2, store.LinkCount(file.FileId, link.Seq));
        Assert.Equal(1, store.LinkCount(file.FileId, unlink.Seq));
        Assert.Equal(2, store.LinkCount(dir.FileId, dir.Seq));
        Assert.Equal(3, store.LinkCount(dir.FileId, sub.Seq));
        Assert.Equal(3, store.LinkCount(dir.FileId, StorePoint.Latest)); // a file in it is no link of it
        Assert.Equal(2, store.LinkCount(sub.FileId, StorePoint.Latest));
        Assert.Equal(rootBefore + 1, store.LinkCount(StoreConstants.RootFileId, StorePoint.Latest));
        Assert.Equal(0, store.LinkCount(9_999, StorePoint.Latest));
    }

    /// <summary>renameat2(RENAME_EXCHANGE) on disk, as the mount's passthrough makes it.</summary>
    private void ExchangeOnDisk(string a, string b) =>
        Assert.Equal(0, Libc.RenameAt2(Libc.AT_FDCWD, Project.Abs(a), Libc.AT_FDCWD, Project.Abs(b), Libc.RENAME_EXCHANGE));

    [Fact]
    public void A_name_s_history_follows_an_exchange_to_the_file_that_held_it_before()
    {
        var store = OpenStore();
        var a = Create(store, "a.txt", "a's bytes");
        var b = Create(store, "new.txt", "the new version");
        ExchangeOnDisk("a.txt", "new.txt");
        store.RecordExchange(Builder, "a.txt", "new.txt");

        // a.txt was held by file a until the swap, by b since: both files' versions, each under its own name.
        Assert.Equal([(b.Seq, "new.txt"), (a.Seq, "a.txt")], store.PathHistory("a.txt").Select(v => (v.VersionSeq, v.Path)));
        Assert.Equal([(b.Seq, "new.txt"), (a.Seq, "a.txt")], store.PathHistory("new.txt").Select(v => (v.VersionSeq, v.Path)));
    }

    [Fact]
    public void An_exchange_of_two_files_is_one_event_and_each_file_keeps_its_id_and_versions()
    {
        var store = OpenStore();
        var a = Create(store, "a.txt", "was a");
        var b = Create(store, "b.txt", "was b, longer");
        ExchangeOnDisk("a.txt", "b.txt");

        var e = store.RecordExchange(Builder, "a.txt", "b.txt")!;

        Assert.Equal(EventOp.Exchange, e.Op);
        Assert.Equal(("a.txt", "b.txt"), (e.Path, e.Path2));
        Assert.Equal((a.FileId, b.FileId), (e.FileId, e.OtherFileId));
        Assert.Equal(e.Seq, store.LastSeq);
        Assert.Equal(b.FileId, store.LookupPath("a.txt", StorePoint.Latest)!.FileId);
        Assert.Equal(a.FileId, store.LookupPath("b.txt", StorePoint.Latest)!.FileId);
        Assert.Equal("was b, longer", Text(store.ReadAllBytes("a.txt", StorePoint.Latest)));
        Assert.Equal("was a", Text(store.ReadAllBytes("b.txt", StorePoint.Latest)));
        Assert.Equal("was a", Text(store.ReadAllBytes("a.txt", e.Seq - 1)));
        Assert.Equal(a.Seq, store.Versions("b.txt").Single().VersionSeq); // the versions of the file that was a.txt
        var changed = store.Changed(e.Seq - 1, e.Seq).ToDictionary(c => c.Path, c => c.Change);
        Assert.Equal(ChangeKind.Replaced, changed["a.txt"]);
        Assert.Equal(ChangeKind.Replaced, changed["b.txt"]);
        Assert.Equal([e.Seq], store.Log(new LogQuery { PathPrefix = "b.txt", Operations = [EventOp.Exchange] }).Events.Select(x => x.Seq));
        Assert.Empty(store.Reconcile().Events); // the disk agrees
    }

    [Fact]
    public void An_exchange_of_directories_or_of_a_file_and_a_directory_across_directories_moves_the_subtrees()
    {
        Write("left/one/x.txt", "x");
        Write("right/two/y.txt", "y");
        Write("right/f.txt", "file");
        var store = OpenStore();
        var one = store.LookupPath("left/one", StorePoint.Latest)!.FileId;
        var x = store.LookupPath("left/one/x.txt", StorePoint.Latest)!.FileId;
        var f = store.LookupPath("right/f.txt", StorePoint.Latest)!.FileId;

        ExchangeOnDisk("left/one", "right/two");
        var dirs = store.RecordExchange(Builder, "left/one", "right/two")!;
        Assert.Equal("left/, left/one/, left/one/y.txt, right/, right/f.txt, right/two/, right/two/x.txt", Describe(Tree(store, StorePoint.Latest)));
        Assert.Equal(x, store.LookupPath("right/two/x.txt", StorePoint.Latest)!.FileId);
        Assert.Equal(ChangeKind.Added, store.Changed(dirs.Seq - 1, dirs.Seq).Single(c => c.Path == "right/two/x.txt").Change);

        ExchangeOnDisk("right/f.txt", "left/one");
        var mixed = store.RecordExchange(Builder, "right/f.txt", "left/one")!;
        Assert.Equal("left/, left/one, right/, right/f.txt/, right/f.txt/y.txt, right/two/, right/two/x.txt", Describe(Tree(store, StorePoint.Latest)));
        Assert.Equal(f, store.LookupPath("left/one", StorePoint.Latest)!.FileId);
        Assert.Equal(FileKind.File, store.Lookup("left", "one", StorePoint.Latest)!.Kind);
        Assert.Equal("file", Text(store.ReadAllBytes("left/one", StorePoint.Latest)));
        Assert.Equal("y", Text(store.ReadAllBytes("right/f.txt/y.txt", StorePoint.Latest)));
        Assert.Equal(one, store.LookupPath("left/one", dirs.Seq - 1)!.FileId);
        Assert.Equal(FileKind.Directory, store.Lookup("left", "one", mixed.Seq - 1)!.Kind);
        Assert.Empty(store.Reconcile().Events);

        var trees = Enumerable.Range(1, (int)store.LastSeq).Select(seq => Describe(Tree(store, seq))).ToList();
        Assert.True(store.RebuildIndex().AgreedWithPrevious);
        Assert.Equal(trees, Enumerable.Range(1, (int)store.LastSeq).Select(seq => Describe(Tree(store, seq))));
        Assert.True(store.Verify().Ok);
    }

    [Fact]
    public void An_exchange_that_changes_nothing_records_nothing_and_one_inside_the_other_is_refused()
    {
        var store = OpenStore();
        Create(store, "a.txt", "a");
        Assert.Equal(0, Libc.Link(Project.Abs("a.txt"), Project.Abs("hard.txt")));
        store.RecordLink(Builder, "a.txt", "hard.txt");
        Write("d/inner.txt", "i");
        store.Reconcile();
        var last = store.LastSeq;

        Assert.Null(store.RecordExchange(Builder, "a.txt", "a.txt"));
        Assert.Null(store.RecordExchange(Builder, "a.txt", "hard.txt")); // two names of one file
        Assert.Throws<IndexConflictException>(() => store.RecordExchange(Builder, "d", "d/inner.txt"));
        Assert.Throws<IndexConflictException>(() => store.RecordExchange(Builder, "a.txt", "missing.txt"));
        Assert.Throws<InvalidStorePathException>(() => store.RecordExchange(Builder, "", "a.txt"));
        Assert.Equal(last, store.LastSeq);
    }
}
