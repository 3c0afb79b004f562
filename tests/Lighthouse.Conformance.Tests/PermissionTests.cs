using Lighthouse.Conformance.Tests.Support;
using Xunit.Abstractions;
using Lighthouse.Interop;
using static Lighthouse.Conformance.Tests.Support.Sys;

namespace Lighthouse.Conformance.Tests;

/// <summary>
/// Permissions and ownership on a mount with --allow-other --default-permissions, exercised by a
/// non-root caller (nobody, uid/gid 65534, through setpriv): EACCES where mode bits deny (read, write,
/// search, create, execute), EPERM for chmod/chown/explicit times by a non-owner and in sticky
/// directories, and files created by nobody owned by nobody — on the mount and in the backing
/// directory, i.e. created with the caller's uid/gid. Every command is run on the mount and on the
/// native twin, and exit code, output and error messages must be the same.
/// </summary>
public abstract class PermissionTests<TTarget> : ConformanceTestBase<TTarget> where TTarget : MountTarget
{
    protected PermissionTests(TTarget fx, ITestOutputHelper output) : base(fx, output)
    {
        // What these tests compare with the native twin (the kernel's own checks, for another user)
        // only holds on a mount other users may reach and whose permissions the kernel checks.
        if (!fx.OtherUsersAllowed || !fx.KernelChecksPermissions)
            throw new InvalidOperationException(
                $"PermissionTests need a target with allow_other and default_permissions; {fx.Describe()} has not");
    }

    private const uint Nobody = 65534;

    /// <summary>Runs a shell script as nobody in each twin directory; results must match. Returns the mount's.</summary>
    private static Shell.Result AsNobody(Twin t, string script) =>
        t.Both($"as nobody: {script}", d => Shell.ShAsNobody(d, script));

    private static void Setup(Twin t) => t.Do(d =>
    {
        WriteFile($"{d}/secret", "top secret\n", 0x180);
        Check(chmod($"{d}/secret", 0x180), "chmod");     // 0600 root
        WriteFile($"{d}/public", "hello\n", 0x1a4);
        Check(chmod($"{d}/public", 0x1a4), "chmod");     // 0644 root
        Mkdir($"{d}/private", 0x1c0);
        Check(chmod($"{d}/private", 0x1c0), "chmod");    // 0700 root
        WriteFile($"{d}/private/inside", "inside\n");
        Mkdir($"{d}/rootdir", 0x1ed);
        Check(chmod($"{d}/rootdir", 0x1ed), "chmod");    // 0755 root
        Mkdir($"{d}/open", 0x1ff);
        Check(chmod($"{d}/open", 0x1ff), "chmod");       // 0777
    });

    [Fact]
    public void ReadDeniedByModeBits() => Run(t =>
    {
        Setup(t);
        var ok = AsNobody(t, "cat public");
        Assert.True(ok.Code == 0 && ok.Stdout == "hello\n",
            $"nobody cannot read a 0644 file on the mount (is --allow-other in effect?): {ok}");
        var denied = AsNobody(t, "cat secret");
        Assert.NotEqual(0, denied.Code);
        Assert.Contains("Permission denied", denied.Stderr);
        var search = AsNobody(t, "cat private/inside");
        Assert.Contains("Permission denied", search.Stderr);
        AsNobody(t, "ls private");
        AsNobody(t, "ls -1 .");
        AsNobody(t, "stat -c '%a %u %g %s %F' secret public private");
        // root still reads everything
        t.Both("root reads the secret", d => ReadText($"{d}/secret"));
    });

    [Fact]
    public void WriteCreateRemoveDenied() => Run(t =>
    {
        Setup(t);
        Assert.Contains("Permission denied", AsNobody(t, "echo x >> public").Stderr);
        Assert.Contains("Permission denied", AsNobody(t, "touch rootdir/new").Stderr);
        Assert.Contains("Permission denied", AsNobody(t, "mkdir rootdir/sub").Stderr);
        AsNobody(t, "ln -s x rootdir/link");
        AsNobody(t, "mkfifo rootdir/fifo");
        AsNobody(t, "rm -f public");
        AsNobody(t, "mv public renamed");
        AsNobody(t, "truncate -s 0 public");
        AsNobody(t, ": > public");
        t.Both("nothing changed", d => $"{ReadText($"{d}/public")} {StatE($"{d}/rootdir/new")} {StatE($"{d}/renamed")}");
        Tree.AssertSame("after the denied calls", t.M, t.N);
    });

    [Fact]
    public void ExecuteAndSearchPermission() => Run(t =>
    {
        Setup(t);
        t.Do(d =>
        {
            WriteFile($"{d}/script", "#!/bin/sh\necho ran\n", 0x1ed);
            Check(chmod($"{d}/script", 0x1ed), "chmod");
            WriteFile($"{d}/noexec", "#!/bin/sh\necho ran\n", 0x1a4);
            Check(chmod($"{d}/noexec", 0x1a4), "chmod");
            Mkdir($"{d}/searchonly", 0x1c9);
            Check(chmod($"{d}/searchonly", 0x1c9), "chmod"); // 0711: search but no listing
            WriteFile($"{d}/searchonly/known", "known\n");
        });
        Assert.Equal("ran\n", AsNobody(t, "./script").Stdout);
        Assert.Contains("Permission denied", AsNobody(t, "./noexec").Stderr);
        Assert.Equal("known\n", AsNobody(t, "cat searchonly/known").Stdout);
        Assert.Contains("Permission denied", AsNobody(t, "ls searchonly").Stderr);
    });

    [Fact]
    public void AccessChecksAsNobody() => Run(t =>
    {
        Setup(t);
        t.Do(d =>
        {
            foreach (var (name, mode) in new[] { ("m000", 0u), ("m400", 0x100u), ("m200", 0x80u), ("m100", 0x40u), ("m004", 0x4u), ("m002", 0x2u), ("m001", 0x1u), ("m777", 0x1ffu), ("m040", 0x20u) })
            {
                WriteFile($"{d}/{name}", "x", mode);
                Check(chmod($"{d}/{name}", mode), "chmod");
            }
        });
        var r = AsNobody(t, "for f in m000 m400 m200 m100 m004 m002 m001 m777 m040 secret public private open; do " +
                            "for op in -e -r -w -x; do test $op $f; printf '%s%s=%s ' $f $op $?; done; done");
        Assert.Contains("m004-r=0", r.Stdout);
        Assert.Contains("secret-r=1", r.Stdout);
    });

    [Fact]
    public void FilesCreatedByNobodyAreOwnedByNobody() => Run(t =>
    {
        Setup(t);
        var r = AsNobody(t, "touch open/f && mkdir open/d && ln -s f open/l && mkfifo open/p && echo data > open/w && " +
                            "ln open/f open/h && mv open/w open/w2 && cp public open/copied && stat -c '%n %u:%g %a' open/*");
        Assert.Equal(0, r.Code);
        foreach (var name in new[] { "f", "d", "l", "p", "w2", "h", "copied" })
        {
            t.Both($"stat open/{name}", d => StatE($"{d}/open/{name}").ToString());
            var m = Lstat(t.Mp($"open/{name}"));
            Assert.True(m.Uid == Nobody && m.Gid == Nobody, $"open/{name} on the mount is owned by {m.Uid}:{m.Gid}, not nobody");
            var b = Lstat(t.Bp($"open/{name}"));
            Assert.True(b.Uid == Nobody && b.Gid == Nobody,
                $"open/{name} in the backing directory is owned by {b.Uid}:{b.Gid}, not nobody: not created as the caller");
        }
        // what nobody owns, nobody may change
        AsNobody(t, "chmod 600 open/f && chmod 700 open/d && touch -d @1000000000 open/f && stat -c '%a %Y' open/f");
        AsNobody(t, "rm open/f open/h open/l open/p && rmdir open/d && ls -A open");
        Tree.AssertSame("after nobody's work", t.M, t.N);
    });

    [Fact]
    public void SetGroupIdDirectoryForNobody() => Run(t =>
    {
        Setup(t);
        t.Do(d =>
        {
            Mkdir($"{d}/sg");
            Check(chown($"{d}/sg", 0, 4242), "chown");
            Check(chmod($"{d}/sg", 0xdff /* 02777 */), "chmod");
        });
        AsNobody(t, "touch sg/f && mkdir sg/sub && stat -c '%n %u:%g %a' sg/f sg/sub");
        t.Both("file gid", d => StatE($"{d}/sg/f").ToString());
        t.Both("dir gid and setgid bit", d => StatE($"{d}/sg/sub").ToString());
        Assert.Equal(4242u, Lstat(t.Bp("sg/f")).Gid);
        Assert.Equal(Nobody, Lstat(t.Bp("sg/f")).Uid);
    });

    [Fact]
    public void WriteByNonOwnerClearsSetuidAndSetgid() => Run(t =>
    {
        Setup(t);
        t.Do(d =>
        {
            foreach (var f in new[] { "suid-append", "suid-truncate", "sgid-only" })
            {
                WriteFile($"{d}/{f}", "#!/bin/sh\n");
                Check(chmod($"{d}/{f}", f == "sgid-only" ? 0x5ffu /* 02777 */ : 0xdffu /* 06777 */), "chmod");
            }
        });
        AsNobody(t, "echo x >> suid-append");
        AsNobody(t, "truncate -s 3 suid-truncate");
        AsNobody(t, "echo y >> sgid-only");
        foreach (var f in new[] { "suid-append", "suid-truncate", "sgid-only" })
        {
            t.Both($"mode of {f} after nobody wrote", d => StatE($"{d}/{f}").ToString());
            Assert.Equal(Lstat(t.Np(f)).Mode, Lstat(t.Bp(f)).Mode);
        }
        Assert.Equal(0u, Lstat(t.Mp("suid-append")).Mode & (S_ISUID | S_ISGID));
    });

    [Fact]
    public void ChmodChownAndTimesByNonOwner() => Run(t =>
    {
        Setup(t);
        t.Do(d => { WriteFile($"{d}/shared", "x"); Check(chmod($"{d}/shared", 0x1b6 /* 0666 */), "chmod"); });
        t.Do(d => Utimens($"{d}/shared", new Timespec(1_000_000_000, 0), new Timespec(1_000_000_000, 0)));
        Assert.Contains("Operation not permitted", AsNobody(t, "chmod 777 public").Stderr);
        Assert.Contains("Operation not permitted", AsNobody(t, "chown nobody public").Stderr);
        AsNobody(t, "chgrp nogroup public");
        // setting times to "now" needs write permission only; explicit times need ownership
        Assert.Equal(0, AsNobody(t, "touch shared").Code);
        t.Both("touch by a writer sets now", d => Stat($"{d}/shared").MtimeSec > 1_000_000_000);
        Assert.Contains("Operation not permitted", AsNobody(t, "touch -d @1200000000 shared").Stderr);
        Assert.NotEqual(0, AsNobody(t, "touch public").Code); // not writable: no "now" either
        Tree.AssertSame("after the non-owner attempts", t.M, t.N);
    });

    [Fact]
    public void StickyDirectoryProtectsOthersFiles() => Run(t =>
    {
        Setup(t);
        t.Do(d =>
        {
            Mkdir($"{d}/sticky");
            Check(chmod($"{d}/sticky", 0x3ff /* 01777 */), "chmod");
            WriteFile($"{d}/sticky/rootfile", "root's");
            Check(chmod($"{d}/sticky/rootfile", 0x1b6), "chmod");
        });
        Assert.Contains("Operation not permitted", AsNobody(t, "rm -f sticky/rootfile").Stderr);
        Assert.Contains("Operation not permitted", AsNobody(t, "mv sticky/rootfile sticky/mine").Stderr);
        Assert.Equal(0, AsNobody(t, "echo own > sticky/own && mv sticky/own sticky/own2 && rm sticky/own2").Code);
        Assert.Equal(0, AsNobody(t, "echo appended >> sticky/rootfile").Code);
        t.Both("root's file intact", d => ReadText($"{d}/sticky/rootfile"));
        Tree.AssertSame("after sticky attempts", t.M, t.N);
    });
}

/// <summary>Passthrough: needs --allow-other --default-permissions. The recorded mount always runs so.</summary>
public sealed class PermissionTests_Passthrough(PassthroughPermissions fx, ITestOutputHelper output) : PermissionTests<PassthroughPermissions>(fx, output);
public sealed class PermissionTests_Mount(RecordedMount fx, ITestOutputHelper output) : PermissionTests<RecordedMount>(fx, output);
