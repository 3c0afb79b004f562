using Lighthouse.Fuse.LowLevel;
using Lighthouse.Fuse.Protocol;
using Lighthouse.Fuse.Session;
using Lighthouse.Passthrough;

namespace Lighthouse.Fuse.Tests.LowLevel;

/// <summary>
/// The passthrough builds a file's path from one of its names. The kernel keeps a hard-linked file through any of
/// its links and may forget the directory of the newest one first: the file must stay reachable through the other.
/// Driven in-process (the requests the kernel would send), no mount.
/// </summary>
public sealed class HardLinkPathTests : IDisposable
{
    private readonly string _source = Path.Combine("/tmp/lighthouse-tests", "hardlinks-" + Guid.NewGuid().ToString("N")[..10]);

    public HardLinkPathTests()
    {
        Directory.CreateDirectory(Path.Combine(_source, "d1"));
        Directory.CreateDirectory(Path.Combine(_source, "d2"));
        File.WriteAllText(Path.Combine(_source, "d1", "file"), "shared bytes");
        File.CreateSymbolicLink(Path.Combine(_source, "unused"), "x"); // a second kind of entry, to be sure lookups are by name
        Assert.True(Lighthouse.Interop.Libc.Link(Path.Combine(_source, "d1", "file"), Path.Combine(_source, "d2", "hard")) == 0);
    }

    public void Dispose() => Directory.Delete(_source, true);

    [Fact]
    public void A_file_stays_reachable_when_the_kernel_forgot_the_directory_of_its_newest_name()
    {
        using var fs = new PassthroughFileSystem(_source, new PassthroughOptions { KernelPassthrough = false });
        RequestContext ctx = default;
        ulong root = ProtocolConstants.RootId;
        Assert.Equal(0, fs.Lookup(ctx, root, "d1"u8, out var d1));
        Assert.Equal(0, fs.Lookup(ctx, d1.NodeId, "file"u8, out var file));
        Assert.Equal(0, fs.Lookup(ctx, root, "d2"u8, out var d2));
        Assert.Equal(0, fs.Lookup(ctx, d2.NodeId, "hard"u8, out var hard)); // the same inode: paths now go through d2/hard
        Assert.Equal(file.NodeId, hard.NodeId);

        // The kernel drops d2/hard (one lookup of the file's two), then d2 itself; it keeps the file through d1/file.
        fs.Forget(file.NodeId, 1);
        fs.Forget(d2.NodeId, 1);

        Assert.Equal(0, fs.GetAttr(ctx, file.NodeId, null, out var attr));
        Assert.Equal(12ul, attr.Attr.Size);
        Assert.Equal(0, fs.Open(ctx, file.NodeId, 0 /* O_RDONLY */, 0, out var open));
        var buffer = new byte[64];
        Assert.Equal(0, fs.Read(ctx, file.NodeId, open.Fh, 0, buffer, out int read));
        Assert.Equal("shared bytes", System.Text.Encoding.UTF8.GetString(buffer, 0, read));
        Assert.Equal(0, fs.Release(ctx, file.NodeId, open.Fh, 0));
    }
}
