using System.Runtime.InteropServices;

namespace Lighthouse.Interop;

/// <summary>struct io_sqring_offsets / io_cqring_offsets (include/uapi/linux/io_uring.h).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct IoSqringOffsets
{
    public uint Head, Tail, RingMask, RingEntries, Flags, Dropped, Array, Resv1;
    public ulong UserAddr;
}

[StructLayout(LayoutKind.Sequential)]
internal struct IoCqringOffsets
{
    public uint Head, Tail, RingMask, RingEntries, Overflow, Cqes, Flags, Resv1;
    public ulong UserAddr;
}

/// <summary>struct io_uring_params.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct IoUringParams
{
    public uint SqEntries, CqEntries, Flags, SqThreadCpu, SqThreadIdle, Features, WqFd;
    public fixed uint Resv[3];
    public IoSqringOffsets SqOff;
    public IoCqringOffsets CqOff;
}

/// <summary>struct io_uring_sqe, the first 64 bytes; with IORING_SETUP_SQE128 each entry is 128 bytes
/// and the command area (<c>cmd</c>) runs from offset 48 to the end.</summary>
[StructLayout(LayoutKind.Explicit, Size = 64)]
internal struct IoUringSqe
{
    [FieldOffset(0)] public byte Opcode;
    [FieldOffset(1)] public byte Flags;
    [FieldOffset(2)] public ushort IoPrio;
    [FieldOffset(4)] public int Fd;
    [FieldOffset(8)] public ulong Off;        // also: u32 cmd_op (+ u32 pad) for IORING_OP_URING_CMD
    [FieldOffset(16)] public ulong Addr;
    [FieldOffset(24)] public uint Len;
    [FieldOffset(28)] public uint OpFlags;
    [FieldOffset(32)] public ulong UserData;
    [FieldOffset(40)] public ushort BufIndex;
    [FieldOffset(42)] public ushort Personality;
    [FieldOffset(44)] public int FileIndex;
    [FieldOffset(48)] public ulong Addr3;
    [FieldOffset(56)] public ulong Pad2;
}

/// <summary>struct io_uring_cqe (16 bytes without IORING_SETUP_CQE32).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct IoUringCqe
{
    public ulong UserData;
    public int Res;
    public uint Flags;
}

/// <summary>io_uring, by its raw system calls (no liburing), for FUSE over io_uring.</summary>
internal static unsafe partial class Libc
{
    internal const long SYS_io_uring_setup = 425, SYS_io_uring_enter = 426;
    internal const uint IORING_SETUP_SQE128 = 1u << 10, IORING_SETUP_SINGLE_ISSUER = 1u << 12, IORING_SETUP_DEFER_TASKRUN = 1u << 13,
        IORING_SETUP_COOP_TASKRUN = 1u << 8;
    internal const uint IORING_FEAT_SINGLE_MMAP = 1u << 0;
    internal const uint IORING_ENTER_GETEVENTS = 1u << 0;
    internal const long IORING_OFF_SQ_RING = 0, IORING_OFF_SQES = 0x10000000;
    internal const byte IORING_OP_READ = 22, IORING_OP_URING_CMD = 46;

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    internal static partial long SyscallIoUringSetup(long number, uint entries, IoUringParams* p);

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    internal static partial long SyscallIoUringEnter(long number, int fd, uint toSubmit, uint minComplete, uint flags, void* sig, nuint sigSize);
}
