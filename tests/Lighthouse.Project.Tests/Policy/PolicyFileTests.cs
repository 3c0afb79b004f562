using Lighthouse.Project.Policy;

namespace Lighthouse.Project.Tests.Policy;

/// <summary>Keeping the policy in step with policy.yaml: reloads, a broken file keeping the last good policy, removal.</summary>
public sealed class PolicyFileTests : IDisposable
{
    private static readonly PolicySubject Anyone = new("someone", null, null);
    private readonly string _dir = Directory.CreateTempSubdirectory("lh-policy-").FullName;
    private readonly string _path;
    private DateTime _clock = new(2030, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    public PolicyFileTests() => _path = Path.Combine(_dir, "policy.yaml");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Writes the file and moves its mtime on, so a change is seen even within one timestamp tick.</summary>
    private void Write(string yaml)
    {
        File.WriteAllText(_path, yaml);
        _clock = _clock.AddSeconds(1);
        File.SetLastWriteTimeUtc(_path, _clock);
    }

    private static bool Denies(AccessPolicy policy, string path) =>
        !policy.Decide(Anyone, PolicyOperation.Read, path, false).Allowed;

    [Fact]
    public void Valid_then_invalid_then_fixed_then_deleted()
    {
        Write("rules:\n  - {path: a.txt, effect: deny}\n");
        using var file = new PolicyFile(_path);
        var seen = new List<PolicyReload>();
        file.Changed += seen.Add;
        var loaded = file.Current;
        Assert.True(Denies(loaded, "a.txt"));
        Assert.Equal(PolicyReloadOutcome.Unchanged, file.Refresh().Outcome);

        Write("rules:\n  - {path: a.txt, efect: deny}\n");
        var invalid = file.Refresh();
        Assert.Equal(PolicyReloadOutcome.Invalid, invalid.Outcome);
        Assert.Contains("line 2", invalid.Error);
        Assert.Contains("unknown key 'efect'", invalid.Error);
        Assert.Same(loaded, file.Current);
        Assert.Same(loaded, invalid.Policy);
        Assert.Equal(PolicyReloadOutcome.Unchanged, file.Refresh().Outcome);

        Write("rules:\n  - {path: b.txt, effect: deny}\n");
        var fixedUp = file.Refresh();
        Assert.Equal(PolicyReloadOutcome.Loaded, fixedUp.Outcome);
        Assert.Same(fixedUp.Policy, file.Current);
        Assert.False(Denies(file.Current, "a.txt"));
        Assert.True(Denies(file.Current, "b.txt"));

        File.Delete(_path);
        var removed = file.Refresh();
        Assert.Equal(PolicyReloadOutcome.Removed, removed.Outcome);
        Assert.Same(AccessPolicy.AllowAll, file.Current);
        Assert.Equal(PolicyReloadOutcome.Unchanged, file.Refresh().Outcome);

        Assert.Equal([PolicyReloadOutcome.Invalid, PolicyReloadOutcome.Loaded, PolicyReloadOutcome.Removed],
            seen.Select(r => r.Outcome));
    }

    [Fact]
    public void A_rewrite_of_the_same_size_within_one_timestamp_is_still_seen()
    {
        Write("rules:\n  - {path: a.txt, effect: deny}\n");
        using var file = new PolicyFile(_path);
        var mtime = File.GetLastWriteTimeUtc(_path);

        // Same length, same mtime, as an editor that saves by rename might leave it: the inode differs.
        File.WriteAllText(_path + ".new", "rules:\n  - {path: b.txt, effect: deny}\n");
        File.SetLastWriteTimeUtc(_path + ".new", mtime);
        File.Move(_path + ".new", _path, overwrite: true);

        Assert.Equal(PolicyReloadOutcome.Loaded, file.Refresh().Outcome);
        Assert.True(Denies(file.Current, "b.txt"));
    }

    [Fact]
    public void A_missing_file_allows_all_until_one_appears()
    {
        using var file = new PolicyFile(_path);
        Assert.Same(AccessPolicy.AllowAll, file.Current);
        Assert.Equal(PolicyReloadOutcome.Unchanged, file.Refresh().Outcome);

        Write("default: deny\n");
        Assert.Equal(PolicyReloadOutcome.Loaded, file.Refresh().Outcome);
        Assert.True(Denies(file.Current, "anything"));
    }

    [Fact]
    public void An_invalid_file_at_start_is_refused_rather_than_allowing_all()
    {
        Write("rules:\n  - {path: a.txt}\n");

        var e = Assert.Throws<PolicyFormatException>(() => new PolicyFile(_path));
        Assert.Equal(2, e.Line);
    }

    [Fact]
    public void Watching_picks_up_a_change_without_a_call_to_Refresh()
    {
        using var file = new PolicyFile(_path);
        using var changed = new ManualResetEventSlim();
        file.Changed += reload => { if (reload.Outcome == PolicyReloadOutcome.Loaded) changed.Set(); };
        file.StartWatching(TimeSpan.FromMilliseconds(10));

        Write("default: hide\n");

        Assert.True(changed.Wait(TimeSpan.FromSeconds(10)));
        Assert.Equal(PolicyEffect.Hide, file.Current.DefaultEffect);
        Assert.Throws<InvalidOperationException>(() => file.StartWatching(TimeSpan.FromSeconds(1)));
    }
}
