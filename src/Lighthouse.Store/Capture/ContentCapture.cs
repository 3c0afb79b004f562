using Lighthouse.Store.Native;
using Microsoft.Win32.SafeHandles;

namespace Lighthouse.Store.Capture;

/// <summary>Turns a node's current bytes into an object: a file's read through a descriptor, a symlink's target.</summary>
internal sealed class ContentCapture(ProjectStore store)
{
    /// <summary>The bytes of the open file <paramref name="file"/> (<paramref name="attrs"/> from its fstat), for a version of <paramref name="storePath"/>.</summary>
    public (ContentState State, string? Hash) Capture(SafeFileHandle file, NodeAttributes attrs, string storePath)
    {
        if (attrs.Size == 0) return (ContentState.Captured, store.EmptyHash);
        if (attrs.Size > store.Options.MaxCaptureBytes) return (ContentState.TooLarge, null);
        var o = store.Objects.Capture(file, store.Options.MaxCaptureBytes, $"'{storePath}'");
        return (o.State, o.Hash);
    }

    /// <summary>
    /// The node now at <paramref name="storePath"/> (<paramref name="attrs"/> from its lstat), reached from the project
    /// directory's descriptor: for callers that hold no descriptor of it (tools, a restore beside the mount).
    /// </summary>
    public (ContentState State, string? Hash) CaptureAt(string storePath, NodeAttributes attrs)
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
