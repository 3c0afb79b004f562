using Lighthouse.Fuse.Protocol;
using Lighthouse.Fuse.Session;

namespace Lighthouse.Passthrough;

/// <summary>
/// Told about every change made through a <see cref="PassthroughFileSystem"/> (after it succeeded
/// on disk, on the worker thread that made it), and asked before bytes of an existing file are
/// changed or destroyed. Used by the Lighthouse mount to record events and keep old versions.
/// Calls must be quick; an exception is reported and does not fail the operation.
/// </summary>
public interface IPassthroughObserver
{
    /// <summary>Before a regular file is opened for writing or truncated (<paramref name="inPlace"/>: its bytes change
    /// right after), or unlinked or renamed over (it loses a name; its bytes stay readable through any descriptor of it):
    /// return only once its current content is safe.</summary>
    void BeforeModify(in RequestContext ctx, Node node, bool inPlace);
    /// <summary>Before a regular file is renamed (either side of an exchange): a point where what was written to it and
    /// not recorded yet is recorded under the name it has until then.</summary>
    void BeforeRename(in RequestContext ctx, Node node);
    /// <summary>What to remember about who opened a file; given back in <see cref="Written"/>
    /// (the kernel's own requests, pid 0, are attributed through it). <paramref name="created"/>: the open
    /// that made the file, just after <see cref="Created"/>.</summary>
    object? Opened(in RequestContext ctx, Node node, bool forWriting, bool created);
    /// <summary>A file, directory, node or symlink was created (or an O_TMPFILE file got a name).</summary>
    /// <param name="st">Its stat right after the call.</param>
    /// <param name="symlinkTarget">A symlink's target as the request carried it (empty otherwise).</param>
    void Created(in RequestContext ctx, Node parent, ReadOnlySpan<byte> name, Node node, in NodeStat st, ReadOnlySpan<byte> symlinkTarget);
    /// <param name="node">The node that name led to, if the kernel knew it; <paramref name="lastLink"/>: the inode is gone.</param>
    void Removed(in RequestContext ctx, Node parent, ReadOnlySpan<byte> name, Node? node, bool lastLink, bool directory);
    void Renamed(in RequestContext ctx, Node fromParent, ReadOnlySpan<byte> fromName, Node toParent, ReadOnlySpan<byte> toName, uint flags);
    void Linked(in RequestContext ctx, Node node, Node newParent, ReadOnlySpan<byte> newName);
    /// <param name="changed">What the request set (a new size or modification time is a change of the bytes).</param>
    void AttributesChanged(in RequestContext ctx, Node node, in NodeStat st, SetAttrValid changed);
    /// <summary>A file opened for writing was closed (<paramref name="closing"/>: RELEASE) or fsync'ed: its content may be a new version.</summary>
    /// <param name="fd">The open descriptor (valid during the call): stat it rather than the path, which costs a walk; read
    /// the content through <see cref="PassthroughFileSystem.OpenToRead"/> of it, which works whatever the name is now.</param>
    void Written(in RequestContext ctx, Node node, object? openedBy, int fd, bool closing);
    /// <summary>An open for writing ended (RELEASE, after <see cref="Written"/>): what it wrote from now on is
    /// settled. <paramref name="openedBy"/> is what <see cref="Opened"/> returned for it.</summary>
    void Released(in RequestContext ctx, Node node, object? openedBy);
    /// <summary>Any file handle was released (after <see cref="Released"/> for one open for writing): the bytes the daemon
    /// read and wrote through it (none when the kernel passed its data through).</summary>
    void Closed(Node node, object? openedBy, long bytesRead, long bytesWritten);
}
