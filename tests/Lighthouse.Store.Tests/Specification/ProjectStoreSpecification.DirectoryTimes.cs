using Lighthouse.Interop;
using Lighthouse.Store;

namespace Lighthouse.Store.Tests.Specification;

// A directory's modification time moves with its entries: history shows, as of each point, the one the disk had then.
public abstract partial class ProjectStoreSpecification
{
    /// <summary>Every live directory of the latest tree (the root included) → its file id and the mtime the disk gives it now.</summary>
    private Dictionary<string, (long FileId, long MtimeNs)> DirectoryTimesOnDisk(IProjectStore store)
    {
        var dirs = new Dictionary<string, (long, long)> { [""] = (StoreConstants.RootFileId, NodeAttributes.Of(Project.Dir)!.MtimeNs) };
        foreach (var (path, kind) in Tree(store, StorePoint.Latest))
            if (kind == FileKind.Directory)
                dirs[path] = (store.LookupPath(path, StorePoint.Latest)!.FileId, NodeAttributes.Of(Project.Abs(path))!.MtimeNs);
        return dirs;
    }

    /// <summary>Each point's directories as "@seq path mtime", from the disk when it was recorded.</summary>
    private static List<string> Expected(List<(long Seq, Dictionary<string, (long FileId, long MtimeNs)> Dirs)> points) =>
        [.. points.SelectMany(p => p.Dirs.OrderBy(d => d.Key, StringComparer.Ordinal).Select(d => $"@{p.Seq} '{d.Key}' {d.Value.MtimeNs}"))];

    /// <summary>The same, as <paramref name="store"/> answers for each point.</summary>
    private static List<string> Answered(IProjectStore store, List<(long Seq, Dictionary<string, (long FileId, long MtimeNs)> Dirs)> points) =>
        [.. points.SelectMany(p => p.Dirs.OrderBy(d => d.Key, StringComparer.Ordinal).Select(d => $"@{p.Seq} '{d.Key}' {store.DirectoryMtime(d.Value.FileId, p.Seq)}"))];

    [Fact]
    public void A_directory_s_modification_time_as_of_each_point_is_the_one_the_disk_had_then()
    {
        var store = OpenStore();
        var points = new List<(long Seq, Dictionary<string, (long FileId, long MtimeNs)> Dirs)>();
        void Step(Action change)
        {
            Thread.Sleep(15); // past the coarse clock's tick, so each change gives its directories a new mtime
            change();
            points.Add((store.LastSeq, DirectoryTimesOnDisk(store)));
        }
        void Mkdir(string path) { Directory.CreateDirectory(Project.Abs(path)); store.RecordCreate(Builder, path); }

        Step(() => Mkdir("a"));
        Step(() => Mkdir("b"));
        Step(() => Create(store, "a/f", "f"));
        Step(() => Create(store, "b/g", "g"));
        Step(() => { Assert.Equal(0, Libc.Link(Project.Abs("a/f"), Project.Abs("b/h"))); store.RecordLink(Builder, "a/f", "b/h"); }); // only b changes
        Step(() => Rename(store, "a/f", "b/f")); // both change
        Step(() => Create(store, "a/x", "x"));
        Step(() => { ExchangeOnDisk("a/x", "b/g"); store.RecordExchange(Builder, "a/x", "b/g"); });
        Step(() => Create(store, "a/same", "in a"));
        Step(() => Create(store, "b/same", "in b"));
        Step(() => { ExchangeOnDisk("a/same", "b/same"); store.RecordExchange(Builder, "a/same", "b/same"); }); // one name in both
        Step(() => Rename(store, "b/f", "a/f")); // the same name in both
        Step(() => Rename(store, "a/f", "a/f2")); // within one
        Step(() => { File.Delete(Project.Abs("b/h")); store.RecordUnlink(Builder, "b/h"); });
        Step(() => Mkdir("a/sub"));
        Step(() => { Directory.Delete(Project.Abs("a/sub")); store.RecordUnlink(Builder, "a/sub"); }); // rmdir
        Step(() => { File.SetUnixFileMode(Project.Abs("a"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute); store.RecordSetAttributes(Builder, "a"); });
        Step(() => { Directory.SetLastWriteTimeUtc(Project.Abs("a"), new DateTime(2001, 2, 3, 4, 5, 6, DateTimeKind.Utc)); store.RecordSetAttributes(Builder, "a"); });
        Step(() => Create(store, "a/y", "y")); // its entries change after its own version
        Step(() => Mkdir("a/moving"));
        Step(() => { Directory.Move(Project.Abs("a/moving"), Project.Abs("b/moving")); store.RecordRename(Builder, "a/moving", "b/moving"); });

        var expected = Expected(points);
        Assert.Equal(expected, Answered(store, points));
        var a = points[^1].Dirs["a"].FileId;
        Assert.True(points.Select(p => p.Dirs.GetValueOrDefault("a").MtimeNs).Distinct().Count() >= 10, "the changes did not move a's mtime");
        Assert.Null(store.DirectoryMtime(a, points[0].Seq - 1)); // not there yet
        Assert.Null(store.DirectoryMtime(store.LookupPath("a/y", StorePoint.Latest)!.FileId, StorePoint.Latest)); // not a directory
        Assert.Null(store.DirectoryMtime(9_999, StorePoint.Latest));

        Assert.True(store.RebuildIndex().AgreedWithPrevious);
        Assert.Equal(expected, Answered(store, points));
        Assert.Equal(expected, Answered(OpenReader(), points));
        Assert.True(store.Verify().Ok);
    }

    [Fact]
    public async Task The_directory_times_the_caller_passes_are_the_ones_recorded()
    {
        var store = OpenStore();
        Directory.CreateDirectory(Project.Abs("a"));
        Directory.CreateDirectory(Project.Abs("b"));
        var a = await store.RecordCreateAsync(Builder, "a", dirMtimeNs: 1_000);
        var b = await store.RecordCreateAsync(Builder, "b", dirMtimeNs: 2_000);
        Write("a/f", "f");
        var f = await store.RecordCreateAsync(Builder, "a/f", dirMtimeNs: 3_000);
        var link = await store.RecordLinkAsync(Builder, "a/f", "b/h", dirMtimeNs: 4_000);
        var across = (await store.RecordRenameAsync(Builder, "a/f", "b/f", 5_000, 6_000))!;
        var within = (await store.RecordRenameAsync(Builder, "b/f", "b/g", 7_000, 7_000))!;
        Write("a/g", "g");
        await store.RecordCreateAsync(Builder, "a/g", dirMtimeNs: 8_000);
        var exchange = (await store.RecordExchangeAsync(Builder, "a/g", "b/g", 9_000, 10_000))!;
        var unlink = await store.RecordUnlinkAsync(Builder, "b/h", dirMtimeNs: 11_000);

        Assert.Equal((1_000L, (long?)null), (a.DirMtimeNs!.Value, a.Dir2MtimeNs));
        Assert.Equal((4_000L, (long?)null), (link.DirMtimeNs!.Value, link.Dir2MtimeNs)); // the new name's directory
        Assert.Equal((5_000L, 6_000L), (across.DirMtimeNs!.Value, across.Dir2MtimeNs!.Value));
        Assert.Equal((7_000L, (long?)null), (within.DirMtimeNs!.Value, within.Dir2MtimeNs)); // one directory, one time
        Assert.Equal((9_000L, 10_000L), (exchange.DirMtimeNs!.Value, exchange.Dir2MtimeNs!.Value));
        Assert.Equal(11_000L, unlink.DirMtimeNs);
        long? At(long dir, StoreEvent e) => store.DirectoryMtime(dir, e.Seq);
        Assert.Equal(new long?[] { 1_000, 2_000, 2_000 }, [At(1, a), At(1, b), At(1, unlink)]);
        Assert.Equal(new long?[] { 3_000, 3_000, 5_000, 9_000, 9_000 }, [At(a.FileId, f), At(a.FileId, link), At(a.FileId, across), At(a.FileId, exchange), At(a.FileId, unlink)]);
        Assert.Equal(new long?[] { 4_000, 6_000, 7_000, 10_000, 11_000 }, [At(b.FileId, link), At(b.FileId, across), At(b.FileId, within), At(b.FileId, exchange), At(b.FileId, unlink)]);
        Assert.True(store.Verify().Ok);
    }

    [Fact]
    public void Reconciliation_gives_directories_the_modification_times_its_scan_found()
    {
        Write("a/f", "f");
        Write("b/g", "g");
        Directory.CreateDirectory(Project.Abs("empty"));
        var store = OpenStore(); // the baseline
        void Check() => Assert.Equal(
            DirectoryTimesOnDisk(store).OrderBy(d => d.Key, StringComparer.Ordinal).Select(d => $"'{d.Key}' {d.Value.MtimeNs}"),
            DirectoryTimesOnDisk(store).OrderBy(d => d.Key, StringComparer.Ordinal).Select(d => $"'{d.Key}' {store.DirectoryMtime(d.Value.FileId, StorePoint.Latest)}"));
        Check();

        Thread.Sleep(15);
        Write("a/new", "made beside the store");
        File.Move(Project.Abs("b/g"), Project.Abs("empty/g"));
        File.Delete(Project.Abs("a/f"));
        store.Reconcile();
        Check();

        Thread.Sleep(15);
        File.SetUnixFileMode(Project.Abs("b"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        Write("b/later", "a change of b's entries before a chmod of it");
        Write("empty/more", "in the scope of the next reconciliation");
        Assert.Equal(["empty/more"], store.Reconcile(scope: "empty").Events.Select(e => e.Path));
        Assert.Equal(NodeAttributes.Of(Project.Abs("empty"))!.MtimeNs, store.DirectoryMtime(store.LookupPath("empty", StorePoint.Latest)!.FileId, StorePoint.Latest));
        store.Reconcile();
        Check();
        Assert.True(store.Verify().Ok);
    }
}
