using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Lighthouse.Mount.Testing;
using Xunit.Abstractions;

namespace Lighthouse.Cli.Tests;

/// <summary>
/// `lighthouse mount` as a systemd Type=notify service (contrib/systemd/lighthouse@.service): READY=1 once the mount
/// answers, STOPPING=1 on SIGTERM, a clean unmount and exit 0; and `--background` for hosts without systemd.
/// </summary>
public sealed class ServiceTests(ITestOutputHelper output)
{
    private static string RepoRoot => LighthouseMountFixture.FindRepoRoot();
    private static string CliDll => Path.Combine(RepoRoot, ".build", "cli", "lighthouse.dll");

    private static bool Mounted(string mountPoint) =>
        File.ReadAllText("/proc/self/mountinfo").Contains(" " + mountPoint + " ", StringComparison.Ordinal);

    private static void RequireRoot()
    {
        if (Environment.UserName != "root" || !File.Exists("/dev/fuse"))
            throw new InvalidOperationException("the mount tests need root and /dev/fuse (CI runs them as root)");
    }

    [Fact]
    public void Mount_tells_systemd_ready_only_once_it_answers_and_stopping_on_sigterm_then_unmounts_and_exits_0()
    {
        RequireRoot();
        using var project = new TempProject();
        string mnt = Path.Combine(TempProject.Root, "svc-mnt-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(mnt);
        // An abstract socket, as systemd names them ("@…" in NOTIFY_SOCKET).
        string socketName = "lighthouse-test-notify-" + Guid.NewGuid().ToString("N")[..8];
        using var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint("\0" + socketName));
        var messages = new BlockingCollection<(string Text, bool Answering)>();
        var psi = new ProcessStartInfo("dotnet", [CliDll, "mount", project.Dir, mnt])
        {
            RedirectStandardError = true, RedirectStandardOutput = true,
        };
        psi.Environment["NOTIFY_SOCKET"] = "@" + socketName;
        var log = new StringBuilder();
        using var mount = Process.Start(psi)!;
        mount.ErrorDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
        mount.OutputDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
        mount.BeginErrorReadLine();
        mount.BeginOutputReadLine();
        var receiver = new Thread(() =>
        {
            var buffer = new byte[4096];
            try
            {
                while (true)
                {
                    int n = socket.Receive(buffer);
                    string text = Encoding.UTF8.GetString(buffer, 0, n);
                    // Looked at the moment the message arrives: does the mount answer?
                    bool answering = Mounted(mnt) && Directory.Exists(Path.Combine(mnt, "current")) &&
                        File.Exists(Path.Combine(mnt, "current", "README.md"));
                    messages.Add((text, answering));
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException) { messages.CompleteAdding(); }
        }) { IsBackground = true };
        receiver.Start();
        try
        {
            Assert.True(messages.TryTake(out var ready, TimeSpan.FromMinutes(3)), "no READY=1 within 3 minutes:\n" + log);
            Assert.Contains("READY=1", ready.Text.Split('\n'));
            Assert.True(ready.Answering, $"READY=1 came before the mount answered: {ready.Text}");
            Assert.Contains($"MAINPID={mount.Id}", ready.Text.Split('\n'));
            Assert.Contains(ready.Text.Split('\n'), l => l.StartsWith("STATUS=serving ", StringComparison.Ordinal));
            File.WriteAllText(Path.Combine(mnt, "current", "service.txt"), "served\n");

            Assert.Equal(0, LighthouseMountFixture.Run("kill", $"-TERM {mount.Id}").Code);
            Assert.True(messages.TryTake(out var stopping, TimeSpan.FromSeconds(30)), "no STOPPING=1 after SIGTERM:\n" + log);
            Assert.Contains("STOPPING=1", stopping.Text.Split('\n'));
            Assert.True(mount.WaitForExit(TimeSpan.FromSeconds(60)), "the mount did not exit after SIGTERM:\n" + log);
            mount.WaitForExit();
            Assert.True(mount.ExitCode == 0, $"exit {mount.ExitCode}:\n{log}");
            Assert.False(Mounted(mnt), "still mounted after SIGTERM");
            // What was written before the stop is on disk and in the record.
            Assert.Equal("served\n", File.ReadAllText(project.PathOf("service.txt")));
            Assert.Contains("service.txt", project.Cli("log", "--json").Out);
            lock (log) output.WriteLine(log.ToString());
        }
        finally
        {
            if (!mount.HasExited) { mount.Kill(); mount.WaitForExit(); }
            if (Mounted(mnt)) LighthouseMountFixture.Run("umount", $"-l {mnt}");
            socket.Dispose();
            try { Directory.Delete(mnt); } catch (IOException) { }
        }
    }

    [Fact]
    public void The_unit_passes_systemd_analyze_verify()
    {
        string unit = Path.Combine(RepoRoot, "contrib", "systemd", "lighthouse@.service");
        Assert.True(File.Exists(unit), unit);
        string text = File.ReadAllText(unit);
        foreach (var line in new[] { "Type=notify", "Restart=on-failure", "KillSignal=SIGTERM", "ExecStart=/usr/local/bin/lighthouse mount ${PROJECT} ${MOUNTPOINT} $OPTIONS" })
            Assert.Contains(line, text.Split('\n'));
        if (!File.Exists("/usr/bin/systemd-analyze") && !File.Exists("/bin/systemd-analyze"))
        {
            output.WriteLine("systemd-analyze is not installed: the unit's syntax was not verified by systemd (only its key lines)");
            return;
        }
        // verify checks that ExecStart's program exists: point it at this checkout's ./lighthouse, as an install would.
        string dir = Path.Combine(TempProject.Root, "unit-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        try
        {
            string copy = Path.Combine(dir, "lighthouse@demo.service");
            File.WriteAllText(copy, text.Replace("/usr/local/bin/lighthouse", Path.Combine(RepoRoot, "lighthouse")));
            var (code, result) = LighthouseMountFixture.Run("systemd-analyze", $"verify {copy}");
            Assert.True(code == 0 && result.Trim().Length == 0, $"systemd-analyze verify: exit {code}\n{result}");
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Mount_in_the_background_returns_once_mounted_and_unmount_ends_it()
    {
        RequireRoot();
        using var project = new TempProject();
        string mnt = Path.Combine(TempProject.Root, "bg-mnt-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(mnt);
        try
        {
            var (code, text) = LighthouseMountFixture.Run("dotnet", $"{CliDll} mount {project.Dir} {mnt} --background");
            Assert.True(code == 0, text);
            Assert.True(Mounted(mnt), text);
            Assert.True(File.Exists(Path.Combine(mnt, "current", "README.md")));
            Assert.Contains("\"alive\": true", File.ReadAllText(Path.Combine(mnt, "debug", "health.json")));
            var (unmountCode, unmounted) = LighthouseMountFixture.Run("dotnet", $"{CliDll} unmount {mnt}");
            Assert.True(unmountCode == 0, unmounted);
            Assert.False(Mounted(mnt));
        }
        finally
        {
            if (Mounted(mnt)) LighthouseMountFixture.Run("umount", $"-l {mnt}");
            try { Directory.Delete(mnt); } catch (IOException) { }
        }
    }
}
