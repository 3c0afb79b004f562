using Lighthouse.Store.Native;
using Lighthouse.Store.Objects;
using Microsoft.Win32.SafeHandles;

namespace Lighthouse.Store.Capture;

/// <summary>What a capture produced: the version's content state and hash, and, for bytes kept as chunks, the blob to
/// insert with its event (whose pins are released once that event commits or fails).</summary>
internal readonly record struct Captured(ContentState State, string? Hash, StoredBlob? Blob = null)
{
    public static implicit operator Captured((ContentState State, string? Hash) c) => new(c.State, c.Hash);
}

/// <summary>Turns a node's current bytes into stored content: a file's read through a descriptor, a symlink's target.</summary>
internal sealed class ContentCapture(ProjectStore store)
{
    /// <summary>Files at least this large are cloned whole where the filesystem can (reflink): nothing is read or copied.</summary>
    public const long ReflinkFrom = 1 << 20;

    /// <summary>The bytes of the open file <paramref name="file"/> (<paramref name="attrs"/> from its fstat), for a version of <paramref name="storePath"/>.</summary>
    public Captured Capture(SafeFileHandle file, NodeAttributes attrs, string storePath)
    {
        if (attrs.Size == 0) return (ContentState.Captured, store.EmptyHash);
        if (attrs.Size > store.Options.MaxCaptureBytes) return (ContentState.TooLarge, null);
        var what = $"'{storePath}'";
        if (attrs.Size >= ReflinkFrom && store.Objects.CaptureByReflink(file, what) is { } cloned) return (ContentState.Captured, cloned);
        // The previous version is looked up only if some chunk is new (most captures of an unchanged region find all).
        var blob = store.Chunks.Capture(file, attrs.Size, what, () => store.PreviousChunks(storePath));
        return new Captured(ContentState.Captured, blob.Hash, blob);
    }

    /// <summary>
    /// The node now at <paramref name="storePath"/> (<paramref name="attrs"/> from its lstat), reached from the project
    /// directory's descriptor: for callers that hold no descriptor of it (tools, a restore beside the mount).
    /// </summary>
    public Captured CaptureAt(string storePath, NodeAttributes attrs)
    {
        switch (attrs.Kind)
        {
            case FileKind.Directory or FileKind.Other:
                return (ContentState.None, null);
            case FileKind.Symlink:
            {
                var target = ProjectTree.ReadLink(store.RootFd, storePath) ?? throw Disappeared(storePath);
                return (ContentState.Captured, store.Objects.StoreBytes(target));
            }
            default:
            {
                if (attrs.Size == 0) return (ContentState.Captured, store.EmptyHash);
                using var file = ProjectTree.OpenToRead(store.RootFd, storePath) ?? throw Disappeared(storePath);
                return Capture(file, attrs, storePath);
            }
        }
    }

    private static StorePathNotFoundException Disappeared(string storePath) =>
        new(storePath, "now (it disappeared while its content was being captured)");
}
