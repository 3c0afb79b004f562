namespace Lighthouse.Fuse.Protocol;

/// <summary>Request opcodes of the FUSE kernel protocol (include/uapi/linux/fuse.h).</summary>
public enum Opcode : uint
{
    Lookup = 1, Forget = 2, GetAttr = 3, SetAttr = 4, ReadLink = 5, Symlink = 6,
    MkNod = 8, MkDir = 9, Unlink = 10, RmDir = 11, Rename = 12, Link = 13, Open = 14,
    Read = 15, Write = 16, StatFs = 17, Release = 18, Fsync = 20, SetXattr = 21,
    GetXattr = 22, ListXattr = 23, RemoveXattr = 24, Flush = 25, Init = 26, OpenDir = 27,
    ReadDir = 28, ReleaseDir = 29, FsyncDir = 30, GetLk = 31, SetLk = 32, SetLkW = 33,
    Access = 34, Create = 35, Interrupt = 36, BMap = 37, Destroy = 38, Ioctl = 39, Poll = 40,
    NotifyReply = 41, BatchForget = 42, Fallocate = 43, ReadDirPlus = 44, Rename2 = 45,
    Lseek = 46, CopyFileRange = 47, SetupMapping = 48, RemoveMapping = 49, SyncFs = 50,
    TmpFile = 51, Statx = 52, CopyFileRange64 = 53,
}

/// <summary>Codes of notifications sent to the kernel (carried in the error field, unique 0).</summary>
public enum NotifyCode
{
    Poll = 1, InvalInode = 2, InvalEntry = 3, Store = 4, Retrieve = 5, Delete = 6, Resend = 7,
}

/// <summary>FUSE_INIT capability flags (flags | flags2 &lt;&lt; 32).</summary>
[Flags]
public enum InitFlags : ulong
{
    None = 0,
    AsyncRead = 1UL << 0, PosixLocks = 1UL << 1, FileOps = 1UL << 2, AtomicOTrunc = 1UL << 3,
    ExportSupport = 1UL << 4, BigWrites = 1UL << 5, DontMask = 1UL << 6, SpliceWrite = 1UL << 7,
    SpliceMove = 1UL << 8, SpliceRead = 1UL << 9, FlockLocks = 1UL << 10, HasIoctlDir = 1UL << 11,
    AutoInvalData = 1UL << 12, DoReaddirplus = 1UL << 13, ReaddirplusAuto = 1UL << 14,
    AsyncDio = 1UL << 15, WritebackCache = 1UL << 16, NoOpenSupport = 1UL << 17,
    ParallelDirops = 1UL << 18, HandleKillpriv = 1UL << 19, PosixAcl = 1UL << 20,
    AbortError = 1UL << 21, MaxPages = 1UL << 22, CacheSymlinks = 1UL << 23,
    NoOpendirSupport = 1UL << 24, ExplicitInvalData = 1UL << 25, MapAlignment = 1UL << 26,
    Submounts = 1UL << 27, HandleKillprivV2 = 1UL << 28, SetxattrExt = 1UL << 29,
    InitExt = 1UL << 30, InitReserved = 1UL << 31,
    SecurityCtx = 1UL << 32, HasInodeDax = 1UL << 33, CreateSuppGroup = 1UL << 34,
    HasExpireOnly = 1UL << 35, DirectIoAllowMmap = 1UL << 36, Passthrough = 1UL << 37,
    NoExportSupport = 1UL << 38, HasResend = 1UL << 39, AllowIdmap = 1UL << 40,
    OverIoUring = 1UL << 41, RequestTimeout = 1UL << 42,
}

/// <summary>Flags the filesystem returns in fuse_open_out.open_flags.</summary>
[Flags]
public enum OpenReplyFlags : uint
{
    None = 0, DirectIo = 1, KeepCache = 2, NonSeekable = 4, CacheDir = 8, Stream = 16,
    NoFlush = 32, ParallelDirectWrites = 64, Passthrough = 128,
}

/// <summary>fuse_setattr_in.valid bits: which attributes a SETATTR changes.</summary>
[Flags]
public enum SetAttrValid : uint
{
    Mode = 1 << 0, Uid = 1 << 1, Gid = 1 << 2, Size = 1 << 3, Atime = 1 << 4, Mtime = 1 << 5,
    Fh = 1 << 6, AtimeNow = 1 << 7, MtimeNow = 1 << 8, LockOwner = 1 << 9, Ctime = 1 << 10,
    KillSuidGid = 1 << 11,
}
