using System.Text;
using Lighthouse.Fuse.LowLevel;
using Lighthouse.Fuse.Protocol;
using Lighthouse.Fuse.Session;

namespace Lighthouse.Fuse.Tests.Protocol;

/// <summary>A filesystem that records what it was called with (one line per call) and answers with fixed values.</summary>
internal sealed class RecordingFileSystem : FuseFileSystem
{
    public List<string> Calls { get; } = [];
    public ConnectionInfo? Connection { get; private set; }

    private static string S(ReadOnlySpan<byte> bytes) => Encoding.UTF8.GetString(bytes);
    private static string Who(in RequestContext ctx) => $"uid={ctx.Uid} gid={ctx.Gid} pid={ctx.Pid}";

    public static EntryOut Entry(ulong node, uint mode, ulong size) => new()
    {
        NodeId = node, Generation = 1, EntryValid = 10, AttrValid = 20, EntryValidNsec = 500, AttrValidNsec = 600,
        Attr = new FuseAttr
        {
            Ino = node, Size = size, Blocks = 1, Atime = 1_700_000_000, Mtime = 1_700_000_001, Ctime = 1_700_000_002,
            AtimeNsec = 1, MtimeNsec = 2, CtimeNsec = 3, Mode = mode, Nlink = 1, Uid = 1000, Gid = 100, BlkSize = 4096,
        },
    };

    public override void Init(ConnectionInfo connection)
    {
        Connection = connection;
        if (connection.BackingFiles is not null) connection.Want |= InitFlags.Passthrough;
        Calls.Add($"Init(offered={connection.Offered})");
    }

    public override int Lookup(in RequestContext ctx, ulong parent, ReadOnlySpan<byte> name, out EntryOut entry)
    {
        Calls.Add($"Lookup(parent={parent}, name={S(name)}, {Who(ctx)})");
        entry = S(name) == "hello" ? Entry(5, 0x81A4, 11) : default;
        return entry.NodeId == 0 ? Errno.ENOENT : 0;
    }

    public override void Forget(ulong node, ulong nlookup) => Calls.Add($"Forget(node={node}, nlookup={nlookup})");

    public override int Create(in RequestContext ctx, ulong parent, ReadOnlySpan<byte> name, int flags, uint mode, uint umask, out EntryOut entry, out OpenOut open)
    {
        Calls.Add($"Create(parent={parent}, name={S(name)}, flags=0x{flags:x}, mode=0{Convert.ToString(mode, 8)}, umask=0{Convert.ToString(umask, 8)}, {Who(ctx)})");
        entry = Entry(6, mode & ~umask, 0);
        open = new OpenOut { Fh = 42, OpenFlags = OpenReplyFlags.KeepCache };
        return 0;
    }

    public override int Rename(in RequestContext ctx, ulong parent, ReadOnlySpan<byte> name, ulong newParent, ReadOnlySpan<byte> newName, uint flags)
    {
        Calls.Add($"Rename(parent={parent}, name={S(name)}, newParent={newParent}, newName={S(newName)}, flags={flags})");
        return 0;
    }

    public override int SetXattr(in RequestContext ctx, ulong node, ReadOnlySpan<byte> name, ReadOnlySpan<byte> value, int flags)
    {
        Calls.Add($"SetXattr(node={node}, name={S(name)}, value={S(value)}, flags={flags})");
        return 0;
    }

    public override int ReadDir(in RequestContext ctx, ulong node, ulong fh, long offset, ref DirectoryBuffer buffer)
    {
        Calls.Add($"ReadDir(node={node}, fh={fh}, offset={offset}, plus={buffer.Plus})");
        if (offset == 0) buffer.TryAdd("f"u8, 5, 8 /* DT_REG */, 1, Entry(5, 0x81A4, 11));
        return 0;
    }
}

/// <summary>Records notifications instead of sending them.</summary>
internal sealed class FakeNotifier : IFuseNotifier
{
    public List<string> Sent { get; } = [];
    public void InvalidateInode(ulong node, long offset = 0, long length = 0) => Sent.Add($"InvalidateInode({node}, {offset}, {length})");
    public void InvalidateEntry(ulong parent, ReadOnlySpan<byte> name) => Sent.Add($"InvalidateEntry({parent}, {Encoding.UTF8.GetString(name)})");
    public void Delete(ulong parent, ulong child, ReadOnlySpan<byte> name) => Sent.Add($"Delete({parent}, {child}, {Encoding.UTF8.GetString(name)})");
    public void PollWakeup(ulong kh) => Sent.Add($"PollWakeup({kh})");
}

/// <summary>Hands out backing ids without a kernel, and records which descriptors were registered.</summary>
internal sealed class FakeBackingFiles : IBackingFiles
{
    private int _next = 100;
    public List<int> Opened { get; } = [];
    public List<int> Closed { get; } = [];
    public int Open(int fd) { Opened.Add(fd); return ++_next; }
    public void Close(int backingId) => Closed.Add(backingId);
}
