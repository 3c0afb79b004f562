using System.Diagnostics;
using System.Text.Json;
using Lighthouse.Fuse.Hosting;
using Lighthouse.Project.Agents;
using Lighthouse.Store;

namespace Lighthouse.FileSystem.Tests;

/// <summary>
/// A mount hosted in-process (so runs can be registered as `lighthouse run` does) over a project whose registry names two
/// agents, "builder" and "reviewer" (uid 4242 mapped to it, one token). Always unmounted, even if mounting half failed.
/// </summary>
public sealed class AgentsMountFixture : IDisposable
{
    public const uint MappedUid = 4242;
    private readonly FuseServer? _server;

    public AgentsMountFixture()
    {
        if (Environment.UserName != "root" || !File.Exists("/dev/fuse"))
            throw new InvalidOperationException("the mount tests need root and /dev/fuse (CI runs them as root)");
        Root = Path.Combine(LighthouseMountFixture.TempBase, "agents-" + Guid.NewGuid().ToString("N")[..10]);
        Project = Path.Combine(Root, "project");
        MountPoint = Path.Combine(Root, "mnt");
        Directory.CreateDirectory(Project);
        File.WriteAllText(Path.Combine(Project, "README.md"), "agents\n");
        // Edited as the CLI does, before the mount: the mount reads the file.
        var registry = new AgentRegistry(Project);
        registry.Add("builder", "builder");
        registry.Add("reviewer", "reviewer");
        registry.MapUid(MappedUid, "reviewer");
        (Token, TokenText) = registry.IssueToken("reviewer", TimeSpan.FromHours(1), "ci");
        try
        {
            Mount = LighthouseMount.Open(Project, new LighthouseMountOptions
            {
                Stores = SqliteProjectStoreFactory.Instance, Store = new StoreOptions { Durability = Durability.Normal, FsyncObjects = false },
            });
            _server = Mount.Start(MountPoint, TextWriter.Null);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string Root { get; }
    public string Project { get; }
    public string MountPoint { get; }
    public LighthouseMount Mount { get; } = null!;
    public AgentToken Token { get; }
    public string TokenText { get; }
    public string Agents => Path.Combine(MountPoint, "agents");

    public void Dispose()
    {
        try { _server?.Dispose(); }
        finally
        {
            if (File.ReadAllText("/proc/self/mountinfo").Contains(" " + MountPoint + " ", StringComparison.Ordinal))
                LighthouseMountFixture.Run("umount", $"-l {MountPoint}");
            Mount?.Dispose();
            try { Directory.Delete(Root, true); } catch (IOException) { }
        }
    }
}

/// <summary>agents/ seen through the kernel with the tools an agent would use: ls, cat, stat, find, readlink.</summary>
public sealed class AgentsSectionTests(AgentsMountFixture fixture) : IClassFixture<AgentsMountFixture>
{
    private string A(string rel) => Path.Combine(fixture.Agents, rel);

    private static string Run(string file, string args) => LighthouseMountFixture.MustRun(file, args);

    private static (int Code, string Output) Try(string file, string args) => LighthouseMountFixture.Run(file, args);

    private static JsonElement Json(string text) => JsonDocument.Parse(text).RootElement;

    private static JsonElement AgentIn(JsonElement index, string name) =>
        index.GetProperty("agents").EnumerateArray().Single(a => a.GetProperty("name").GetString() == name);

    private static string[] Strings(JsonElement array) => [.. array.EnumerateArray().Select(e => e.GetString()!)];

    /// <summary>The command name the resolver gives this test process (/proc/self/stat), as in "root/&lt;comm&gt;".</summary>
    private static string OwnComm()
    {
        string stat = File.ReadAllText("/proc/self/stat");
        return stat[(stat.IndexOf('(') + 1)..stat.LastIndexOf(')')];
    }

    [Fact]
    public void Ls_lists_index_self_then_one_directory_per_agent_with_d_ino_equal_to_st_ino()
    {
        // -f: unsorted, as readdir returns them.
        var listed = Run("ls", $"-f {fixture.Agents}").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal([".", "..", "index.json", "self"], listed[..4]);
        Assert.Contains("builder", listed[4..]);
        Assert.Contains("reviewer", listed[4..]);
        Assert.Equal(["info.json"], Run("ls", A("builder")).Split('\n', StringSplitOptions.RemoveEmptyEntries));

        var inodes = Run("ls", $"-if {fixture.Agents}").Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Trim().Split(' ', 2)).ToDictionary(p => p[1], p => p[0]);
        // Not `self`: it leads each caller to the node of its own target, and `ls` and `stat` are different callers here.
        foreach (var name in new[] { ".", "index.json", "builder", "reviewer" })
            Assert.Equal(Run("stat", $"-c %i {A(name)}").Trim(), inodes[name]);
        Assert.Equal(Run("stat", $"-c %i {fixture.MountPoint}").Trim(), inodes[".."]);
        // Stable per name: the same numbers on the next look.
        Assert.Equal(inodes["builder"], Run("stat", $"-c %i {A("builder")}").Trim());
        Assert.Equal("directory 555 symbolic link 777 regular file 444",
            $"{Run("stat", $"-c \"%F %a\" {fixture.Agents}").Trim()} {Run("stat", $"-c \"%F %a\" {A("self")}").Trim()} {Run("stat", $"-c \"%F %a\" {A("index.json")}").Trim()}");
    }

    [Fact]
    public void Index_json_lists_both_agents_and_the_uid_map_and_stat_gives_its_exact_size_and_a_fixed_time()
    {
        string text = Run("cat", A("index.json"));
        var index = Json(text);
        var builder = AgentIn(index, "builder");
        Assert.Equal("builder", builder.GetProperty("role").GetString());
        Assert.Equal(JsonValueKind.Array, builder.GetProperty("processes").ValueKind);
        Assert.True(builder.TryGetProperty("present", out _));
        var reviewer = AgentIn(index, "reviewer");
        Assert.False(reviewer.GetProperty("present").GetBoolean());
        Assert.Equal(["uid"], Strings(reviewer.GetProperty("identifiedBy")));
        Assert.True(DateTime.TryParse(reviewer.GetProperty("created").GetString(), out _));
        Assert.Equal("reviewer", index.GetProperty("uids").GetProperty(AgentsMountFixture.MappedUid.ToString()).GetString());
        Assert.DoesNotContain(fixture.TokenText, text);

        // The size the kernel is told is the size cat reads; the time is that of the last change, not of the stat.
        string first = Run("stat", $"-c \"%s %Y\" {A("index.json")}").Trim();
        Thread.Sleep(1100);
        string second = Run("stat", $"-c \"%s %Y\" {A("index.json")}").Trim();
        Assert.Equal(first, second);
        Assert.Equal(System.Text.Encoding.UTF8.GetByteCount(Run("cat", A("index.json"))), long.Parse(first.Split(' ')[0]));
        Assert.True(long.Parse(first.Split(' ')[1]) <= DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 1);
    }

    [Fact]
    public void Info_json_has_the_agent_s_record_and_its_tokens_by_id_only()
    {
        string text = Run("cat", A("reviewer/info.json"));
        var info = Json(text);
        Assert.Equal("reviewer", info.GetProperty("name").GetString());
        Assert.Equal("reviewer", info.GetProperty("role").GetString());
        Assert.False(info.GetProperty("present").GetBoolean());
        Assert.Empty(info.GetProperty("processes").EnumerateArray());
        Assert.Equal([AgentsMountFixture.MappedUid], info.GetProperty("uids").EnumerateArray().Select(u => u.GetUInt32()));
        var token = Assert.Single(info.GetProperty("tokens").EnumerateArray());
        Assert.Equal(fixture.Token.Id, token.GetProperty("id").GetString());
        Assert.Equal(fixture.Token.ExpiresUtc, token.GetProperty("expires").GetDateTime().ToUniversalTime(), TimeSpan.FromMilliseconds(1));
        Assert.Equal(JsonValueKind.Null, token.GetProperty("revoked").ValueKind);
        // Neither the token nor its signature appears anywhere.
        Assert.DoesNotContain(fixture.TokenText, text);
        Assert.DoesNotContain(fixture.TokenText.Split('.')[^1], text);

        var builder = Json(File.ReadAllText(A("builder/info.json")));
        Assert.Equal("builder", builder.GetProperty("name").GetString());
        Assert.Empty(builder.GetProperty("uids").EnumerateArray());
        Assert.Empty(builder.GetProperty("tokens").EnumerateArray());
        Assert.Equal(System.Text.Encoding.UTF8.GetByteCount(Run("cat", A("builder/info.json"))), new FileInfo(A("builder/info.json")).Length);
    }

    [Fact]
    public void Unknown_names_do_not_exist_and_every_change_is_refused_as_read_only()
    {
        Assert.False(Directory.Exists(A("nobody")));
        Assert.Contains("No such file", Try("stat", A("nobody")).Output);
        Assert.Contains("No such file", Try("cat", A("builder/other.json")).Output);
        Assert.Contains("File name too long", Try("stat", A(new string('a', 256))).Output);

        foreach (var (tool, args) in new[]
        {
            ("touch", A("x")), ("mkdir", A("y")), ("rm", A("index.json")), ("ln", $"-s builder {A("mine")}"),
            ("touch", A("index.json")), ("mkdir", A("builder/sub")), ("mv", $"{A("index.json")} {A("moved.json")}"),
        })
        {
            var (code, output) = Try(tool, args);
            Assert.True(code != 0 && output.Contains("Read-only file system"), $"{tool} {args}: {code} {output}");
        }
        var (writeCode, writeOutput) = Try("/bin/sh", $"-c \"echo x > {A("index.json")}\"");
        Assert.True(writeCode != 0 && writeOutput.Contains("Read-only file system"), writeOutput);
        var ex = Assert.ThrowsAny<IOException>(() => File.WriteAllText(A("builder/info.json"), "{}"));
        Assert.Contains("Read-only", ex.Message);
        Assert.False(File.Exists(A("x")));
    }

    [Fact]
    public async Task Self_is_resolved_per_caller_a_registered_run_sees_its_agent_and_others_see_who_they_are()
    {
        // The test process matches no named agent: "none:<user>/<command>", which does not exist.
        string mine = $"none:root/{OwnComm()}";
        Assert.Equal(mine, new FileInfo(A("self")).LinkTarget);
        Assert.Equal("none:root/readlink", Run("readlink", A("self")).Trim());
        Assert.Contains("No such file", Try("cat", A("self/info.json")).Output);

        // A process registered as `lighthouse run --agent builder` does, and everything it starts.
        var psi = new ProcessStartInfo("/bin/sh")
        {
            ArgumentList = { "-c", $"sleep 1; readlink {A("self")}; echo ---; cat {A("self/info.json")}; echo ---; cat {A("index.json")}" },
            RedirectStandardOutput = true, RedirectStandardError = true,
        };
        using var child = Process.Start(psi)!;
        Assert.True(fixture.Mount.Project.RegisterRun((uint)child.Id, "builder", "builder"));
        var stdout = child.StandardOutput.ReadToEndAsync();
        var stderr = child.StandardError.ReadToEndAsync();
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
            await child.WaitForExitAsync(timeout.Token);
        Assert.True(child.ExitCode == 0, await stderr);
        var parts = (await stdout).Split("---\n");
        Assert.Equal("builder", parts[0].Trim());
        var info = Json(parts[1]);
        Assert.Equal("builder", info.GetProperty("name").GetString());
        Assert.True(info.GetProperty("present").GetBoolean());
        Assert.Equal(["ancestor"], Strings(info.GetProperty("identifiedBy")));
        Assert.Contains(info.GetProperty("processes").EnumerateArray(), p => p.GetProperty("pid").GetInt32() == child.Id);
        var builder = AgentIn(Json(parts[2]), "builder");
        Assert.True(builder.GetProperty("present").GetBoolean());

        // Neither the kernel's dentry nor a cached target carries the run's answer over to another caller.
        Assert.Equal(mine, new FileInfo(A("self")).LinkTarget);
        // The run has ended: no longer present.
        Assert.False(AgentIn(Json(File.ReadAllText(A("index.json"))), "builder").GetProperty("present").GetBoolean());
    }

    [Fact]
    public void An_agent_added_while_mounted_appears_at_once_and_dates_the_index()
    {
        long before = long.Parse(Run("stat", $"-c %Y {A("index.json")}").Trim());
        Thread.Sleep(1100); // a later second for the registry file's mtime
        new AgentRegistry(fixture.Project).Add("late", null);
        Assert.True(Directory.Exists(A("late")));
        var late = AgentIn(Json(File.ReadAllText(A("index.json"))), "late");
        Assert.Equal(JsonValueKind.Null, late.GetProperty("role").ValueKind);
        Assert.Empty(late.GetProperty("identifiedBy").EnumerateArray());
        long after = long.Parse(Run("stat", $"-c %Y {A("index.json")}").Trim());
        Assert.True(after > before, $"index.json mtime {before} -> {after}");
    }

    [Fact]
    public void Find_walks_agents_without_errors_and_every_json_file_parses_whole()
    {
        var (code, output) = Try("find", fixture.Agents);
        Assert.True(code == 0, output);
        var found = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains(A("index.json"), found);
        Assert.Contains(A("self"), found);
        Assert.Contains(A("builder/info.json"), found);
        Assert.Contains(A("reviewer/info.json"), found);
        foreach (var json in found.Where(f => f.EndsWith(".json", StringComparison.Ordinal)))
        {
            var bytes = File.ReadAllBytes(json);
            using var doc = JsonDocument.Parse(bytes);
            Assert.Equal(JsonValueKind.Object, doc.RootElement.ValueKind);
            Assert.Equal(bytes.Length, new FileInfo(json).Length);
        }
    }
}
