using Lighthouse.Conformance.Tests.Support;
using Xunit.Abstractions;
using static Lighthouse.Conformance.Tests.Support.Sys;

namespace Lighthouse.Conformance.Tests;

/// <summary>
/// Extended attributes in the user.* namespace: set/get/list/remove on files and directories and
/// through descriptors, size probes (size 0), ERANGE for buffers one byte too small, XATTR_CREATE on
/// an existing name (EEXIST), XATTR_REPLACE/get/remove of a missing name (ENODATA), empty, binary and
/// large values, many names, symlinks (EPERM for user.* on a symlink itself).
/// </summary>
public abstract unsafe class XattrTests<TTarget> : ConformanceTestBase<TTarget> where TTarget : MountTarget
{
    protected XattrTests(TTarget fx, ITestOutputHelper output) : base(fx, output) { }

    private static string Get(string path, string name, int size)
    {
        var (r, v) = GetXattr(path, name, size);
        return r.Ok ? $"{r} {Twin.Hash(v)}" : r.ToString();
    }

    [Fact]
    public void SetGetListRemove() => Run(t =>
    {
        t.Do(d => { WriteFile($"{d}/f", "x"); Mkdir($"{d}/dir"); });
        foreach (var target in new[] { "f", "dir" })
        {
            var value = Twin.Utf8("hello xattr");
            t.Both($"set {target}", d => SetXattr($"{d}/{target}", "user.greeting", value));
            t.Both($"probe {target}", d => GetXattr($"{d}/{target}", "user.greeting", 0).Res);
            t.Both($"get {target}", d => Get($"{d}/{target}", "user.greeting", 100));
            t.Both($"get exact size {target}", d => Get($"{d}/{target}", "user.greeting", value.Length));
            t.Both($"list probe {target}", d => ListXattr($"{d}/{target}", 0).Res);
            t.Both($"list {target}", d => Twin.Show(ListXattr($"{d}/{target}", 4096).Names));
            t.Both($"replace {target}", d => SetXattr($"{d}/{target}", "user.greeting", Twin.Utf8("bye"), XATTR_REPLACE));
            t.Both($"get after replace {target}", d => Get($"{d}/{target}", "user.greeting", 100));
            t.Both($"remove {target}", d => R(removexattr($"{d}/{target}", "user.greeting")));
            t.Both($"get after remove {target}", d => Get($"{d}/{target}", "user.greeting", 100));
            t.Both($"list after remove {target}", d => Twin.Show(ListXattr($"{d}/{target}", 4096).Names));
        }
        // the attribute is on the backing file
        SetXattr(t.Mp("f"), "user.where", Twin.Utf8("backing"));
        Assert.Equal(Twin.Utf8("backing"), GetXattr(t.Bp("f"), "user.where", 64).Value);
    });

    [Fact]
    public void ErrorsRangeExistsNodata() => Run(t =>
    {
        t.Do(d => WriteFile($"{d}/f", "x"));
        var value = Twin.Pattern(100, 1);
        t.Both("set", d => SetXattr($"{d}/f", "user.a", value));
        t.Both("set second", d => SetXattr($"{d}/f", "user.bb", Twin.Utf8("2")));
        t.Err("getxattr with a buffer one byte too small", ERANGE, d => Again(GetXattr($"{d}/f", "user.a", 99).Res));
        t.Err("getxattr with a 1-byte buffer", ERANGE, d => Again(GetXattr($"{d}/f", "user.a", 1).Res));
        // "user.a\0user.bb\0" is 15 bytes
        t.Both("list size", d => ListXattr($"{d}/f", 0).Res);
        t.Err("listxattr with a buffer one byte too small", ERANGE, d => Again(ListXattr($"{d}/f", 14).Res));
        t.Both("listxattr with the exact size", d => (ListXattr($"{d}/f", 15).Res, Twin.Show(ListXattr($"{d}/f", 15).Names)));
        t.Err("XATTR_CREATE on an existing name", EEXIST, d => Again(SetXattr($"{d}/f", "user.a", value, XATTR_CREATE)));
        t.Err("XATTR_REPLACE on a missing name", ENODATA, d => Again(SetXattr($"{d}/f", "user.missing", value, XATTR_REPLACE)));
        t.Err("getxattr of a missing name", ENODATA, d => Again(GetXattr($"{d}/f", "user.missing", 100).Res));
        t.Err("size probe of a missing name", ENODATA, d => Again(GetXattr($"{d}/f", "user.missing", 0).Res));
        t.Err("removexattr of a missing name", ENODATA, d => removexattr($"{d}/f", "user.missing"));
        t.Err("getxattr on a missing file", ENOENT, d => Again(GetXattr($"{d}/nofile", "user.a", 100).Res));
        t.Err("setxattr on a missing file", ENOENT, d => Again(SetXattr($"{d}/nofile", "user.a", value)));
        t.Err("listxattr on a missing file", ENOENT, d => Again(ListXattr($"{d}/nofile", 100).Res));
        t.Err("name without namespace", EOPNOTSUPP, d => Again(SetXattr($"{d}/f", "nonamespace", value)));
        t.Err("empty name after prefix", EINVAL, d => Again(SetXattr($"{d}/f", "user.", value)));
        t.Err("name of 256 bytes", ERANGE, d => Again(SetXattr($"{d}/f", "user." + new string('n', 251), value)));
        t.Both("name of 255 bytes", d => SetXattr($"{d}/f", "user." + new string('n', 250), value));
        t.Both("XATTR_CREATE on a new name", d => SetXattr($"{d}/f", "user.c", value, XATTR_CREATE));
        t.Both("final list", d => Twin.Show(ListXattr($"{d}/f", 4096).Names));
    });

    /// <summary>Puts the errno of an already-captured result back, for Twin.Err.</summary>
    private static long Again(Res r)
    {
        if (r.Ok) return r.Value;
        System.Runtime.InteropServices.Marshal.SetLastPInvokeError(r.Errno);
        return -1;
    }

    [Fact]
    public void EmptyBinaryLargeAndManyValues() => Run(t =>
    {
        t.Do(d => WriteFile($"{d}/f", "x"));
        t.Both("empty value", d => SetXattr($"{d}/f", "user.empty", []));
        t.Both("get empty value", d => Get($"{d}/f", "user.empty", 10));
        t.Both("probe empty value", d => GetXattr($"{d}/f", "user.empty", 0).Res);
        var binary = Enumerable.Range(0, 256).Select(i => (byte)i).ToArray();
        t.Both("binary value with NULs", d => SetXattr($"{d}/f", "user.binary", binary));
        t.Both("get binary", d => Get($"{d}/f", "user.binary", 1000));
        var large = Twin.Pattern(3900, 2);
        t.Both("large value", d => SetXattr($"{d}/f", "user.large", large));
        t.Both("get large", d => Get($"{d}/f", "user.large", 65536));
        t.Both("60,000-byte value (more than ext4 holds)", d => SetXattr($"{d}/f", "user.huge", Twin.Pattern(60_000, 3)));
        t.Both("70,000-byte value (more than XATTR_SIZE_MAX)", d => SetXattr($"{d}/f", "user.huge", Twin.Pattern(70_000, 3)));
        for (int i = 0; i < 40; i++)
        {
            int k = i;
            t.Both($"set many {k}", d => SetXattr($"{d}/f", $"user.many{k:D2}", Twin.Utf8($"v{k}")));
        }
        t.Both("list many", d => (ListXattr($"{d}/f", 0).Res, Twin.Show(ListXattr($"{d}/f", 65536).Names)));
        t.Both("get each", d => string.Join(",", Enumerable.Range(0, 40).Select(k => Get($"{d}/f", $"user.many{k:D2}", 10))));
    });

    [Fact]
    public void ThroughDescriptorsAndOnSymlinks() => Run(t =>
    {
        t.Do(d => { WriteFile($"{d}/f", "x"); Check(symlink("f", $"{d}/lnk"), "symlink"); });
        t.Both("fsetxattr/fgetxattr", d =>
        {
            int fd = Open($"{d}/f", O_RDONLY);
            var v = Twin.Utf8("via fd");
            Res s;
            fixed (byte* p = v) s = R(fsetxattr(fd, "user.fd", p, (nuint)v.Length, 0));
            var buf = new byte[64];
            Res g;
            fixed (byte* p = buf) g = R(fgetxattr(fd, "user.fd", p, 64));
            Res small;
            fixed (byte* p = buf) small = R(fgetxattr(fd, "user.fd", p, 2));
            close(fd);
            return $"{s} {g} {small} {System.Text.Encoding.UTF8.GetString(buf, 0, (int)Math.Max(0, g.Value))}";
        });
        // path calls follow the symlink; l* calls act on the symlink itself
        t.Both("setxattr via symlink", d => SetXattr($"{d}/lnk", "user.followed", Twin.Utf8("yes")));
        t.Both("seen on target", d => Get($"{d}/f", "user.followed", 64));
        t.Both("lsetxattr user.* on a symlink", d =>
        {
            var v = Twin.Utf8("no");
            fixed (byte* p = v) return R(lsetxattr($"{d}/lnk", "user.onlink", p, (nuint)v.Length, 0));
        });
        t.Both("llistxattr on the symlink", d => (ListXattr($"{d}/lnk", 4096, follow: false).Res, Twin.Show(ListXattr($"{d}/lnk", 4096, follow: false).Names)));
        t.Both("lgetxattr on the symlink", d =>
        {
            var buf = new byte[64];
            fixed (byte* p = buf) return R(lgetxattr($"{d}/lnk", "user.followed", p, 64));
        });
        t.Both("lremovexattr on the symlink", d => R(lremovexattr($"{d}/lnk", "user.followed")));
    });

    [Fact]
    public void XattrsFollowRenameAndLink() => Run(t =>
    {
        t.Do(d => WriteFile($"{d}/f", "x"));
        t.Both("set", d => SetXattr($"{d}/f", "user.k", Twin.Utf8("v")));
        t.Both("rename keeps it", d => { Check(rename($"{d}/f", $"{d}/g"), "rename"); return Get($"{d}/g", "user.k", 10); });
        t.Both("hard link shares it", d => { Check(link($"{d}/g", $"{d}/h"), "link"); SetXattr($"{d}/h", "user.k2", Twin.Utf8("w")); return Twin.Show(ListXattr($"{d}/g", 100).Names); });
    });
}

public sealed class XattrTests_Passthrough(PassthroughDefault fx, ITestOutputHelper output) : XattrTests<PassthroughDefault>(fx, output);
public sealed class XattrTests_Mount(RecordedMount fx, ITestOutputHelper output) : XattrTests<RecordedMount>(fx, output);
