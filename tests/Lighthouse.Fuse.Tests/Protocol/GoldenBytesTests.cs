using Lighthouse.Fuse.Protocol;
using static Lighthouse.Fuse.Tests.Protocol.Wire;

namespace Lighthouse.Fuse.Tests.Protocol;

/// <summary>
/// Requests written as bytes, one row per field (as fuser's tests do), fed to <see cref="ProtocolServer"/> —
/// the code path the session dispatches every request through — checking the exact reply bytes and what
/// the filesystem was called with. No mount, no root.
/// </summary>
public class GoldenBytesTests
{
    private readonly RecordingFileSystem _fs = new();
    private readonly FakeNotifier _notifier = new();
    private readonly FakeBackingFiles _backing = new();
    private readonly ProtocolServer _server;
    private readonly byte[] _reply = new byte[ProtocolConstants.RequestBufferSize];

    public GoldenBytesTests() => _server = new ProtocolServer(_fs, _notifier, _backing);

    private byte[] Send(byte[] request)
    {
        int length = _server.HandleRequest(request, _reply);
        return _reply[..length];
    }

    /// <summary>fuse_in_header.</summary>
    private static byte[] Header(uint len, uint opcode, ulong unique, ulong nodeid) => Bytes(
        U32(len),       // len: header + body
        U32(opcode),    // opcode
        U64(unique),    // unique
        U64(nodeid),    // nodeid
        U32(1000),      // uid
        U32(100),       // gid
        U32(4242),      // pid
        U16(0),         // total_extlen
        U16(0));        // padding

    private static readonly byte[] InitRequest = Bytes(
        Header(104, 26, 1, 0), // FUSE_INIT, 40 + 64 bytes
        U32(7),                // init_in.major
        U32(45),               // init_in.minor: newer than ours
        U32(131072),           // max_readahead
        U32(0x6044_2023),      // flags: ASYNC_READ|POSIX_LOCKS|BIG_WRITES|DO_READDIRPLUS|PARALLEL_DIROPS|MAX_PAGES|SETXATTR_EXT|INIT_EXT
        U32(0x28),             // flags2: HAS_EXPIRE_ONLY (bit 35) | PASSTHROUGH (bit 37)
        Zeros(44));            // unused[11]

    private void Init() => Assert.Equal(80, Send(InitRequest).Length);

    [Fact]
    public void Init_negotiates_the_offered_features_we_want_and_hands_the_filesystem_its_services()
    {
        Assert.Equal(Bytes(
            U32(80),            // out.len: 16 + 64
            I32(0),             // error
            U64(1),             // unique
            U32(7),             // init_out.major
            U32(44),            // minor: min(kernel 45, ours 44)
            U32(131072),        // max_readahead, as offered
            U32(0x6044_2021),   // flags: the offered ones we want (not POSIX_LOCKS: locks stay in the kernel)
            U16(64),            // max_background
            U16(48),            // congestion_threshold
            U32(1 << 20),       // max_write: 1 MiB
            U32(1),             // time_gran: 1 ns
            U16(256),           // max_pages (MAX_PAGES negotiated)
            U16(0),             // map_alignment
            U32(0x28),          // flags2: HAS_EXPIRE_ONLY | PASSTHROUGH (the filesystem asked for it)
            U32(1),             // max_stack_depth: backing files on ordinary filesystems
            U16(0),             // request_timeout
            Zeros(22)),         // unused[11]
            Send(InitRequest));

        var connection = Assert.IsType<Lighthouse.Fuse.Session.ConnectionInfo>(_fs.Connection);
        Assert.Same(_notifier, connection.Notifier);
        Assert.Same(_backing, connection.BackingFiles);
        Assert.Equal(45u, connection.KernelMinor);
        Assert.True(connection.Has(InitFlags.Passthrough));
        Assert.False(connection.Has(InitFlags.PosixLocks));
        Assert.Same(connection, _server.Connection);
    }

    [Fact]
    public void Lookup_passes_the_name_and_caller_and_replies_with_the_entry()
    {
        Init();
        Assert.Equal(Bytes(
            U32(144),                  // out.len: 16 + fuse_entry_out
            I32(0),                    // error
            U64(2),                    // unique
            EntryOut(5, 0x81A4, 11)),  // node 5: S_IFREG | 0644, 11 bytes
            Send(Bytes(
                Header(46, 1, 2, 1),   // FUSE_LOOKUP in node 1 (root), 40 + 6 bytes
                Str("hello\0"))));     // name
        Assert.Equal("Lookup(parent=1, name=hello, uid=1000 gid=100 pid=4242)", _fs.Calls[^1]);

        Assert.Equal(Bytes(
            U32(16),                   // out.len: header only
            I32(-2),                   // error: -ENOENT
            U64(3)),                   // unique
            Send(Bytes(
                Header(45, 1, 3, 1),   // FUSE_LOOKUP, 40 + 5 bytes
                Str("nope\0"))));      // name
    }

    [Fact]
    public void Create_passes_flags_mode_and_umask_and_replies_with_entry_and_open()
    {
        Init();
        Assert.Equal(Bytes(
            U32(160),                  // out.len: 16 + fuse_entry_out + fuse_open_out
            I32(0),                    // error
            U64(4),                    // unique
            EntryOut(6, 0x81A4, 0),    // node 6: S_IFREG | 0644 (0666 & ~022)
            U64(42),                   // open_out.fh
            U32(2),                    // open_flags: FOPEN_KEEP_CACHE
            I32(0)),                   // backing_id
            Send(Bytes(
                Header(64, 35, 4, 1),  // FUSE_CREATE in node 1, 40 + 16 + 8 bytes
                U32(0xC1),             // create_in.flags: O_WRONLY | O_CREAT | O_EXCL
                U32(0x81B6),           // mode: S_IFREG | 0666
                U32(0x12),             // umask: 022
                U32(0),                // open_flags
                Str("new.txt\0"))));   // name
        Assert.Equal("Create(parent=1, name=new.txt, flags=0xc1, mode=0100666, umask=022, uid=1000 gid=100 pid=4242)", _fs.Calls[^1]);
    }

    [Fact]
    public void Rename2_passes_both_names_the_new_parent_and_the_flags()
    {
        Init();
        Assert.Equal(Bytes(
            U32(16),                   // out.len
            I32(0),                    // error
            U64(5)),                   // unique
            Send(Bytes(
                Header(60, 45, 5, 1),  // FUSE_RENAME2 from node 1, 40 + 16 + 2 + 2 bytes
                U64(7),                // rename2_in.newdir
                U32(1),                // flags: RENAME_NOREPLACE
                U32(0),                // padding
                Str("a\0"),            // old name
                Str("b\0"))));         // new name
        Assert.Equal("Rename(parent=1, name=a, newParent=7, newName=b, flags=1)", _fs.Calls[^1]);
    }

    [Fact]
    public void Setxattr_in_its_extended_form_passes_name_value_and_flags()
    {
        Init(); // SETXATTR_EXT negotiated: fuse_setxattr_in is 16 bytes
        Assert.Equal(Bytes(
            U32(16),                   // out.len
            I32(0),                    // error
            U64(6)),                   // unique
            Send(Bytes(
                Header(65, 21, 6, 5),  // FUSE_SETXATTR on node 5, 40 + 16 + 7 + 2 bytes
                U32(2),                // setxattr_in.size: of the value
                U32(1),                // flags: XATTR_CREATE
                U32(0),                // setxattr_flags
                U32(0),                // padding
                Str("user.k\0"),       // name
                Str("v1"))));          // value (no NUL)
        Assert.Equal("SetXattr(node=5, name=user.k, value=v1, flags=1)", _fs.Calls[^1]);
    }

    [Fact]
    public void Readdirplus_replies_with_entry_and_dirent_padded_to_8_bytes()
    {
        Init();
        Assert.Equal(Bytes(
            U32(176),                  // out.len: 16 + one fuse_direntplus of 160
            I32(0),                    // error
            U64(7),                    // unique
            EntryOut(5, 0x81A4, 11),   // direntplus.entry_out
            U64(5),                    // dirent.ino
            U64(1),                    // off: where the next READDIRPLUS continues
            U32(1),                    // namelen
            U32(8),                    // type: DT_REG
            Str("f"),                  // name
            Zeros(7)),                 // padding to 8 bytes (128 + 24 + 1 -> 160)
            Send(Bytes(
                Header(80, 44, 7, 1),  // FUSE_READDIRPLUS on node 1, 40 + 40 bytes
                U64(9),                // read_in.fh
                U64(0),                // offset: from the start
                U32(4096),             // size
                U32(0),                // read_flags
                U64(0),                // lock_owner
                U32(0),                // flags
                U32(0))));             // padding
        Assert.Equal("ReadDir(node=1, fh=9, offset=0, plus=True)", _fs.Calls[^1]);
    }

    [Fact]
    public void Forget_takes_no_reply()
    {
        Init();
        Assert.Empty(Send(Bytes(
            Header(48, 2, 8, 5),       // FUSE_FORGET of node 5, 40 + 8 bytes
            U64(3))));                 // forget_in.nlookup
        Assert.Equal("Forget(node=5, nlookup=3)", _fs.Calls[^1]);
        Assert.Equal(1, _server.Forgotten); // inodes forgotten: one per FORGET, one per BATCH_FORGET entry
    }

    [Fact]
    public void An_unknown_opcode_gets_enosys()
    {
        Init();
        Assert.Equal(Bytes(
            U32(16),                   // out.len
            I32(-38),                  // error: -ENOSYS, so the kernel stops asking
            U64(9)),                   // unique
            Send(Header(40, 39, 9, 5))); // FUSE_IOCTL, no body read
    }
}
