using Lighthouse.Fuse.Mounting;

namespace Lighthouse.Fuse.Tests.Mounting;

/// <summary>
/// Mounting as a normal user (nobody, uid 65534) through the setuid helpers: fusermount3 from fuse3,
/// and FUSE 2's fusermount unpacked from Debian's fuse package (which conflicts with fuse3, so it is
/// not installed). The library runs in tests/Lighthouse.Fuse.MountProbe, started with setpriv; the
/// test (root) checks /proc/self/mountinfo.
/// </summary>
[Collection(MountingCollection.Name)]
public sealed class UnprivilegedMountTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    public UnprivilegedMountTests()
    {
        if (MountEnv.WhyCannotMount() is not null) return;
        UserAccess.EnsureDeviceUsableByUsers();
    }

    private static MountInfoEntry Entry(string mountPoint) =>
        MountInfo.Find(mountPoint) ?? throw new Xunit.Sdk.XunitException($"{mountPoint} is not in /proc/self/mountinfo");

    private static void MountAsUserCheckUnmount(string expectedMethod, params string[] extra)
    {
        MountEnv.RequireMounting();
        using MountPointScope mp = MountEnv.NewMountPoint(MountEnv.UserId, MountEnv.GroupId);
        string[] args = ["mount", mp.Path, "--fsname", "lh-user", "--subtype", "lhtest", "--ro", "--default-permissions", .. extra];
        using UserProbe probe = UserProbe.Start(args);
        string line = probe.ReadLine(Wait);
        Assert.StartsWith($"MOUNTED method={expectedMethod} ", line);
        Assert.Contains("user=nobody", line);

        MountInfoEntry e = Entry(mp.Path);
        Assert.Equal("fuse.lhtest", e.FsType);
        Assert.Equal("lh-user", e.Source);
        Assert.Contains("ro", e.MountOptions.Split(','));
        string[] super = e.SuperOptions.Split(',');
        Assert.Contains($"user_id={MountEnv.UserId}", super);
        Assert.Contains($"group_id={MountEnv.GroupId}", super);
        Assert.Contains("default_permissions", super);

        probe.Send("unmount");
        Assert.Equal("UNMOUNTED", probe.ReadLine(Wait));
        Assert.False(FuseMounter.IsMounted(mp.Path), $"{mp.Path} is still mounted after the user's Unmount()");
    }

    [MountFact]
    public void Auto_AsUser_MountsThroughFusermount3_AndUnmounts()
    {
        Assert.True(FuseMounter.FindInPath("fusermount3") is not null, "fusermount3 is not installed (apt-get install -y fuse3)");
        MountAsUserCheckUnmount("Fusermount3");
    }

    [MountFact]
    public void Fusermount2_AsUser_Mounts_AndUnmounts()
    {
        MountEnv.RequireMounting();
        MountAsUserCheckUnmount("Fusermount", "--method", "fusermount", "--helper", MountEnv.Fusermount2);
    }

    [MountFact]
    public void Auto_AsUser_FallsBackToFuse2Fusermount_WhenThereIsNoFusermount3()
    {
        MountEnv.RequireMounting();
        // A PATH whose only helper is FUSE 2's fusermount.
        string bin = Path.Combine(MountEnv.RunDir, "path-fuse2-only");
        Directory.CreateDirectory(bin);
        string link = Path.Combine(bin, "fusermount");
        if (!File.Exists(link)) File.CreateSymbolicLink(link, MountEnv.Fusermount2);
        File.SetUnixFileMode(bin, (UnixFileMode)0x1ED);

        using MountPointScope mp = MountEnv.NewMountPoint(MountEnv.UserId, MountEnv.GroupId);
        using UserProbe probe = UserProbe.StartWithEnv(new Dictionary<string, string> { ["PATH"] = bin }, "mount", mp.Path);
        Assert.StartsWith("MOUNTED method=Fusermount ", probe.ReadLine(Wait));
        Assert.Contains($"user_id={MountEnv.UserId}", Entry(mp.Path).SuperOptions.Split(','));
        probe.Send("unmount");
        Assert.Equal("UNMOUNTED", probe.ReadLine(Wait));
        Assert.False(FuseMounter.IsMounted(mp.Path));
    }

    [MountFact]
    public void Auto_AsUser_WithoutAnyHelper_SaysToInstallFuse3()
    {
        MountEnv.RequireMounting();
        string empty = Path.Combine(MountEnv.RunDir, "path-empty");
        Directory.CreateDirectory(empty);
        File.SetUnixFileMode(empty, (UnixFileMode)0x1ED);
        using MountPointScope mp = MountEnv.NewMountPoint(MountEnv.UserId, MountEnv.GroupId);
        string line = UserProbe.RunOnceWithEnv(new Dictionary<string, string> { ["PATH"] = empty }, "mount", mp.Path);
        Assert.StartsWith("ERROR ", line);
        Assert.Contains("neither fusermount3 nor fusermount", line);
        Assert.Contains("install fuse3", line);
        Assert.False(FuseMounter.IsMounted(mp.Path));
    }

    [MountFact]
    public void Direct_AsUser_FailsWithAClearMessage()
    {
        MountEnv.RequireMounting();
        using MountPointScope mp = MountEnv.NewMountPoint(MountEnv.UserId, MountEnv.GroupId);
        string line = UserProbe.RunOnce("mount", mp.Path, "--method", "direct");
        Assert.StartsWith("ERROR ", line);
        Assert.Contains("direct mount(2)", line);
        Assert.Contains("fusermount3", line); // the hint
        Assert.False(FuseMounter.IsMounted(mp.Path));
    }

    [MountFact]
    public void AllowOther_AsUser_NeedsUserAllowOther_AndSaysSo()
    {
        MountEnv.RequireMounting();
        using MountPointScope mp = MountEnv.NewMountPoint(MountEnv.UserId, MountEnv.GroupId);
        if (MountEnv.UserAllowOtherEnabled())
        {
            using UserProbe probe = UserProbe.Start("mount", mp.Path, "--allow-other");
            Assert.StartsWith("MOUNTED ", probe.ReadLine(Wait));
            Assert.Contains("allow_other", Entry(mp.Path).SuperOptions.Split(','));
            return;
        }
        string line = UserProbe.RunOnce("mount", mp.Path, "--allow-other");
        Assert.StartsWith("ERROR ", line);
        // Said once, in our words (the next helper would read the same file): which file, and which line to add.
        Assert.Contains("only if /etc/fuse.conf has the line user_allow_other. Add that line to /etc/fuse.conf", line);
        Assert.DoesNotContain("Tried:", line);
        Assert.False(FuseMounter.IsMounted(mp.Path));
    }

    [MountFact]
    public void MountPointNotOwnedByTheUser_FailsWithAHint()
    {
        MountEnv.RequireMounting();
        using MountPointScope mp = MountEnv.NewMountPoint(); // owned by root, mode 0755
        string line = UserProbe.RunOnce("mount", mp.Path, "--method", "fusermount3");
        Assert.StartsWith("ERROR ", line);
        Assert.Contains("Hint:", line);
        Assert.False(FuseMounter.IsMounted(mp.Path));
    }

    /// <summary>The user's daemon dies without unmounting; the user cleans the stale mount up through the helper.</summary>
    private static void StaleCleanedUpByUser(params string[] extra)
    {
        MountEnv.RequireMounting();
        using MountPointScope mp = MountEnv.NewMountPoint(MountEnv.UserId, MountEnv.GroupId);
        using (UserProbe probe = UserProbe.Start(["mount", mp.Path, .. extra]))
        {
            Assert.StartsWith("MOUNTED ", probe.ReadLine(Wait));
            probe.Send("crash");
            Assert.True(probe.WaitForExit(Wait), "the probe did not exit on 'crash'");
        }
        Assert.True(FuseMounter.IsMounted(mp.Path), "the crashed probe's mount should be left behind");

        string line = UserProbe.RunOnce("cleanup", mp.Path);
        Assert.StartsWith("CLEANUP wasStale=True cleanedUp=True ", line);
        Assert.Contains("stale", line);
        Assert.Contains("-u -z", line); // a normal user unmounts through the helper
        Assert.False(FuseMounter.IsMounted(mp.Path));
    }

    [MountFact]
    public void StaleMount_OfAUser_IsCleanedUpByThatUser_ThroughFusermount3() => StaleCleanedUpByUser();

    [MountFact]
    public void StaleMount_OfAUser_IsDetectedAndCleanedUpByRoot()
    {
        // Root cannot stat another user's FUSE mount (EACCES without asking the daemon); CleanUpStale
        // probes it with the owner's credentials on a thread of its own.
        MountEnv.RequireMounting();
        using MountPointScope mp = MountEnv.NewMountPoint(MountEnv.UserId, MountEnv.GroupId);
        using (UserProbe probe = UserProbe.Start("mount", mp.Path, "--method", "fusermount", "--helper", MountEnv.Fusermount2))
        {
            Assert.StartsWith("MOUNTED method=Fusermount ", probe.ReadLine(Wait));
            probe.Send("crash");
            Assert.True(probe.WaitForExit(Wait), "the probe did not exit on 'crash'");
        }
        Assert.True(FuseMounter.IsMounted(mp.Path));

        StaleMountCleanup r = FuseMounter.CleanUpStale(mp.Path);
        Assert.True(r.WasStale, r.Message);
        Assert.True(r.CleanedUp, r.Message);
        Assert.False(FuseMounter.IsMounted(mp.Path));
    }

    /// <summary>auto_unmount for a normal user: when the user's process dies the mount goes away by itself.</summary>
    private static void AutoUnmountAsUser(params string[] extra)
    {
        MountEnv.RequireMounting();
        using MountPointScope mp = MountEnv.NewMountPoint(MountEnv.UserId, MountEnv.GroupId);
        using (UserProbe probe = UserProbe.Start(["mount", mp.Path, "--auto-unmount", .. extra]))
        {
            Assert.StartsWith("MOUNTED ", probe.ReadLine(Wait));
            Assert.True(FuseMounter.IsMounted(mp.Path));
            probe.Send("crash");
            Assert.True(probe.WaitForExit(Wait), "the probe did not exit on 'crash'");
        }
        Assert.True(MountEnv.WaitFor(() => !FuseMounter.IsMounted(mp.Path), TimeSpan.FromSeconds(10)),
            $"{mp.Path} was not auto-unmounted after the user's process died");
    }

    [MountFact]
    public void AutoUnmount_AsUser_Fusermount3_UnmountsWhenTheProcessDies() => AutoUnmountAsUser();

    [MountFact]
    public void AutoUnmount_AsUser_Fusermount2_UnmountsWhenTheProcessDies()
    {
        MountEnv.RequireMounting();
        AutoUnmountAsUser("--method", "fusermount", "--helper", MountEnv.Fusermount2);
    }
}

internal static class UserAccess
{
    private static readonly object s_gate = new();
    private static bool s_done;

    /// <summary>
    /// fusermount opens /dev/fuse with the caller's identity, so a normal user needs it readable and
    /// writable: distributions ship it as crw-rw-rw-. Some sandboxes make it 0600; put it back to 0666.
    /// </summary>
    public static void EnsureDeviceUsableByUsers()
    {
        lock (s_gate)
        {
            if (s_done) return;
            UnixFileMode mode = File.GetUnixFileMode("/dev/fuse");
            const UnixFileMode rw = UnixFileMode.OtherRead | UnixFileMode.OtherWrite;
            if ((mode & rw) != rw)
                File.SetUnixFileMode("/dev/fuse", mode | rw | UnixFileMode.GroupRead | UnixFileMode.GroupWrite);
            s_done = true;
        }
    }
}
