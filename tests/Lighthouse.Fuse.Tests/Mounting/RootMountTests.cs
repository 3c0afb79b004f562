using Lighthouse.Fuse.Mounting;
using Lighthouse.Interop;

namespace Lighthouse.Fuse.Tests.Mounting;

/// <summary>
/// Mounting as root, with no FUSE server: nobody answers the kernel's INIT, so these tests only read
/// /proc/self/mountinfo and never stat a live mount point (that would block forever).
/// </summary>
[Collection(MountingCollection.Name)]
public sealed class RootMountTests
{
    private static MountInfoEntry Entry(string mountPoint) =>
        MountInfo.Find(mountPoint) ?? throw new Xunit.Sdk.XunitException($"{mountPoint} is not in /proc/self/mountinfo");

    private static MountOptions FullOptions(MountMethod method, string? helper = null) => new()
    {
        FsName = "lh-test-" + method.ToString().ToLowerInvariant(),
        Subtype = "lhtest",
        AllowOther = true,
        DefaultPermissions = true,
        ReadOnly = true,
        MaxRead = 65536,
        Method = method,
        HelperPath = helper,
    };

    /// <summary>Mounts with every option, checks mountinfo field by field, unmounts, checks it is gone.</summary>
    private static void MountCheckUnmount(MountMethod method, MountMethod expectedMethod, string? helper = null)
    {
        MountEnv.RequireMounting();
        using MountPointScope mp = MountEnv.NewMountPoint();
        MountOptions options = FullOptions(method, helper);
        FuseMountHandle h = FuseMounter.Mount(mp.Path, options);
        try
        {
            Assert.Equal(expectedMethod, h.Method);
            Assert.Equal(mp.Path, h.MountPoint);
            Assert.True(h.DeviceFd >= 0);
            Assert.True(FuseMounter.IsMounted(mp.Path));

            MountInfoEntry e = Entry(mp.Path);
            Assert.Equal("fuse.lhtest", e.FsType);
            Assert.Equal(options.FsName, e.Source);
            Assert.Contains("ro", e.MountOptions.Split(','));
            Assert.Contains("nosuid", e.MountOptions.Split(','));
            Assert.Contains("nodev", e.MountOptions.Split(','));
            string[] super = e.SuperOptions.Split(',');
            Assert.Contains("allow_other", super);
            Assert.Contains("default_permissions", super);
            Assert.Contains("max_read=65536", super);
            Assert.Contains("user_id=0", super);
            Assert.Contains("group_id=0", super);
            Assert.Equal(e.MountId, h.MountId);

            h.Unmount();
            Assert.False(FuseMounter.IsMounted(mp.Path), $"{mp.Path} is still mounted after Unmount()");
            h.Unmount(); // idempotent
        }
        finally
        {
            h.Dispose();
        }
        Assert.False(FuseMounter.IsMounted(mp.Path));
    }

    [MountFact]
    public void Direct_MountsWithAllOptions_AndUnmounts() => MountCheckUnmount(MountMethod.Direct, MountMethod.Direct);

    [MountFact]
    public void Auto_AsRoot_MountsDirectly() => MountCheckUnmount(MountMethod.Auto, MountMethod.Direct);

    [MountFact]
    public void Fusermount3_AsRoot_MountsWithAllOptions_AndUnmounts()
    {
        Assert.True(FuseMounter.FindInPath("fusermount3") is not null, "fusermount3 is not installed (apt-get install -y fuse3)");
        MountCheckUnmount(MountMethod.Fusermount3, MountMethod.Fusermount3);
    }

    [MountFact]
    public void Fusermount2_AsRoot_MountsWithAllOptions_AndUnmounts()
    {
        MountEnv.RequireMounting();
        MountCheckUnmount(MountMethod.Fusermount, MountMethod.Fusermount, MountEnv.Fusermount2);
    }

    [MountFact]
    public void Direct_Defaults_ArePlainFuse_ReadWrite_WithoutExtraOptions()
    {
        MountEnv.RequireMounting();
        using MountPointScope mp = MountEnv.NewMountPoint();
        using (FuseMountHandle h = FuseMounter.Mount(mp.Path, new MountOptions { Method = MountMethod.Direct }))
        {
            MountInfoEntry e = Entry(mp.Path);
            Assert.Equal("fuse", e.FsType);
            Assert.Equal("lighthouse", e.Source);
            Assert.Contains("rw", e.MountOptions.Split(','));
            Assert.DoesNotContain("allow_other", e.SuperOptions.Split(','));
            Assert.DoesNotContain("default_permissions", e.SuperOptions.Split(','));
        }
        Assert.False(FuseMounter.IsMounted(mp.Path));
    }

    [MountFact]
    public void Unmount_OfAMountSomeoneElseRemoved_IsFine()
    {
        MountEnv.RequireMounting();
        using MountPointScope mp = MountEnv.NewMountPoint();
        using FuseMountHandle h = FuseMounter.Mount(mp.Path, new MountOptions { Method = MountMethod.Direct });
        Assert.Equal(0, Libc.Umount2(mp.Path, 0));
        h.Unmount();
        Assert.False(FuseMounter.IsMounted(mp.Path));
    }

    [MountFact]
    public void AutoWithAutoUnmount_AsRoot_PrefersTheHelper()
    {
        MountEnv.RequireMounting();
        Assert.True(FuseMounter.FindInPath("fusermount3") is not null, "fusermount3 is not installed (apt-get install -y fuse3)");
        using MountPointScope mp = MountEnv.NewMountPoint();
        using FuseMountHandle h = FuseMounter.Mount(mp.Path, new MountOptions { AutoUnmount = true });
        Assert.Equal(MountMethod.Fusermount3, h.Method);
    }

    [MountFact]
    public void DirectWithAutoUnmount_IsRefusedWithAnExplanation()
    {
        MountEnv.RequireMounting();
        using MountPointScope mp = MountEnv.NewMountPoint();
        var ex = Assert.Throws<FuseMountException>(() =>
            FuseMounter.Mount(mp.Path, new MountOptions { Method = MountMethod.Direct, AutoUnmount = true }));
        Assert.Contains("auto_unmount", ex.Message);
        Assert.Contains("helper", ex.Message);
        Assert.False(FuseMounter.IsMounted(mp.Path));
    }

    [MountFact]
    public void MountOnMissingDirectory_FailsClearly_WithEveryMethod()
    {
        MountEnv.RequireMounting();
        using MountPointScope mp = MountEnv.NewMountPoint();
        string missing = Path.Combine(mp.Path, "does-not-exist");
        foreach (MountMethod method in new[] { MountMethod.Auto, MountMethod.Direct, MountMethod.Fusermount3 })
        {
            var ex = Assert.Throws<FuseMountException>(() => FuseMounter.Mount(missing, new MountOptions { Method = method }));
            Assert.Contains(missing, ex.Message);
            Assert.Contains("No such file or directory", ex.Message);
            Assert.Contains("mkdir", ex.Message);
            Assert.Equal(2, ex.Errno); // ENOENT
        }
    }

    [MountFact]
    public void MountOnAFile_FailsClearly()
    {
        MountEnv.RequireMounting();
        using MountPointScope mp = MountEnv.NewMountPoint();
        string file = Path.Combine(mp.Path, "file");
        File.WriteAllText(file, "x");
        var ex = Assert.Throws<FuseMountException>(() => FuseMounter.Mount(file, new MountOptions { Method = MountMethod.Direct }));
        Assert.Contains("not a directory", ex.Message);
    }

    [MountFact]
    public void MissingHelper_FailsClearly()
    {
        MountEnv.RequireMounting();
        using MountPointScope mp = MountEnv.NewMountPoint();
        var ex = Assert.Throws<FuseMountException>(() => FuseMounter.Mount(mp.Path,
            new MountOptions { Method = MountMethod.Fusermount3, HelperPath = "/nonexistent/fusermount3" }));
        Assert.Contains("/nonexistent/fusermount3", ex.Message);
        Assert.Contains("does not exist", ex.Message);
    }

    /// <summary>
    /// Closing the device fd without unmounting (a crashed daemon) leaves a stale mount: stat gives
    /// ENOTCONN. Mount refuses it with a clear message, CleanUpStale removes it, and mounting works again.
    /// </summary>
    private static void StaleMountIsCleanedUp(MountMethod method, string? helper = null)
    {
        MountEnv.RequireMounting();
        using MountPointScope mp = MountEnv.NewMountPoint();
        var options = new MountOptions { Method = method, HelperPath = helper, FsName = "lh-stale" };
        FuseMountHandle first = FuseMounter.Mount(mp.Path, options);
        try
        {
            first.AbandonWithoutUnmount();
            Assert.True(FuseMounter.IsMounted(mp.Path), "the abandoned mount should still be there");

            var refused = Assert.Throws<FuseMountException>(() => FuseMounter.Mount(mp.Path, options));
            Assert.Contains("stale", refused.Message);
            Assert.Contains("CleanUpStale", refused.Message);
            Assert.Equal(107, refused.Errno); // ENOTCONN

            StaleMountCleanup r = FuseMounter.CleanUpStale(mp.Path);
            Assert.True(r.WasStale, r.Message);
            Assert.True(r.CleanedUp, r.Message);
            Assert.Contains(mp.Path, r.Message);
            Assert.Contains("stale", r.Message);
            Assert.Contains("not connected", r.Message);
            Assert.False(FuseMounter.IsMounted(mp.Path));

            using FuseMountHandle second = FuseMounter.Mount(mp.Path, options);
            Assert.True(FuseMounter.IsMounted(mp.Path));
            second.Unmount();
            Assert.False(FuseMounter.IsMounted(mp.Path));
        }
        finally
        {
            first.Dispose();
        }
    }

    [MountFact]
    public void StaleMount_Direct_IsCleanedUp_AndMountingAgainWorks() => StaleMountIsCleanedUp(MountMethod.Direct);

    [MountFact]
    public void StaleMount_Fusermount3_IsCleanedUp_AndMountingAgainWorks() => StaleMountIsCleanedUp(MountMethod.Fusermount3);

    [MountFact]
    public void StaleMounts_StackedTwice_AreAllCleanedUp()
    {
        MountEnv.RequireMounting();
        using MountPointScope mp = MountEnv.NewMountPoint();
        // The kernel lets mount(2) stack a second FUSE mount on a stale one; Mount() itself refuses, so use the raw call.
        FuseMounter.Mount(mp.Path, new MountOptions { Method = MountMethod.Direct }).AbandonWithoutUnmount();
        int fd = Libc.Open("/dev/fuse", Libc.O_RDWR | Libc.O_CLOEXEC, 0);
        Assert.True(fd >= 0);
        Assert.Equal(0, Libc.Mount("lh-stack", mp.Path, "fuse", Libc.MS_NOSUID | Libc.MS_NODEV,
                                      $"fd={fd},rootmode=40000,user_id=0,group_id=0"));
        Libc.Close(fd);
        Assert.Equal(2, MountEnv.MountsUnder(mp.Path).Count);

        StaleMountCleanup r = FuseMounter.CleanUpStale(mp.Path);
        Assert.True(r.WasStale && r.CleanedUp, r.Message);
        Assert.False(FuseMounter.IsMounted(mp.Path), r.Message);
    }

    [MountFact]
    public void CleanUpStale_LeavesLiveAndAbsentMountsAlone()
    {
        MountEnv.RequireMounting();
        using MountPointScope mp = MountEnv.NewMountPoint();

        StaleMountCleanup nothing = FuseMounter.CleanUpStale(mp.Path);
        Assert.False(nothing.WasStale);
        Assert.False(nothing.CleanedUp);
        Assert.Contains("Nothing is mounted", nothing.Message);

        // A mount whose INIT nobody answers is alive as far as the kernel knows: probing must not hang, nor unmount it.
        using FuseMountHandle h = FuseMounter.Mount(mp.Path, new MountOptions { Method = MountMethod.Direct });
        StaleMountCleanup live = FuseMounter.CleanUpStale(mp.Path);
        Assert.False(live.WasStale, live.Message);
        Assert.False(live.CleanedUp, live.Message);
        Assert.Contains("does not answer", live.Message);
        Assert.True(FuseMounter.IsMounted(mp.Path));

        var refused = Assert.Throws<FuseMountException>(() => FuseMounter.Mount(mp.Path, new MountOptions { Method = MountMethod.Direct }));
        Assert.Contains("already has a FUSE filesystem", refused.Message);
    }

    /// <summary>auto_unmount: the helper stays alive and unmounts once our end of its socket closes, as on a crash.</summary>
    private static void AutoUnmountOnCrash(MountMethod method, string? helper)
    {
        MountEnv.RequireMounting();
        using MountPointScope mp = MountEnv.NewMountPoint();
        FuseMountHandle h = FuseMounter.Mount(mp.Path, new MountOptions { Method = method, HelperPath = helper, AutoUnmount = true });
        try
        {
            Assert.Equal(method, h.Method);
            Assert.True(FuseMounter.IsMounted(mp.Path));
            h.AbandonWithoutUnmount();
            Assert.True(MountEnv.WaitFor(() => !FuseMounter.IsMounted(mp.Path), TimeSpan.FromSeconds(10)),
                $"the {method} helper did not auto-unmount {mp.Path}");
        }
        finally
        {
            h.Dispose();
        }
    }

    [MountFact]
    public void AutoUnmount_Fusermount3_UnmountsWhenTheProcessGoesAway() =>
        AutoUnmountOnCrash(MountMethod.Fusermount3, null);

    [MountFact]
    public void AutoUnmount_Fusermount2_UnmountsWhenTheProcessGoesAway()
    {
        MountEnv.RequireMounting();
        AutoUnmountOnCrash(MountMethod.Fusermount, MountEnv.Fusermount2);
    }

    [MountFact]
    public void AutoUnmount_CleanUnmount_Works()
    {
        MountEnv.RequireMounting();
        using MountPointScope mp = MountEnv.NewMountPoint();
        using (FuseMountHandle h = FuseMounter.Mount(mp.Path, new MountOptions { Method = MountMethod.Fusermount3, AutoUnmount = true }))
        {
            Assert.True(FuseMounter.IsMounted(mp.Path));
        }
        Assert.False(FuseMounter.IsMounted(mp.Path));
    }
}
