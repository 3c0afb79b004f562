using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Lighthouse.Fuse.Protocol;

namespace Lighthouse.Fuse.Tests.Protocol;

/// <summary>
/// The wire structs against the kernel's include/uapi/linux/fuse.h (protocol 7.45), as libfuse's
/// test/test_abi.c does: a field added, dropped or mistyped changes a size or an offset and the kernel
/// would read our replies wrong. Sizes up to 7.38 were checked with sizeof() against the host's
/// /usr/include/linux/fuse.h; newer structs and fields (statx 7.39, backing_map and max_stack_depth 7.40,
/// request_timeout 7.43) are from the kernel's own header.
/// </summary>
public class AbiTests
{
    public static TheoryData<Type, int> Sizes => new()
    {
        { typeof(InHeader), 40 },               // fuse_in_header
        { typeof(OutHeader), 16 },              // fuse_out_header
        { typeof(FuseAttr), 88 },               // fuse_attr
        { typeof(EntryOut), 128 },              // fuse_entry_out
        { typeof(AttrOut), 104 },               // fuse_attr_out
        { typeof(ForgetIn), 8 },                // fuse_forget_in
        { typeof(ForgetOne), 16 },              // fuse_forget_one
        { typeof(BatchForgetIn), 8 },           // fuse_batch_forget_in
        { typeof(GetAttrIn), 16 },              // fuse_getattr_in
        { typeof(SetAttrIn), 88 },              // fuse_setattr_in
        { typeof(MkNodIn), 16 },                // fuse_mknod_in
        { typeof(MkDirIn), 8 },                 // fuse_mkdir_in
        { typeof(RenameIn), 8 },                // fuse_rename_in
        { typeof(Rename2In), 16 },              // fuse_rename2_in
        { typeof(LinkIn), 8 },                  // fuse_link_in
        { typeof(OpenIn), 8 },                  // fuse_open_in
        { typeof(CreateIn), 16 },               // fuse_create_in
        { typeof(OpenOut), 16 },                // fuse_open_out
        { typeof(ReleaseIn), 24 },              // fuse_release_in
        { typeof(FlushIn), 24 },                // fuse_flush_in
        { typeof(ReadIn), 40 },                 // fuse_read_in
        { typeof(WriteIn), 40 },                // fuse_write_in
        { typeof(WriteOut), 8 },                // fuse_write_out
        { typeof(StatFsOut), 80 },              // fuse_statfs_out (fuse_kstatfs)
        { typeof(FsyncIn), 16 },                // fuse_fsync_in
        { typeof(SetXattrIn), 16 },             // fuse_setxattr_in (FUSE_COMPAT_SETXATTR_IN_SIZE is 8)
        { typeof(GetXattrIn), 8 },              // fuse_getxattr_in
        { typeof(GetXattrOut), 8 },             // fuse_getxattr_out
        { typeof(AccessIn), 8 },                // fuse_access_in
        { typeof(InitIn), 64 },                 // fuse_init_in (16 before 7.36)
        { typeof(InitOut), 64 },                // fuse_init_out
        { typeof(InterruptIn), 8 },             // fuse_interrupt_in
        { typeof(DirentHeader), 24 },           // fuse_dirent without its name (FUSE_NAME_OFFSET)
        { typeof(FallocateIn), 32 },            // fuse_fallocate_in
        { typeof(LseekIn), 24 },                // fuse_lseek_in
        { typeof(LseekOut), 8 },                // fuse_lseek_out
        { typeof(CopyFileRangeIn), 56 },        // fuse_copy_file_range_in
        { typeof(PollIn), 24 },                 // fuse_poll_in
        { typeof(PollOut), 8 },                 // fuse_poll_out
        { typeof(StatxIn), 24 },                // fuse_statx_in
        { typeof(SxTime), 16 },                 // fuse_sx_time
        { typeof(FuseStatx), 256 },             // fuse_statx
        { typeof(StatxOut), 288 },              // fuse_statx_out
        { typeof(NotifyInvalInodeOut), 24 },    // fuse_notify_inval_inode_out
        { typeof(NotifyInvalEntryOut), 16 },    // fuse_notify_inval_entry_out
        { typeof(NotifyDeleteOut), 24 },        // fuse_notify_delete_out
        { typeof(NotifyPollWakeupOut), 8 },     // fuse_notify_poll_wakeup_out
        { typeof(BackingMap), 16 },             // fuse_backing_map
    };

    [Theory]
    [MemberData(nameof(Sizes))]
    public void Each_struct_has_the_kernel_size(Type type, int kernelSize)
    {
        var sizeOf = typeof(Unsafe).GetMethod(nameof(Unsafe.SizeOf))!.MakeGenericMethod(type);
        Assert.Equal(kernelSize, (int)sizeOf.Invoke(null, null)!);
    }

    [Fact]
    public void Every_struct_of_the_protocol_is_checked()
    {
        var checkedTypes = Sizes.Select(row => (Type)row[0]).ToHashSet();
        var structs = typeof(InHeader).Assembly.GetTypes()
            .Where(t => t.Namespace == typeof(InHeader).Namespace && t.IsValueType && !t.IsEnum && t.IsPublic && t.IsLayoutSequential);
        Assert.Empty(structs.Where(t => !checkedTypes.Contains(t)).Select(t => t.Name));
    }

    [Theory]
    // Where the layout is subtle: u16 fields, fields added late, structs inside structs.
    [InlineData(typeof(InHeader), nameof(InHeader.TotalExtLen), 36)]
    [InlineData(typeof(EntryOut), nameof(EntryOut.Attr), 40)]
    [InlineData(typeof(AttrOut), nameof(AttrOut.Attr), 16)]
    [InlineData(typeof(FuseAttr), nameof(FuseAttr.BlkSize), 80)]
    [InlineData(typeof(FuseAttr), nameof(FuseAttr.Flags), 84)]
    [InlineData(typeof(SetAttrIn), nameof(SetAttrIn.Mode), 68)]
    [InlineData(typeof(SetAttrIn), nameof(SetAttrIn.Uid), 76)]
    [InlineData(typeof(OpenOut), nameof(OpenOut.BackingId), 12)]
    [InlineData(typeof(ReadIn), nameof(ReadIn.Flags), 32)]
    [InlineData(typeof(Rename2In), nameof(Rename2In.Flags), 8)]
    [InlineData(typeof(InitIn), nameof(InitIn.Flags2), 16)]
    [InlineData(typeof(InitOut), nameof(InitOut.MaxBackground), 16)]
    [InlineData(typeof(InitOut), nameof(InitOut.MaxWrite), 20)]
    [InlineData(typeof(InitOut), nameof(InitOut.MaxPages), 28)]
    [InlineData(typeof(InitOut), nameof(InitOut.Flags2), 32)]
    [InlineData(typeof(InitOut), nameof(InitOut.MaxStackDepth), 36)]
    [InlineData(typeof(InitOut), nameof(InitOut.RequestTimeout), 40)]
    [InlineData(typeof(FuseStatx), nameof(FuseStatx.Mode), 28)]
    [InlineData(typeof(FuseStatx), nameof(FuseStatx.Ino), 32)]
    [InlineData(typeof(FuseStatx), nameof(FuseStatx.Atime), 64)]
    [InlineData(typeof(FuseStatx), nameof(FuseStatx.RdevMajor), 128)]
    [InlineData(typeof(StatxOut), nameof(StatxOut.Stat), 32)]
    [InlineData(typeof(NotifyInvalEntryOut), nameof(NotifyInvalEntryOut.Flags), 12)]
    public void Subtle_fields_sit_at_the_kernel_offset(Type type, string field, int kernelOffset) =>
        Assert.Equal(kernelOffset, (int)Marshal.OffsetOf(type, field));
}
