using Lighthouse.Store;

namespace Lighthouse.Project.Recording;

/// <summary>A file as its device and inode name it: what survives renames and tells hard links apart.</summary>
public readonly record struct FileKey(ulong Device, ulong Inode);

/// <summary>
/// What the caller of a change already knows of the file it changed, from the stat it made on its
/// descriptor right after the system call — so the record never re-reads a path that may be gone.
/// </summary>
/// <param name="Mode">File type and permission bits, as st_mode.</param>
/// <param name="Rdev">The device number of a device node (mknod) in glibc's makedev encoding, else 0.</param>
public readonly record struct FileFacts(uint Mode, long Size, long MtimeNs, ulong Inode, uint Uid, uint Gid, ulong Rdev)
{
    public FileKind Kind => (Mode & 0xF000) switch
    {
        0x4000 => FileKind.Directory, 0x8000 => FileKind.File, 0xA000 => FileKind.Symlink, 0x1000 => FileKind.Fifo,
        0xC000 => FileKind.Socket, 0x2000 => FileKind.CharDevice, 0x6000 => FileKind.BlockDevice, _ => FileKind.Other,
    };

    /// <summary>What the store records: kind, size, permissions, mtime, inode, owner, group, device number.</summary>
    public NodeAttributes ToStoreAttributes() =>
        new(Kind, Kind == FileKind.Directory ? 0 : Size, (int)(Mode & 0xFFF), MtimeNs, (long)Inode, Uid, Gid, unchecked((long)Rdev));
}

/// <summary>What the recorder knows of a file's current content.</summary>
public enum ContentKnowledge
{
    /// <summary>Maybe recorded by metadata only (a baseline): its bytes must be captured before they change.</summary>
    Unknown,
    /// <summary>Its current content is in the store (or it is empty and recorded).</summary>
    Safe,
    /// <summary>Written; the capture of the new content is queued.</summary>
    WritePending,
    /// <summary>A change of its bytes was recorded without them (truncate, a new modification time): they are captured
    /// at its next close, and before it changes again if that comes first.</summary>
    Changed,
    /// <summary>Written and recorded by metadata only on purpose (closed again soon after its last capture, see
    /// <see cref="ChangeRecorder.WrittenUnread"/>): the bytes are kept if the file is removed or replaced, and may be
    /// overwritten in place (an intermediate version of a file rewritten many times).</summary>
    Unsaved,
}
