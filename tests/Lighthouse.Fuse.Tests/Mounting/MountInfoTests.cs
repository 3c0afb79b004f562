using Lighthouse.Fuse.Mounting;

namespace Lighthouse.Fuse.Tests.Mounting;

/// <summary>Parsing and option building: no mounting, runs anywhere.</summary>
public sealed class MountInfoTests
{
    [Fact]
    public void ParseLine_ReadsFieldsAndDecodesOctalEscapes()
    {
        MountInfoEntry? e = MountInfo.ParseLine(
            @"43 27 0:40 / /tmp/with\040space\011tab rw,nosuid,nodev,relatime shared:12 master:3 - fuse.lhtest my\040fs rw,user_id=0,group_id=0,default_permissions,allow_other");

        Assert.NotNull(e);
        Assert.Equal(43, e.MountId);
        Assert.Equal(27, e.ParentId);
        Assert.Equal(0u, e.Major);
        Assert.Equal(40u, e.Minor);
        Assert.Equal("/", e.Root);
        Assert.Equal("/tmp/with space\ttab", e.MountPoint);
        Assert.Equal("fuse.lhtest", e.FsType);
        Assert.Equal("my fs", e.Source);
        Assert.True(e.IsFuse);
        Assert.True(e.HasOption("nosuid"));
        Assert.True(e.HasOption("allow_other"));
        Assert.True(e.HasOption("default_permissions"));
        Assert.False(e.HasOption("ro"));
        Assert.Equal("0", e.SuperOption("user_id"));
        Assert.Null(e.SuperOption("max_read"));
    }

    [Fact]
    public void ParseLine_WithoutOptionalFields_AndNonFuse()
    {
        MountInfoEntry? e = MountInfo.ParseLine("22 1 254:1 / / rw,relatime - ext4 /dev/vda rw");
        Assert.NotNull(e);
        Assert.Equal("/", e.MountPoint);
        Assert.Equal("ext4", e.FsType);
        Assert.Equal("/dev/vda", e.Source);
        Assert.False(e.IsFuse);
    }

    [Theory]
    [InlineData("")]
    [InlineData("garbage")]
    [InlineData("1 2 3:4 / /x rw no-separator ext4 src rw")]
    [InlineData("x 2 3:4 / /x rw - ext4 src rw")]
    public void ParseLine_RejectsMalformedLines(string line) => Assert.Null(MountInfo.ParseLine(line));

    [Theory]
    [InlineData(@"plain", "plain")]
    [InlineData(@"a\040b", "a b")]
    [InlineData(@"back\134slash", @"back\slash")]
    [InlineData(@"new\012line", "new\nline")]
    [InlineData(@"not\04escape", @"not\04escape")]
    [InlineData(@"tr\303\251s", "trés")]
    public void Unescape_DecodesKernelOctalEscapes(string raw, string expected) =>
        Assert.Equal(expected, MountInfo.Unescape(raw));

    [Fact]
    public void Read_SelfMountinfo_ContainsRoot()
    {
        Assert.Contains(MountInfo.Read(), e => e.MountPoint == "/");
        Assert.True(FuseMounter.IsMounted("/"));
    }

    [Fact]
    public void IsMounted_IsFalseForAPlainDirectory()
    {
        string dir = Directory.CreateTempSubdirectory("lh-mountinfo-").FullName;
        try
        {
            Assert.False(FuseMounter.IsMounted(dir));
            Assert.False(FuseMounter.IsMounted(Path.Combine(dir, "missing")));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void Canonicalize_ResolvesTheParentsSymlinks_ButNotTheLastComponent()
    {
        string dir = Directory.CreateTempSubdirectory("lh-canon-").FullName;
        try
        {
            string real = Path.Combine(dir, "real");
            Directory.CreateDirectory(real);
            string link = Path.Combine(dir, "link");
            Directory.CreateSymbolicLink(link, real);

            // The last component need not exist, and is never resolved (it may be a hung mount).
            Assert.Equal(Path.Combine(real, "mnt"), FuseMounter.Canonicalize(Path.Combine(link, "mnt")));
            Assert.Equal(Path.Combine(real, "mnt"), FuseMounter.Canonicalize(Path.Combine(link, "x", "..", "mnt") + "/"));
            Assert.Equal("/", FuseMounter.Canonicalize("/"));
            Assert.Equal(Path.Combine(Environment.CurrentDirectory, "rel"), FuseMounter.Canonicalize("rel"));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void HelperOptions_AreLibfuseStyle_AndFuse2GetsNonempty()
    {
        var o = new MountOptions
        {
            FsName = "src", Subtype = "lh", AllowOther = true, DefaultPermissions = true, MaxRead = 4096, AutoUnmount = true,
        };
        Assert.Equal("rw,fsname=src,subtype=lh,allow_other,default_permissions,max_read=4096,auto_unmount",
                     FuseMounter.BuildHelperOptions(o, 3));
        Assert.Equal("rw,fsname=src,subtype=lh,allow_other,default_permissions,max_read=4096,auto_unmount,nonempty",
                     FuseMounter.BuildHelperOptions(o, 2));
        Assert.Equal("ro,fsname=lighthouse", FuseMounter.BuildHelperOptions(new MountOptions { ReadOnly = true }, 3));
    }

    [Theory]
    // fusermount3 3.14 (exit status 1); FUSE 2's fusermount says the same with its own name.
    [InlineData("fusermount3: option allow_other only allowed if 'user_allow_other' is set in /etc/fuse.conf\n", "/etc/fuse.conf")]
    [InlineData("fusermount: option allow_other only allowed if 'user_allow_other' is set in /usr/local/etc/fuse.conf", "/usr/local/etc/fuse.conf")]
    [InlineData("fusermount3: failed to access mountpoint /x: Permission denied\n", null)]
    public void The_refusal_of_allow_other_is_recognised_and_names_the_file_the_helper_read(string stderr, string? file) =>
        Assert.Equal(file, FuseMounter.UserAllowOtherConfig(stderr));

    [Theory]
    [InlineData("a,b", null)]
    [InlineData("with space", null)]
    [InlineData("", null)]
    [InlineData("ok", "bad,subtype")]
    [InlineData("ok", "")]
    public void Mount_RejectsOptionsThatWouldBreakTheOptionString(string fsName, string? subtype)
    {
        // Validation happens before anything touches the system.
        Assert.Throws<ArgumentException>(() =>
            FuseMounter.Mount("/nonexistent-lighthouse-test", new MountOptions { FsName = fsName, Subtype = subtype }));
    }

    [Fact]
    public void HelperVersion_IsReadFromTheHelper()
    {
        string? fm3 = FuseMounter.FindInPath("fusermount3");
        if (fm3 is null) return; // fuse3 not installed here: nothing to check
        Assert.Equal(3, FuseMounter.HelperMajorVersion(fm3));
    }
}
