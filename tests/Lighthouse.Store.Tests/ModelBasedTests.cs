using FsCheck.Xunit;
using Lighthouse.Store;

namespace Lighthouse.Store.Tests;

/// <summary>
/// Random sequences of operations are applied to a real directory + the store, and to an in-memory
/// model. Afterwards, every as-of query at every recorded point must give what the model had then,
/// both before and after rebuilding the index from the log.
/// </summary>
public class ModelBasedTests
{
    private sealed record Node(FileKind Kind, byte[] Content);

    private static readonly string[] Agents = ["builder", "security", "perf"];

    private sealed class Run : IDisposable
    {
        public readonly TempProject Project = new();
        public ProjectStore Store = null!;
        public SortedDictionary<string, Node> Model = new(StringComparer.Ordinal);
        public readonly List<(long Seq, SortedDictionary<string, Node> State)> Points = [];
        public readonly Dictionary<string, long> SnapshotSeqs = new();

        public void Record(StoreEvent? e)
        {
            if (e is null) return;
            Assert.True(Points.Count == 0 || e.Seq > Points[^1].Seq);
            Points.Add((e.Seq, new SortedDictionary<string, Node>(Model, StringComparer.Ordinal)));
        }

        public void Dispose()
        {
            Store?.Dispose();
            Project.Dispose();
        }
    }

    private static byte[] RandomBytes(Random rng, int max)
    {
        var b = new byte[rng.Next(0, max)];
        rng.NextBytes(b);
        return b;
    }

    private static void Baseline(Run run, int seed)
    {
        var rng = new Random(seed);
        var count = rng.Next(0, 6);
        for (var i = 0; i < count; i++)
        {
            var dir = rng.Next(3) == 0 ? "base" : "";
            var path = StorePath.Combine(dir, "b" + i);
            if (dir.Length > 0) run.Model["base"] = new Node(FileKind.Directory, []);
            var content = RandomBytes(rng, 200);
            run.Project.Write(path, content);
            run.Model[path] = new Node(FileKind.File, content);
        }
    }

    private static void Apply(Run run, int value, int step)
    {
        var rng = new Random(value);
        var agent = Agents[rng.Next(Agents.Length)];
        var s = run.Store;
        var dirs = run.Model.Where(kv => kv.Value.Kind == FileKind.Directory).Select(kv => kv.Key).Prepend("").ToList();
        var files = run.Model.Where(kv => kv.Value.Kind == FileKind.File).Select(kv => kv.Key).ToList();
        switch (rng.Next(9))
        {
            case 0 or 1: // create a file, then write it
            {
                var path = StorePath.Combine(dirs[rng.Next(dirs.Count)], "f" + rng.Next(6));
                if (run.Model.ContainsKey(path)) return;
                File.WriteAllBytes(run.Project.Abs(path), []);
                run.Model[path] = new Node(FileKind.File, []);
                run.Record(s.RecordCreate(agent, path));
                var content = RandomBytes(rng, 300);
                if (content.Length == 0) return;
                Assert.Null(s.CaptureBeforeModify(agent, path)); // an empty new file is captured already
                File.WriteAllBytes(run.Project.Abs(path), content);
                run.Model[path] = new Node(FileKind.File, content);
                run.Record(s.CaptureOnClose(agent, path));
                return;
            }
            case 2: // rewrite a file
            {
                if (files.Count == 0) return;
                var path = files[rng.Next(files.Count)];
                run.Record(s.CaptureBeforeModify(agent, path));
                var content = RandomBytes(rng, 300);
                File.WriteAllBytes(run.Project.Abs(path), content);
                run.Model[path] = new Node(FileKind.File, content);
                run.Record(s.CaptureOnClose(agent, path));
                return;
            }
            case 3: // mkdir
            {
                var path = StorePath.Combine(dirs[rng.Next(dirs.Count)], "d" + rng.Next(3));
                if (run.Model.ContainsKey(path)) return;
                Directory.CreateDirectory(run.Project.Abs(path));
                run.Model[path] = new Node(FileKind.Directory, []);
                run.Record(s.RecordCreate(agent, path));
                return;
            }
            case 4: // unlink
            {
                if (files.Count == 0) return;
                var path = files[rng.Next(files.Count)];
                run.Record(s.CaptureBeforeModify(agent, path));
                File.Delete(run.Project.Abs(path));
                run.Model.Remove(path);
                run.Record(s.RecordUnlink(agent, path));
                return;
            }
            case 5: // rmdir of an empty directory
            {
                var empty = dirs.Where(d => d.Length > 0 && !run.Model.Keys.Any(k => k.StartsWith(d + "/", StringComparison.Ordinal))).ToList();
                if (empty.Count == 0) return;
                var path = empty[rng.Next(empty.Count)];
                Directory.Delete(run.Project.Abs(path));
                run.Model.Remove(path);
                run.Record(s.RecordUnlink(agent, path));
                return;
            }
            case 6: // rename, possibly over an existing file
            {
                var all = run.Model.Keys.ToList();
                if (all.Count == 0) return;
                var from = all[rng.Next(all.Count)];
                var node = run.Model[from];
                var targets = dirs.Where(d => !StorePath.IsSelfOrUnder(d, from)).ToList();
                var to = StorePath.Combine(targets[rng.Next(targets.Count)], (node.Kind == FileKind.Directory ? "d" : "f") + rng.Next(6));
                if (to == from || StorePath.IsSelfOrUnder(to, from)) return;
                if (run.Model.TryGetValue(to, out var existing))
                {
                    if (existing.Kind != FileKind.File || node.Kind != FileKind.File) return;
                    run.Record(s.CaptureBeforeModify(agent, to));
                    File.Move(run.Project.Abs(from), run.Project.Abs(to), overwrite: true);
                }
                else if (node.Kind == FileKind.Directory) Directory.Move(run.Project.Abs(from), run.Project.Abs(to));
                else File.Move(run.Project.Abs(from), run.Project.Abs(to));
                foreach (var key in run.Model.Keys.Where(k => StorePath.IsSelfOrUnder(k, from)).ToList())
                {
                    var moved = run.Model[key];
                    run.Model.Remove(key);
                    run.Model[to + key[from.Length..]] = moved;
                }
                run.Record(s.RecordRename(agent, from, to));
                return;
            }
            case 7: // chmod: a metadata-only version
            {
                if (files.Count == 0) return;
                var path = files[rng.Next(files.Count)];
                var mode = rng.Next(2) == 0 ? UnixFileMode.UserRead | UnixFileMode.UserWrite : UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
                if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(run.Project.Abs(path), mode);
                run.Record(s.RecordSetAttributes(agent, path));
                return;
            }
            default: // snapshot of the latest point
            {
                var name = "snap" + step;
                var snap = s.CreateSnapshot(agent, name);
                run.SnapshotSeqs[name] = snap.Seq;
                run.Record(s.Log(new LogQuery { Limit = 1 }).Events[0]);
                return;
            }
        }
    }

    private static void CheckAllPoints(Run run)
    {
        var store = run.Store;
        foreach (var (seq, state) in run.Points)
        {
            var tree = TreeReader.Read(store, seq);
            Assert.Equal(state.Keys, tree.Keys);
            foreach (var (path, node) in state)
            {
                Assert.Equal(node.Kind, tree[path].Kind);
                var entry = store.Lookup(StorePath.Parent(path), StorePath.Name(path), seq);
                Assert.NotNull(entry);
                if (node.Kind != FileKind.File) continue;
                Assert.Equal(node.Content.Length, tree[path].Size);
                Assert.Equal(node.Content, store.ReadAllBytes(path, seq));
            }
            // Names that were not there must not be found.
            Assert.Null(store.Lookup("", "no-such-name", seq));
        }
        foreach (var (name, seq) in run.SnapshotSeqs)
            Assert.Equal(seq, store.Resolve(StorePoint.AtSnapshot(name)));
        CheckChanged(run);
    }

    /// <summary>Changed(from, latest) against the model: what it calls added/deleted is, and every changed file is listed.</summary>
    private static void CheckChanged(Run run)
    {
        var (lastSeq, last) = run.Points[^1];
        foreach (var (seq, state) in run.Points)
        {
            var changes = run.Store.Changed(seq, lastSeq).ToDictionary(c => c.Path, c => c.Change);
            foreach (var (path, change) in changes)
            {
                if (change == ChangeKind.Added) Assert.True(!state.ContainsKey(path) && last.ContainsKey(path), $"{path} is not added");
                if (change == ChangeKind.Deleted) Assert.True(state.ContainsKey(path) && !last.ContainsKey(path), $"{path} is not deleted");
            }
            foreach (var (path, node) in last)
            {
                if (node.Kind != FileKind.File || !state.TryGetValue(path, out var before)) continue;
                if (before.Kind != node.Kind || !before.Content.AsSpan().SequenceEqual(node.Content))
                    Assert.True(changes.TryGetValue(path, out var c) && c is ChangeKind.Modified or ChangeKind.Replaced,
                        $"{path} changed between @{seq} and @{lastSeq} but Changed() does not say so");
            }
        }
    }

    [Property(MaxTest = 60, Replay = "(20261125,424243)", EndSize = 80)]
    public void Every_as_of_query_matches_the_model_before_and_after_rebuild(int baselineSeed, int[] program)
    {
        using var run = new Run();
        Baseline(run, baselineSeed);
        run.Store = run.Project.Open();
        run.Record(run.Store.Log(new LogQuery { Limit = 1 }).Events[0]); // the baseline's last event
        for (var i = 0; i < program.Length; i++) Apply(run, program[i], i);

        CheckAllPoints(run);
        Assert.True(run.Store.Verify().Ok);
        var rebuild = run.Store.RebuildIndex();
        Assert.True(rebuild.AgreedWithPrevious, "the rebuilt index differs from the live one");
        Assert.Equal(run.Store.LastSeq, rebuild.EventsReplayed);
        CheckAllPoints(run);

        // Reopening reads the same history, and a quiet directory reconciles to nothing.
        run.Store.Dispose();
        run.Store = run.Project.Open();
        Assert.Empty(run.Store.OpenReport!.Events);
        CheckAllPoints(run);
    }
}
