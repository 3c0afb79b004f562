namespace Lighthouse.FileSystem.Tests;

public class CrashTests
{
    [Fact]
    public void A_killed_mount_leaves_no_stale_mount_for_the_next_one_and_loses_no_data()
    {
        using var mount = new LighthouseMountFixture();
        string file = Path.Combine(mount.Current, "precious.txt");
        File.WriteAllText(file, "written just before the crash\n");
        mount.Crash(); // SIGKILL: no unmount, the kernel keeps a dead mount

        // The mountpoint now answers ENOTCONN ("Transport endpoint is not connected"), or ECONNABORTED
        // ("Software caused connection abort") when requests went through io_uring.
        var stale = Assert.ThrowsAny<IOException>(() => Directory.GetFileSystemEntries(mount.MountPoint));
        Assert.True(stale.Message.Contains("not connected") || stale.Message.Contains("connection abort"), stale.Message);

        mount.Start(); // the next mount must clean up and say so
        Assert.Contains("stale", mount.Log, StringComparison.OrdinalIgnoreCase);
        Assert.Equal("written just before the crash\n", File.ReadAllText(file));
        Assert.Equal("written just before the crash\n", File.ReadAllText(Path.Combine(mount.Project, "precious.txt")));
        // What the crash kept out of the log is found by reconciliation on the way back up, or was recorded before.
        mount.WaitForEvent(e => e.Path == "precious.txt" && e.Op is "write" or "create");
        Assert.Equal(0, mount.Stop());
    }
}
