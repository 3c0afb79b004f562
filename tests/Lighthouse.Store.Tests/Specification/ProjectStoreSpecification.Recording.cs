using Lighthouse.Interop;
using Lighthouse.Store;

namespace Lighthouse.Store.Tests.Specification;

// Recording each kind of change, and reading it back as of the points before and after it.
public abstract partial class ProjectStoreSpecification
{
    [Fact]
    public void Opening_a_new_project_records_a_baseline_of_what_is_there()
    {
        Write("a.txt", "hello");
        Write("src/b.cs", "class B {}");
        Directory.CreateDirectory(Project.Abs("empty"));
        Assert.False(Exists(Project.Dir));

        var store = OpenStore();

        Assert.True(Exists(Project.Dir));
        Assert.False(store.IsReadOnly);
        var report = Assert.IsType<ReconcileReport>(store.OpenReport);
        Assert.Equal(["a.txt", "empty", "src", "src/b.cs"], report.Events.Select(e => e.Path).Order(StringComparer.Ordinal));
        Assert.All(report.Events, e => Assert.Equal(EventOp.Baseline, e.Op));
        Assert.All(report.Events, e => Assert.Equal(StoreConstants.ExternalAgent, e.Agent));
        Assert.Equal(report.Events[^1].Seq, store.LastSeq);
        Assert.Equal("a.txt, empty/, src/, src/b.cs", Describe(Tree(store, StorePoint.Latest)));
        var root = store.LookupPath("", StorePoint.Latest)!;
        Assert.Equal(StoreConstants.RootFileId, root.FileId);
        Assert.Equal(FileKind.Directory, root.Kind);
        // Metadata only, but the live file still serves the bytes.
        Assert.Equal("hello", Text(store.ReadAllBytes("a.txt", StorePoint.Latest)));
    }

    [Fact]
    public void Capturing_a_file_leaves_its_access_time_alone()
    {
        var store = OpenStore();
        Write("notes.md", "first");
        store.RecordCreate(Builder, "notes.md");
        Write("notes.md", "second, longer");
        // An access time older than the modification time: under relatime any read would set it to now.
        var atime = new DateTime(2001, 9, 9, 1, 46, 40, DateTimeKind.Utc);
        File.SetLastAccessTimeUtc(Project.Abs("notes.md"), atime);
        Assert.NotNull(store.CaptureOnClose(Builder, "notes.md"));
        Assert.Equal(atime, File.GetLastAccessTimeUtc(Project.Abs("notes.md")));
        Assert.Equal("second, longer", Text(store.ReadAllBytes("notes.md", StorePoint.Latest)));
    }

    [Fact]
    public void A_capture_reads_the_descriptor_it_is_given_from_offset_0_whatever_the_name_leads_to_now()
    {
        var store = OpenStore();
        Create(store, "draft.txt", "");
        using var writer = new FileStream(Project.Abs("draft.txt"), FileMode.Open, FileAccess.ReadWrite);
        writer.Write(Bytes("the final words"));
        writer.Flush();
        var handle = writer.SafeFileHandle; // (asking for it sets the file position to the stream's: do it once)
        int fd = (int)handle.DangerousGetHandle();
        Libc.Lseek(fd, 4, 0); // the writer's own file position, which the capture must neither use nor move
        // Renamed and removed on disk before the capture, as a close followed at once by mv and rm.
        File.Move(Project.Abs("draft.txt"), Project.Abs("final.txt"));
        File.Delete(Project.Abs("final.txt"));

        var write = store.CaptureOnClose(Builder, "draft.txt", handle)!;

        Assert.Equal((EventOp.Write, "draft.txt"), (write.Op, write.Path));
        Assert.Equal("the final words", Text(store.ReadAllBytes("draft.txt", write.Seq)));
        Assert.Equal(4, Libc.Lseek(fd, 0, 1));
        Assert.Null(store.CaptureOnClose(Builder, "draft.txt", handle)); // the same bytes again: nothing new
    }

    [Fact]
    public void Copy_on_write_reads_the_descriptor_it_is_given()
    {
        Write("old.c", "int old;");
        var store = OpenStore(); // the baseline records it by metadata only
        var baseline = store.LastSeq;
        using (var file = File.OpenHandle(Project.Abs("old.c")))
        {
            File.Move(Project.Abs("old.c"), Project.Abs("elsewhere.c")); // the name no longer leads to it
            Assert.Equal(EventOp.Capture, store.CaptureBeforeModify(Builder, "old.c", file)!.Op);
            Assert.Null(store.CaptureBeforeModify(Builder, "old.c", file)); // kept already
        }
        File.WriteAllText(Project.Abs("elsewhere.c"), "int new;");
        Assert.Equal("int old;", Text(store.ReadAllBytes("old.c", baseline)));
    }

    [Fact]
    public async Task A_capture_on_close_queued_without_waiting_has_its_bytes_before_it_returns()
    {
        var store = OpenStore();
        Write("notes.md", "");
        store.RecordCreate(Builder, "notes.md");
        Write("notes.md", "first");
        using var file = File.OpenHandle(Project.Abs("notes.md"));
        var first = store.CaptureOnCloseAsync(Builder, "notes.md", file);
        Write("notes.md", "second"); // after the call: the bytes it captured are the first ones
        var second = store.CaptureOnCloseAsync(Builder, "notes.md", file);
        store.CommitSoon();
        var (a, b) = ((await first)!, (await second)!);
        Assert.Equal(a.Seq + 1, b.Seq);
        Assert.Equal("first", Text(store.ReadAllBytes("notes.md", a.Seq)));
        Assert.Equal("second", Text(store.ReadAllBytes("notes.md", b.Seq)));
        Assert.Null(await store.CaptureOnCloseAsync(Builder, "notes.md", file)); // unchanged
    }

    [Fact]
    public void Uncaptured_content_is_known_by_inode_until_it_is_captured_or_gone()
    {
        Write("old.txt", "there before");
        var store = OpenStore(); // a baseline: metadata only
        Write("new.txt", "");
        store.RecordCreate(Builder, "new.txt");
        long oldInode = NodeAttributes.Of(Project.Abs("old.txt"))!.Inode, newInode = NodeAttributes.Of(Project.Abs("new.txt"))!.Inode;
        Assert.True(store.HasUncapturedContent(oldInode));
        Assert.False(store.HasUncapturedContent(newInode));

        store.CaptureBeforeModify(Builder, "old.txt");
        Assert.False(store.HasUncapturedContent(oldInode));
        // A new size recorded without the bytes (a truncate reported by the caller), then the file removed.
        Write("new.txt", "grown");
        store.RecordSetAttributes(Builder, "new.txt", NodeAttributes.Of(Project.Abs("new.txt")));
        Assert.True(store.HasUncapturedContent(newInode));
        File.Delete(Project.Abs("new.txt"));
        store.RecordUnlink(Builder, "new.txt");
        Assert.False(store.HasUncapturedContent(newInode));
    }

    [Fact]
    public async Task A_symlink_recorded_with_the_target_its_request_carried_needs_no_link_on_disk()
    {
        var store = OpenStore();
        File.CreateSymbolicLink(Project.Abs("link"), "first/target");
        var attributes = NodeAttributes.Of(Project.Abs("link"))!;
        File.Delete(Project.Abs("link")); // gone before the record is made, as a link removed at once is
        byte[] target = [0x6e, 0x6f, 0x74, 0xff, 0x75, 0x74, 0x66]; // not UTF-8: kept byte for byte
        var e = store.RecordCreateAsync(Builder, "link", attributes, target);
        store.CommitSoon();
        var seq = (await e).Seq;
        Assert.Equal(EventOp.Symlink, store.Log(new LogQuery { Limit = 1 }).Events[0].Op);
        Assert.Equal(target, store.ReadAllBytes("link", seq));
    }

    [Fact]
    public void A_created_file_exists_as_of_its_event_and_not_before()
    {
        var store = OpenStore();
        var before = store.LastSeq;

        var e = Create(store, "notes.md", "first");

        Assert.Equal(EventOp.Create, e.Op);
        Assert.Equal(Builder, e.Agent);
        Assert.Equal("notes.md", e.Path);
        Assert.Equal(before + 1, e.Seq);
        Assert.Equal(e.Seq, store.LastSeq);
        Assert.Null(store.LookupPath("notes.md", before));
        Assert.Null(store.Lookup("", "notes.md", before));
        var entry = store.LookupPath("notes.md", e.Seq)!;
        Assert.Equal(entry, store.Lookup("", "notes.md", StorePoint.Latest));
        Assert.Equal(FileKind.File, entry.Kind);
        var v = store.Attributes("notes.md", e.Seq);
        Assert.Equal(5, v.Size);
        Assert.Equal(ContentState.Captured, v.ContentState);
        Assert.Equal(entry.FileId, v.FileId);
        Assert.Equal("first", Text(store.ReadAllBytes("notes.md", e.Seq)));
        Assert.Throws<StorePathNotFoundException>(() => store.Attributes("notes.md", before));
    }

    [Fact]
    public void Directories_and_symlinks_are_recorded_with_their_kinds()
    {
        var store = OpenStore();
        Directory.CreateDirectory(Project.Abs("lib"));
        var mkdir = store.RecordCreate(Builder, "lib");
        File.CreateSymbolicLink(Project.Abs("lib/link"), "../target.txt");
        var symlink = store.RecordCreate(Builder, "lib/link");

        Assert.Equal(EventOp.Mkdir, mkdir.Op);
        Assert.Equal(EventOp.Symlink, symlink.Op);
        Assert.Equal(FileKind.Directory, store.LookupPath("lib", StorePoint.Latest)!.Kind);
        Assert.Equal(FileKind.Symlink, store.Lookup("lib", "link", StorePoint.Latest)!.Kind);
        Assert.Equal(FileKind.Symlink, store.Attributes("lib/link", StorePoint.Latest).Kind);
        Assert.Equal(["link"], store.List("lib", StorePoint.Latest).Select(e => e.Name));
        Assert.Empty(store.List("lib", mkdir.Seq));
        Assert.Equal(ContentState.None, store.Content("lib", StorePoint.Latest).State);
    }

    [Fact]
    public void A_write_records_a_new_version_and_the_old_bytes_stay_readable()
    {
        var store = OpenStore();
        var created = Create(store, "conf.ini", "a=1");
        var written = Overwrite(store, "conf.ini", "a=1\nb=2");

        Assert.Equal(EventOp.Write, written.Op);
        Assert.Equal(created.FileId, written.FileId);
        Assert.Equal(created.Seq, written.BeforeVersion);
        Assert.Equal("a=1", Text(store.ReadAllBytes("conf.ini", created.Seq)));
        Assert.Equal("a=1\nb=2", Text(store.ReadAllBytes("conf.ini", StorePoint.Latest)));
        using (var stream = store.OpenContent("conf.ini", created.Seq))
        using (var reader = new StreamReader(stream))
            Assert.Equal("a=1", reader.ReadToEnd());
        Assert.True(store.Content("conf.ini", created.Seq).IsAvailable);
        Assert.Equal(7, store.Attributes("conf.ini", StorePoint.Latest).Size);
        Assert.Equal(3, store.AttributesOf(created.FileId, created.Seq)!.Size);
        Assert.Null(store.AttributesOf(created.FileId, created.Seq - 1));
    }

    [Fact]
    public void Closing_a_file_whose_bytes_did_not_change_records_nothing()
    {
        var store = OpenStore();
        Create(store, "same.txt", "unchanged");
        var last = store.LastSeq;

        Assert.Null(store.CaptureOnClose(Builder, "same.txt"));
        Assert.Null(store.RecordWrite(Builder, "same.txt"));
        Assert.Equal(last, store.LastSeq);
    }

    [Fact]
    public void Capture_before_modify_keeps_the_bytes_of_a_version_recorded_by_metadata_only()
    {
        Write("legacy.txt", "from before");
        var store = OpenStore();
        var baseline = store.LastSeq;
        Assert.Equal(ContentState.NotCaptured, store.Attributes("legacy.txt", baseline).ContentState);

        var capture = store.CaptureBeforeModify(Builder, "legacy.txt");
        Assert.Equal(EventOp.Capture, capture!.Op);
        Assert.Null(store.CaptureBeforeModify(Builder, "legacy.txt")); // already captured
        File.WriteAllText(Project.Abs("legacy.txt"), "rewritten by the builder");
        store.CaptureOnClose(Builder, "legacy.txt");

        Assert.Equal("from before", Text(store.ReadAllBytes("legacy.txt", baseline)));
        Assert.Equal("rewritten by the builder", Text(store.ReadAllBytes("legacy.txt", StorePoint.Latest)));
    }

    [Fact]
    public void A_version_replaced_before_it_was_captured_says_why_its_bytes_are_gone()
    {
        Write("legacy.txt", "from before");
        var store = OpenStore();
        var baseline = store.LastSeq;
        File.WriteAllText(Project.Abs("legacy.txt"), "changed beside the store, longer");
        store.Reconcile();

        var content = store.Content("legacy.txt", baseline);
        Assert.False(content.IsAvailable);
        Assert.False(string.IsNullOrEmpty(content.Unavailable));
        Assert.Throws<ContentUnavailableException>(() => store.OpenContent("legacy.txt", baseline));
        Assert.Throws<ContentUnavailableException>(() => store.ReadAllBytes("legacy.txt", baseline));
        Assert.Equal("changed beside the store, longer", Text(store.ReadAllBytes("legacy.txt", StorePoint.Latest)));
    }

    [Fact]
    public void An_unlinked_file_is_gone_now_and_readable_as_of_before()
    {
        var store = OpenStore();
        var created = Create(store, "doomed.txt", "last words");
        File.Delete(Project.Abs("doomed.txt"));

        var unlink = store.RecordUnlink(Builder, "doomed.txt");

        Assert.Equal(EventOp.Unlink, unlink.Op);
        Assert.Equal(created.FileId, unlink.FileId);
        Assert.Null(store.LookupPath("doomed.txt", StorePoint.Latest));
        Assert.DoesNotContain(store.List("", StorePoint.Latest), e => e.Name == "doomed.txt");
        Assert.Equal("last words", Text(store.ReadAllBytes("doomed.txt", unlink.Seq - 1)));
        Assert.Throws<StorePathNotFoundException>(() => store.Content("doomed.txt", StorePoint.Latest));
    }

    [Fact]
    public void Removing_a_directory_is_an_rmdir_and_needs_it_empty_in_the_index()
    {
        var store = OpenStore();
        Directory.CreateDirectory(Project.Abs("d"));
        store.RecordCreate(Builder, "d");
        Create(store, "d/f.txt", "f");
        var last = store.LastSeq;

        Assert.Throws<IndexConflictException>(() => store.RecordUnlink(Builder, "d"));
        Assert.Equal(last, store.LastSeq);
        File.Delete(Project.Abs("d/f.txt"));
        store.RecordUnlink(Builder, "d/f.txt");
        Directory.Delete(Project.Abs("d"));
        Assert.Equal(EventOp.Rmdir, store.RecordUnlink(Builder, "d").Op);
        Assert.Null(store.LookupPath("d", StorePoint.Latest));
    }

    [Fact]
    public void A_renamed_file_keeps_its_id_and_its_history()
    {
        var store = OpenStore();
        var created = Create(store, "old.txt", "content");
        File.Move(Project.Abs("old.txt"), Project.Abs("new.txt"));

        var rename = store.RecordRename(Builder, "old.txt", "new.txt")!;

        Assert.Equal(EventOp.Rename, rename.Op);
        Assert.Equal(("old.txt", "new.txt"), (rename.Path, rename.Path2));
        Assert.Null(store.LookupPath("old.txt", StorePoint.Latest));
        Assert.Equal(created.FileId, store.LookupPath("new.txt", StorePoint.Latest)!.FileId);
        Assert.Equal(created.FileId, store.LookupPath("old.txt", created.Seq)!.FileId);
        Assert.Equal("content", Text(store.ReadAllBytes("new.txt", StorePoint.Latest)));
        Assert.Null(store.RecordRename(Builder, "new.txt", "new.txt")); // POSIX no-op
        Assert.Equal(rename.Seq, store.LastSeq);
    }

    [Fact]
    public void A_renamed_directory_takes_its_subtree_along()
    {
        Write("lib/x.cs", "x");
        Write("lib/deep/y.cs", "y");
        var store = OpenStore();
        var x = store.LookupPath("lib/x.cs", StorePoint.Latest)!.FileId;
        var y = store.LookupPath("lib/deep/y.cs", StorePoint.Latest)!.FileId;
        Directory.Move(Project.Abs("lib"), Project.Abs("src"));

        store.RecordRename(Builder, "lib", "src");

        Assert.Equal(x, store.LookupPath("src/x.cs", StorePoint.Latest)!.FileId);
        Assert.Equal(y, store.LookupPath("src/deep/y.cs", StorePoint.Latest)!.FileId);
        Assert.Null(store.LookupPath("lib/x.cs", StorePoint.Latest));
        Assert.Equal("src/, src/deep/, src/deep/y.cs, src/x.cs", Describe(Tree(store, StorePoint.Latest)));
    }

    [Fact]
    public void Renaming_over_a_file_replaces_it_and_the_replaced_one_stays_in_history()
    {
        var store = OpenStore();
        var a = Create(store, "a.txt", "AAA");
        var b = Create(store, "b.txt", "BB");
        File.Move(Project.Abs("a.txt"), Project.Abs("b.txt"), overwrite: true);

        var rename = store.RecordRename(Builder, "a.txt", "b.txt")!;

        Assert.Equal(b.FileId, rename.OtherFileId);
        Assert.Equal(a.FileId, store.LookupPath("b.txt", StorePoint.Latest)!.FileId);
        Assert.Equal("AAA", Text(store.ReadAllBytes("b.txt", StorePoint.Latest)));
        Assert.Equal("BB", Text(store.ReadAllBytes("b.txt", b.Seq)));
        var changed = store.Changed(b.Seq, rename.Seq).ToDictionary(c => c.Path, c => c.Change);
        Assert.Equal(ChangeKind.Deleted, changed["a.txt"]);
        Assert.Equal(ChangeKind.Replaced, changed["b.txt"]);
    }

    [Fact]
    public void A_hard_link_is_a_second_name_of_the_same_file()
    {
        var store = OpenStore();
        var original = Create(store, "a.txt", "shared bytes");
        Assert.Equal(0, Libc.Link(Project.Abs("a.txt"), Project.Abs("b.txt")));

        var link = store.RecordLink(Builder, "a.txt", "b.txt");

        Assert.Equal(EventOp.Link, link.Op);
        Assert.Equal(original.FileId, store.LookupPath("b.txt", StorePoint.Latest)!.FileId);
        Assert.Equal(original.FileId, store.LookupPath("a.txt", StorePoint.Latest)!.FileId);
        Assert.Equal("shared bytes", Text(store.ReadAllBytes("b.txt", StorePoint.Latest)));
        Assert.Null(store.LookupPath("b.txt", original.Seq));
    }

    [Fact]
    public void A_mode_change_is_a_new_version_with_the_same_bytes()
    {
        var store = OpenStore();
        var created = Create(store, "run.sh", "#!/bin/sh");
        var modeBefore = store.Attributes("run.sh", StorePoint.Latest).Attributes.Mode;
        File.SetUnixFileMode(Project.Abs("run.sh"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

        var setattr = store.RecordSetAttributes(Builder, "run.sh")!;

        Assert.Equal(EventOp.SetAttributes, setattr.Op);
        Assert.Equal(modeBefore, store.Attributes("run.sh", created.Seq).Attributes.Mode);
        Assert.Equal(0b111_000_000, store.Attributes("run.sh", StorePoint.Latest).Attributes.Mode & 0x1ff);
        Assert.Equal("#!/bin/sh", Text(store.ReadAllBytes("run.sh", StorePoint.Latest)));
        Assert.Equal("#!/bin/sh", Text(store.ReadAllBytes("run.sh", created.Seq)));
        Assert.Null(store.RecordSetAttributes(Builder, "run.sh")); // nothing changed since
    }

    [Fact]
    public async Task Attributes_the_caller_knows_are_recorded_as_given()
    {
        var store = OpenStore();
        Create(store, "data.bin", "12345");
        var current = store.Attributes("data.bin", StorePoint.Latest).Attributes;
        var given = current with { Mode = current.Mode ^ 0x49 /* ±x for everyone */ };

        var e = await store.RecordSetAttributesAsync(Builder, "data.bin", given);

        Assert.NotNull(e);
        Assert.Equal(given, store.Attributes("data.bin", StorePoint.Latest).Attributes);
        Assert.Null(await store.RecordSetAttributesAsync(Builder, "data.bin", given));
    }

    [Fact]
    public async Task Asynchronous_records_commit_in_the_order_they_were_queued()
    {
        var store = OpenStore();
        var creates = new List<Task<StoreEvent>>();
        for (var i = 0; i < 20; i++)
        {
            Write($"f{i:D2}.txt", "x" + i);
            creates.Add(store.RecordCreateAsync(Builder, $"f{i:D2}.txt"));
        }
        File.Move(Project.Abs("f00.txt"), Project.Abs("moved.txt"));
        var rename = store.RecordRenameAsync(Builder, "f00.txt", "moved.txt");
        Assert.Equal(0, Libc.Link(Project.Abs("f01.txt"), Project.Abs("linked.txt")));
        var link = store.RecordLinkAsync(Builder, "f01.txt", "linked.txt");
        File.Delete(Project.Abs("f02.txt"));
        var unlink = store.RecordUnlinkAsync(Builder, "f02.txt");
        store.CommitSoon();

        var seqs = (await Task.WhenAll(creates)).Select(e => e.Seq).ToList();
        seqs.Add((await rename)!.Seq);
        seqs.Add((await link).Seq);
        seqs.Add((await unlink).Seq);

        Assert.Equal(seqs.Order(), seqs);
        Assert.Equal(seqs.Count, seqs.Distinct().Count());
        Assert.Equal(seqs[^1], store.LastSeq);
        var tree = Tree(store, StorePoint.Latest);
        Assert.Contains("moved.txt", tree.Keys);
        Assert.Contains("linked.txt", tree.Keys);
        Assert.DoesNotContain("f00.txt", tree.Keys);
        Assert.DoesNotContain("f02.txt", tree.Keys);
        Assert.Equal(20 - 2 + 2, tree.Count);
    }

    [Fact]
    public async Task A_change_that_contradicts_the_index_is_refused_and_records_nothing()
    {
        var store = OpenStore();
        Create(store, "here.txt", "x");
        var last = store.LastSeq;

        Assert.Throws<IndexConflictException>(() => store.RecordCreate(Builder, "here.txt"));
        Assert.Throws<IndexConflictException>(() => store.RecordUnlink(Builder, "missing.txt"));
        Assert.Throws<IndexConflictException>(() => store.RecordRename(Builder, "missing.txt", "other.txt"));
        await Assert.ThrowsAsync<IndexConflictException>(() => store.RecordUnlinkAsync(Builder, "missing.txt"));
        Assert.Throws<StorePathNotFoundException>(() => store.RecordCreate(Builder, "not-on-disk.txt"));
        Assert.Throws<InvalidStorePathException>(() => store.RecordCreate(Builder, "../outside.txt"));

        Assert.Equal(last, store.LastSeq);
        Assert.Equal("here.txt", Describe(Tree(store, StorePoint.Latest)));
    }

    [Fact]
    public void A_read_only_store_refuses_every_change()
    {
        OpenStore().Dispose();
        var reader = OpenReader();

        Assert.True(reader.IsReadOnly);
        Assert.Null(reader.OpenReport);
        Assert.Equal(default, reader.CommitStats);
        Write("new.txt", "x");
        Assert.Throws<StoreReadOnlyException>(() => reader.RecordCreate(Builder, "new.txt"));
        Assert.Throws<StoreReadOnlyException>(() => reader.CreateSnapshot(Builder, "nope"));
        Assert.Throws<StoreReadOnlyException>(() => reader.Reconcile());
        Assert.Throws<StoreReadOnlyException>(() => reader.RebuildIndex());
        Assert.Throws<StoreReadOnlyException>(() => reader.Watch());
        Assert.Null(reader.LookupPath("new.txt", StorePoint.Latest));
    }
}
