using System.Diagnostics;
using Lighthouse.Cli.Commands;
using Lighthouse.Interop;

namespace Lighthouse.Cli.Tests;

/// <summary>`lighthouse passthrough` as its own process, started the way a user would start it.</summary>
public sealed class SchedulingTests
{
    private static bool IsMounted(string mountPoint) =>
        File.ReadAllLines("/proc/self/mountinfo").Any(line => line.Split(' ')[4] == mountPoint);

    /// <summary>The scheduling policy of each of the process's threads named <paramref name="prefix"/>*.</summary>
    private static List<string> Policies(int pid, string prefix) =>
        Directory.GetDirectories($"/proc/{pid}/task")
            .Where(task => File.ReadAllText(Path.Combine(task, "comm")).Trim().StartsWith(prefix, StringComparison.Ordinal))
            .Select(task => File.ReadAllLines(Path.Combine(task, "sched")).First(l => l.StartsWith("policy", StringComparison.Ordinal)).Split(':')[1].Trim())
            .ToList();

    [Fact]
    public void A_scheduling_policy_given_at_start_is_kept_by_the_ring_threads()
    {
        // `chrt --batch 0 lighthouse ...`: the ring threads must not switch themselves back to SCHED_OTHER
        // after replying at idle priority (they keep what they were given).
        if (Environment.UserName != "root") throw new InvalidOperationException("needs root (CI runs tests as root)");
        string root = Path.Combine("/tmp/lighthouse-tests", "sched-" + Guid.NewGuid().ToString("N")[..10]);
        string src = Path.Combine(root, "src"), mnt = Path.Combine(root, "mnt");
        Directory.CreateDirectory(src);
        Directory.CreateDirectory(mnt);
        var psi = new ProcessStartInfo("chrt", ["--batch", "0", "dotnet", typeof(MountCommand).Assembly.Location, "passthrough", src, mnt])
        { RedirectStandardError = true, RedirectStandardOutput = true };
        using var server = Process.Start(psi)!;
        try
        {
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (!IsMounted(mnt))
            {
                if (server.HasExited) Assert.Fail($"lighthouse exited: {server.StandardError.ReadToEnd()}");
                Assert.True(DateTime.UtcNow < deadline, "not mounted within 30 s");
                Thread.Sleep(50);
            }
            List<string> ring = [];
            for (int i = 0; i < 500; i++)
            {
                File.Exists(Path.Combine(mnt, $"absent-{i}")); // a LOOKUP each (negative entries are cached 1 s, names differ)
                if (i % 50 == 49 && (ring = Policies(server.Id, "fuse-ring")).Count > 0 && ring.Any(p => p != "3")) break;
            }
            Assert.NotEmpty(ring); // io_uring queues serve (the kernel switches to them a moment after INIT)
            Assert.All(ring, policy => Assert.Equal("3", policy)); // SCHED_BATCH
            Assert.All(Policies(server.Id, "fuse-worker"), policy => Assert.Equal("3", policy));
        }
        finally
        {
            if (!server.HasExited) Libc.Kill(server.Id, Libc.SIGTERM); // unmounts
            if (!server.WaitForExit(20_000)) server.Kill();
            if (IsMounted(mnt)) Process.Start("umount", ["-l", mnt])!.WaitForExit();
            try { Directory.Delete(root, true); } catch (IOException) { }
        }
    }
}
