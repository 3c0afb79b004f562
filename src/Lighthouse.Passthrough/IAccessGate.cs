using Lighthouse.Fuse.Session;

namespace Lighthouse.Passthrough;

/// <summary>What a request is about to do to a name, as an access policy sees it.</summary>
public enum GatedOperation { Read, List, Write, Create, Delete, Rename, Meta }

/// <summary>
/// Asked before each operation of a <see cref="PassthroughFileSystem"/> whether the caller may do it, on top of the
/// kernel's own permission checks (the Lighthouse mount enforces its agents' access policy here). A name is given as a
/// directory node and a name in it, or as a node itself (an empty <c>name</c>). Calls must be quick: they are made on
/// every request while <see cref="Active"/>.
/// </summary>
public interface IAccessGate
{
    /// <summary>False while there is nothing to check (no policy): the file system then asks nothing else.</summary>
    bool Active { get; }

    /// <summary>0 if the caller may do <paramref name="operation"/> on the name, else the errno to answer (ENOENT for a
    /// name hidden from it, EACCES, EROFS).</summary>
    int Check(in RequestContext ctx, GatedOperation operation, Node node, ReadOnlySpan<byte> name, bool isDirectory);

    /// <summary>Whether the name is invisible to the caller (a lookup finds nothing, a listing leaves it out), and
    /// whether the kernel may keep the name and its attributes for everyone (<paramref name="cacheable"/>: false when
    /// some callers may see it and others not — the kernel's caches are shared by all callers, so each must ask).</summary>
    bool Hides(in RequestContext ctx, Node dir, ReadOnlySpan<byte> name, bool isDirectory, out bool cacheable);
}
