using System.Security.Cryptography;
using System.Text;
using Lighthouse.Project.Agents;
using Lighthouse.Project.Files;
using Lighthouse.Project.Policy;
using Lighthouse.Store;

namespace Lighthouse.Project.Tests;

/// <summary>The file service (what HTTP and MCP callers do) in-process: its changes are the events the mount would record,
/// by the caller's agent (via token), its paths never leave the project, and the policy decides as in the mount.</summary>
public sealed class FileServiceTests : IDisposable
{
    private readonly TestProject _p = new();
    private readonly string _outside = Path.Combine(Path.GetTempPath(), "lh-project-tests", "outside-" + Guid.NewGuid().ToString("N")[..8]);
    private static readonly FileCaller Builder = new(new Agent("builder", AgentSource.Token, "builder"), "http");
    private static readonly FileCaller Reviewer = new(new Agent("reviewer", AgentSource.Token, "reviewer"), "http");

    public FileServiceTests()
    {
        Directory.CreateDirectory(_outside);
        File.WriteAllText(Path.Combine(_outside, "secret.txt"), "outside bytes");
    }

    public void Dispose()
    {
        _p.Dispose();
        Directory.Delete(_outside, recursive: true);
    }

    private static MemoryStream Body(string text) => new(Encoding.UTF8.GetBytes(text));
    private static string Sha(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    private static string ReadAll(FileRead read)
    {
        using (read) using (var r = new StreamReader(read.Content)) return r.ReadToEnd();
    }

    private void WritePolicy(string yaml)
    {
        var file = AccessControl.PathOf(_p.Dir);
        File.WriteAllText(file, yaml);
        File.SetLastWriteTimeUtc(file, DateTime.UtcNow.AddSeconds(Random.Shared.Next(1, 1000)));
        _p.Host!.Access.Refresh();
    }

    [Fact]
    public void A_new_file_is_one_create_event_with_its_bytes_by_the_callers_agent_via_token()
    {
        var host = _p.Open();
        long before = host.Store.LastSeq;
        var result = host.Files.Write(Builder, "notes.txt", Body("hello\n"));
        Assert.True(result.Created);
        Assert.Equal(Sha("hello\n"), result.ContentHash);
        Assert.Equal("hello\n", File.ReadAllText(_p.Abs("notes.txt")));

        var events = _p.EventsAfter(before);
        var e = Assert.Single(events);
        Assert.Equal(EventOp.Create, e.Op);
        Assert.Equal("notes.txt", e.Path);
        Assert.Equal("builder", e.Agent);
        Assert.Equal(AgentVia.Token, e.AgentVia);
        Assert.Equal(ContentState.Captured, e.ContentState);
        Assert.Equal(result.ContentHash, e.ContentHash);

        var read = host.Files.Read(Builder, "notes.txt");
        Assert.Equal(result.ContentHash, read.ContentHash);
        Assert.Equal("hello\n", ReadAll(read));
    }

    [Fact]
    public void Replacing_is_one_write_event_and_if_match_compares_and_swaps()
    {
        var host = _p.Open();
        var first = host.Files.Write(Builder, "a.txt", Body("one"));
        _p.EventsAfter(0); // everything queued is recorded
        long before = host.Store.LastSeq;

        var stale = Assert.Throws<FileServiceException>(() => host.Files.Write(Builder, "a.txt", Body("x"), new WritePrecondition { IfMatch = Sha("nope") }));
        Assert.Equal(FileProblem.PreconditionFailed, stale.Problem);
        var exists = Assert.Throws<FileServiceException>(() => host.Files.Write(Builder, "a.txt", Body("x"), new WritePrecondition { CreateOnly = true }));
        Assert.Equal(FileProblem.PreconditionFailed, exists.Problem);
        Assert.Equal("one", File.ReadAllText(_p.Abs("a.txt")));

        var second = host.Files.Write(Reviewer, "a.txt", Body("two!"), new WritePrecondition { IfMatch = first.ContentHash });
        Assert.False(second.Created);
        Assert.Equal("two!", File.ReadAllText(_p.Abs("a.txt")));
        var e = Assert.Single(_p.EventsAfter(before));
        Assert.Equal((EventOp.Write, "reviewer", AgentVia.Token, second.ContentHash), (e.Op, e.Agent, e.AgentVia, e.ContentHash));

        // The old version is still there, by its point.
        Assert.Equal("one", ReadAll(host.Files.Read(Builder, "a.txt", $"@{before}")));
        var versions = host.Files.History(Builder, "a.txt");
        Assert.Equal(new[] { second.ContentHash, first.ContentHash }, versions.Select(v => v.ContentHash!).ToArray());
    }

    [Fact]
    public void Missing_directories_are_made_and_recorded_and_deleting_records_an_unlink()
    {
        var host = _p.Open();
        long before = host.Store.LastSeq;
        var result = host.Files.Write(Builder, "src/lib/x.c", Body("int x;\n"));
        Assert.Equal(["src", "src/lib"], result.DirectoriesCreated);
        var made = _p.EventsAfter(before);
        Assert.Equal([(EventOp.Mkdir, "src"), (EventOp.Mkdir, "src/lib"), (EventOp.Create, "src/lib/x.c")], made.Select(e => (e.Op, e.Path)).ToArray());
        Assert.All(made, e => Assert.Equal("builder", e.Agent));

        var listing = host.Files.List(Builder, "src/lib");
        Assert.Equal("x.c", Assert.Single(listing.Entries).Name);
        var root = host.Files.List(Builder, "");
        Assert.DoesNotContain(root.Entries, e => e.Name == StoreConstants.StateDirName);

        long mid = host.Store.LastSeq;
        host.Files.Delete(Builder, "src/lib/x.c");
        Assert.False(File.Exists(_p.Abs("src/lib/x.c")));
        var gone = Assert.Single(_p.EventsAfter(mid));
        Assert.Equal((EventOp.Unlink, "src/lib/x.c", "builder"), (gone.Op, gone.Path, gone.Agent));
        Assert.Equal(FileProblem.NotFound, Assert.Throws<FileServiceException>(() => host.Files.Read(Builder, "src/lib/x.c")).Problem);
        Assert.Equal("int x;\n", ReadAll(host.Files.Read(Builder, "src/lib/x.c", $"@{mid}")));
        Assert.Single(host.Files.List(Builder, "src/lib", $"@{mid}").Entries);
        host.Files.Delete(Builder, "src/lib");
        Assert.False(Directory.Exists(_p.Abs("src/lib")));
    }

    [Theory]
    [InlineData("../escape.txt")]
    [InlineData("a/../../escape.txt")]
    [InlineData("/etc/passwd")]
    [InlineData("a\0b")]
    [InlineData(".lighthouse/agents.json")]
    [InlineData(".lighthouse")]
    [InlineData("a//b")]
    [InlineData("./a")]
    public void Hostile_paths_are_refused_as_bad_paths(string path)
    {
        var host = _p.Open();
        Assert.Equal(FileProblem.BadPath, Assert.Throws<FileServiceException>(() => host.Files.Read(Builder, path)).Problem);
        Assert.Equal(FileProblem.BadPath, Assert.Throws<FileServiceException>(() => host.Files.Write(Builder, path, Body("x"))).Problem);
        Assert.Equal(FileProblem.BadPath, Assert.Throws<FileServiceException>(() => host.Files.Delete(Builder, path)).Problem);
        Assert.False(File.Exists(Path.Combine(Path.GetDirectoryName(_p.Dir)!, "escape.txt")));
    }

    [Fact]
    public void Overlong_paths_and_names_are_refused()
    {
        var host = _p.Open();
        Assert.Equal(FileProblem.BadPath, Assert.Throws<FileServiceException>(() => host.Files.Write(Builder, new string('n', 256), Body("x"))).Problem);
        var deep = string.Join('/', Enumerable.Repeat(new string('d', 200), 21));
        Assert.Equal(FileProblem.BadPath, Assert.Throws<FileServiceException>(() => host.Files.Write(Builder, deep, Body("x"))).Problem);
        Assert.DoesNotContain(Directory.EnumerateFileSystemEntries(_p.Dir), e => Path.GetFileName(e) != StoreConstants.StateDirName);
    }

    [Fact]
    public void Symlinks_never_lead_out_of_the_project_or_into_its_store()
    {
        var host = _p.Open();
        File.CreateSymbolicLink(_p.Abs("out"), _outside);
        File.CreateSymbolicLink(_p.Abs("out.txt"), Path.Combine(_outside, "secret.txt"));
        File.CreateSymbolicLink(_p.Abs("rel.txt"), "../" + Path.GetFileName(_outside) + "/secret.txt");
        File.CreateSymbolicLink(_p.Abs("store"), ".lighthouse");
        File.WriteAllText(_p.Abs("inside.txt"), "in");
        File.CreateSymbolicLink(_p.Abs("in.txt"), "inside.txt");

        foreach (var p in new[] { "out/secret.txt", "out.txt", "rel.txt", "store/agents.json", "store/lighthouse.db" })
        {
            var read = Assert.Throws<FileServiceException>(() => host.Files.Read(Builder, p));
            Assert.True(read.Problem is FileProblem.Forbidden or FileProblem.NotFound, $"{p}: {read.Problem} {read.Message}");
            var write = Assert.Throws<FileServiceException>(() => host.Files.Write(Builder, p, Body("pwned")));
            Assert.True(write.Problem is FileProblem.Forbidden or FileProblem.Conflict or FileProblem.NotFound, $"{p}: {write.Problem}");
            if (p.Contains('/')) Assert.Throws<FileServiceException>(() => host.Files.Delete(Builder, p)); // through a link: refused
        }
        host.Files.Delete(Builder, "out.txt"); // the link itself goes, never what it names
        Assert.Throws<FileServiceException>(() => host.Files.List(Builder, "out"));
        Assert.Throws<FileServiceException>(() => host.Files.List(Builder, "store"));
        Assert.Equal("outside bytes", File.ReadAllText(Path.Combine(_outside, "secret.txt")));
        Assert.Equal(new[] { "secret.txt" }, Directory.GetFileSystemEntries(_outside).Select(e => Path.GetFileName(e)).ToArray());
        // A link that stays inside reads the file it names; writes never go through links.
        Assert.Equal("in", ReadAll(host.Files.Read(Builder, "in.txt")));
        Assert.Equal(FileProblem.Conflict, Assert.Throws<FileServiceException>(() => host.Files.Write(Builder, "in.txt", Body("x"))).Problem);
        Assert.Equal("in", File.ReadAllText(_p.Abs("inside.txt")));
    }

    [Fact]
    public void The_policy_decides_as_in_the_mount_and_refusals_are_deny_events()
    {
        var host = _p.Open();
        host.Files.Write(Builder, "secrets/key.pem", Body("k"));
        host.Files.Write(Builder, "src/a.c", Body("a"));
        WritePolicy("rules:\n  - name: secrets hidden from reviewers\n    paths: [\"secrets/\"]\n    roles: [reviewer]\n    effect: hide\n" +
                    "  - name: reviewers read sources\n    paths: [\"src/\"]\n    roles: [reviewer]\n    ops: [write, create, delete]\n    effect: deny\n");
        long before = host.Store.LastSeq;
        Assert.Equal(FileProblem.NotFound, Assert.Throws<FileServiceException>(() => host.Files.Read(Reviewer, "secrets/key.pem")).Problem);
        Assert.Equal(FileProblem.Forbidden, Assert.Throws<FileServiceException>(() => host.Files.Write(Reviewer, "src/a.c", Body("b"))).Problem);
        Assert.Equal(FileProblem.Forbidden, Assert.Throws<FileServiceException>(() => host.Files.Write(Reviewer, "src/new.c", Body("b"))).Problem);
        Assert.Equal(FileProblem.Forbidden, Assert.Throws<FileServiceException>(() => host.Files.Write(Reviewer, "src/deep/er/new.c", Body("b"))).Problem);
        Assert.Equal("a", File.ReadAllText(_p.Abs("src/a.c")));
        Assert.False(File.Exists(_p.Abs("src/new.c")));
        Assert.False(Directory.Exists(_p.Abs("src/deep"))); // refused before any directory was made for it
        Assert.Equal("a", ReadAll(host.Files.Read(Reviewer, "src/a.c")));
        Assert.DoesNotContain(host.Files.List(Reviewer, "").Entries, e => e.Name == "secrets");
        Assert.Contains(host.Files.List(Builder, "").Entries, e => e.Name == "secrets");

        // Refusals are recorded beside the recorder's queue (as the mount's are): wait for their commit.
        List<StoreEvent> denies = [];
        SpinWait.SpinUntil(() => (denies = [.. _p.EventsAfter(before).Where(e => e.Op == EventOp.Deny)]).Count >= 4, TimeSpan.FromSeconds(10));
        Assert.Equal(4, denies.Count);
        Assert.All(denies, d => Assert.Equal("reviewer", d.Agent));
        Assert.Contains("\"command\":\"http\"", denies[1].Detail);

        // The log a reviewer reads leaves the secret's events out; the builder sees them.
        var mine = host.Files.Events(Reviewer, 0, limit: 1000).Events;
        Assert.DoesNotContain(mine, e => e.Path.StartsWith("secrets", StringComparison.Ordinal));
        Assert.Contains(host.Files.Events(Builder, 0, limit: 1000).Events, e => e.Path == "secrets/key.pem");
        Assert.DoesNotContain(host.Files.Search(Reviewer, "k", literal: true).Matches, m => m.Path.StartsWith("secrets", StringComparison.Ordinal));
    }

    [Fact]
    public void Snapshot_diff_and_restore_round_trip_as_new_events_of_the_caller()
    {
        var host = _p.Open();
        host.Files.Write(Builder, "doc/a.md", Body("version 1"));
        host.Files.Write(Builder, "doc/b.md", Body("b"));
        var snap = host.Files.CreateSnapshot(Builder, "v1");
        Assert.Equal(FileProblem.Conflict, Assert.Throws<FileServiceException>(() => host.Files.CreateSnapshot(Builder, "v1")).Problem);
        host.Files.Write(Builder, "doc/a.md", Body("version 2"));
        host.Files.Delete(Builder, "doc/b.md");
        host.Files.Write(Builder, "doc/c.md", Body("new"));

        var diff = host.Files.Diff(Builder, "v1");
        Assert.Equal(snap.Seq, diff.From);
        Assert.Equal([("doc/a.md", ChangeKind.Modified), ("doc/b.md", ChangeKind.Deleted), ("doc/c.md", ChangeKind.Added)],
            diff.Changes.Select(c => (c.Path, c.Change)).OrderBy(c => c.Path).ToArray());

        var dry = host.Files.Restore(Reviewer, "doc", "v1", dryRun: true);
        Assert.Equal(3, dry.Steps.Count);
        Assert.True(File.Exists(_p.Abs("doc/c.md")));

        long before = host.Store.LastSeq;
        var done = host.Files.Restore(Reviewer, "doc", "v1");
        Assert.Empty(done.Failures);
        Assert.Equal("version 1", File.ReadAllText(_p.Abs("doc/a.md")));
        Assert.Equal("b", File.ReadAllText(_p.Abs("doc/b.md")));
        Assert.False(File.Exists(_p.Abs("doc/c.md")));
        var events = _p.EventsAfter(before);
        Assert.NotEmpty(events);
        Assert.All(events, e => Assert.Equal(("reviewer", AgentVia.Token), (e.Agent, e.AgentVia)));
        // Back as it was: the same bytes under every name (b.md is a new file with the old bytes).
        Assert.All(host.Files.Diff(Builder, "v1", path: "doc").Changes, c => Assert.Equal(c.HashBefore, c.HashAfter));
    }

    [Fact]
    public void Search_finds_lines_like_grep_within_its_bounds()
    {
        var host = _p.Open();
        host.Files.Write(Builder, "src/a.c", Body("int main() {\n  return 0;\n}\n"));
        host.Files.Write(Builder, "src/b.c", Body("// TODO: main\n"));
        File.WriteAllBytes(_p.Abs("src/bin"), [0, 1, 2, (byte)'m', (byte)'a', (byte)'i', (byte)'n']);
        var result = host.Files.Search(Builder, "main", "src");
        Assert.Equal([("src/a.c", 1), ("src/b.c", 1)], result.Matches.Select(m => (m.Path, m.Line)).ToArray());
        Assert.False(result.Truncated);
        Assert.True(host.Files.Search(Builder, "main", maxMatches: 1).Truncated);
        Assert.Equal(FileProblem.BadRequest, Assert.Throws<FileServiceException>(() => host.Files.Search(Builder, "(unclosed")).Problem);
    }
}
