using Lighthouse.Cli.Commands;

namespace Lighthouse.Cli.Tests;

public sealed class UnitTests
{
    [Fact]
    public void Unified_diff_of_small_texts()
    {
        Assert.Equal("", UnifiedDiff.Format("a\nb\n", "a\nb\n", "x", "y"));
        Assert.Equal("--- x\n+++ y\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n", UnifiedDiff.Format("a\nb\n", "a\nc\n", "x", "y"));
        Assert.Equal("--- x\n+++ y\n@@ -0,0 +1 @@\n+new\n", UnifiedDiff.Format("", "new\n", "x", "y"));
        Assert.Equal("--- x\n+++ y\n@@ -1 +1 @@\n-a\n\\ No newline at end of file\n+a\n", UnifiedDiff.Format("a", "a\n", "x", "y"));
        var old = string.Join("\n", Enumerable.Range(1, 30)) + "\n";
        var @new = old.Replace("\n5\n", "\n5x\n").Replace("\n25\n", "\n25x\n");
        var d = UnifiedDiff.Format(old, @new, "x", "y");
        Assert.Contains("@@ -2,7 +2,7 @@", d);
        Assert.Contains("@@ -22,7 +22,7 @@", d);
    }

    [Fact]
    public void Edit_script_is_minimal_and_reconstructs_the_new_text()
    {
        var rnd = new Random(7);
        for (var round = 0; round < 200; round++)
        {
            var a = Enumerable.Range(0, rnd.Next(0, 30)).Select(_ => "l" + rnd.Next(5)).ToArray();
            var b = Enumerable.Range(0, rnd.Next(0, 30)).Select(_ => "l" + rnd.Next(5)).ToArray();
            var script = UnifiedDiff.Script(a, b);
            var rebuilt = script.Where(s => s.Op != '-').Select(s => s.Op == '+' ? b[s.B] : a[s.A]).ToArray();
            Assert.Equal(b, rebuilt);
            Assert.Equal(a, script.Where(s => s.Op != '+').Select(s => a[s.A]).ToArray());
            // Minimal: the number of kept lines is the LCS length.
            Assert.Equal(Lcs(a, b), script.Count(s => s.Op == '='));
        }
    }

    private static int Lcs(string[] a, string[] b)
    {
        var t = new int[a.Length + 1, b.Length + 1];
        for (var i = 1; i <= a.Length; i++)
            for (var j = 1; j <= b.Length; j++)
                t[i, j] = a[i - 1] == b[j - 1] ? t[i - 1, j - 1] + 1 : Math.Max(t[i - 1, j], t[i, j - 1]);
        return t[a.Length, b.Length];
    }

    [Fact]
    public void Mount_state_round_trips_the_documented_json()
    {
        var dir = Path.Combine(TempProject.Root, "cli-ms-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(Path.Combine(dir, ".lighthouse"));
        try
        {
            File.WriteAllText(MountState.PathFor(dir),
                """{"pid":1234,"mountPoint":"/mnt/lighthouse/project","projectDir":"/abs/project","startedUtc":"2026-11-25T18:00:00Z","protocol":"7.44","features":["AsyncRead","Passthrough"],"kernelPassthrough":true,"controlSocket":"/abs/project/.lighthouse/control.sock"}""");
            var s = MountState.Read(dir)!;
            Assert.Equal(1234, s.Pid);
            Assert.Equal(new DateTime(2026, 11, 25, 18, 0, 0, DateTimeKind.Utc), s.StartedUtc);
            Assert.Equal(DateTimeKind.Utc, s.StartedUtc.Kind);
            Assert.Equal(["AsyncRead", "Passthrough"], s.Features!);
            Assert.True(s.KernelPassthrough);
            Assert.Equal("/abs/project/.lighthouse/control.sock", s.ControlSocket);
            s.Write(dir);
            Assert.Equal("""{"pid":1234,"mountPoint":"/mnt/lighthouse/project","projectDir":"/abs/project","startedUtc":"2026-11-25T18:00:00Z","protocol":"7.44","features":["AsyncRead","Passthrough"],"kernelPassthrough":true,"controlSocket":"/abs/project/.lighthouse/control.sock"}""",
                File.ReadAllText(MountState.PathFor(dir)).Trim());
            Assert.Equal(s, MountState.Read(dir)! with { Features = s.Features });
            Assert.True(new MountState(Environment.ProcessId, "/m", dir, DateTime.UtcNow, null, null, false, null).IsAlive);
            Assert.False(new MountState(int.MaxValue - 1, "/m", dir, DateTime.UtcNow, null, null, false, null).IsAlive);
            File.WriteAllText(MountState.PathFor(dir), "{not json");
            Assert.Null(MountState.Read(dir));
            MountState.Delete(dir);
            MountState.Delete(dir);
            Assert.Null(MountState.Read(dir));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData("90s", 90)]
    [InlineData("10m", 600)]
    [InlineData("2h", 7200)]
    [InlineData("1d", 86400)]
    public void Durations(string text, int seconds)
    {
        Assert.True(LogCommand.TryDuration(text, out var span));
        Assert.Equal(TimeSpan.FromSeconds(seconds), span);
    }
}
