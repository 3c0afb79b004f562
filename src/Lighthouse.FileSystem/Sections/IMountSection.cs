using Lighthouse.Fuse.LowLevel;

namespace Lighthouse.FileSystem.Sections;

/// <summary>
/// One top-level directory of the mount (current/, history/, and the others as they are built): a
/// filesystem of its own whose node ids all carry the section's tag in their top byte, so the
/// <see cref="MountRoot"/> routes each request straight to it. A new section is one class and one
/// line in <see cref="LighthouseMount"/>'s list.
/// </summary>
public interface IMountSection
{
    /// <summary>Its name in the mount root ("current").</summary>
    string Name { get; }
    /// <summary>The top byte of every node id of the section (<see cref="SectionIds.Tag"/>), never 0.</summary>
    ulong Tag { get; }
    /// <summary>The node id of its own directory: <c>Tag | 1</c>.</summary>
    ulong RootId { get; }
    FuseFileSystem FileSystem { get; }
    /// <summary>The mount is serving: what the section sends the kernel unasked (cache invalidations, poll
    /// wake-ups) goes through <paramref name="notifier"/> from now on.</summary>
    void Attach(IFuseNotifier notifier);
}

/// <summary>Node ids carry their section in the top byte.</summary>
public static class SectionIds
{
    /// <summary>The tag of the section numbered <paramref name="number"/> (1–255).</summary>
    public static ulong Tag(int number) => number is > 0 and < 256
        ? (ulong)number << 56
        : throw new ArgumentOutOfRangeException(nameof(number), number, "a section number is 1..255 (0 is the mount root's own)");

    public static ulong TagOf(ulong node) => node & (0xFFUL << 56);
}
