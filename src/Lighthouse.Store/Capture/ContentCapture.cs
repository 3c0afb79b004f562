using System.Text;
using Lighthouse.Store.Objects;

namespace Lighthouse.Store.Capture;

/// <summary>Reads a node's current bytes from the project directory into the object store.</summary>
internal sealed class ContentCapture(ProjectStore store)
{
    public (ContentState State, string? Hash) Capture(string storePath, NodeAttributes attrs)
    {
        var abs = store.AbsolutePath(storePath);
        switch (attrs.Kind)
        {
            case FileKind.Directory or FileKind.Other:
                return (ContentState.None, null);
            case FileKind.Symlink:
            {
                var target = new FileInfo(abs).LinkTarget
                    ?? throw new StoreException($"cannot read the symbolic link '{storePath}'");
                return (ContentState.Captured, store.Objects.StoreBytes(Encoding.UTF8.GetBytes(target)));
            }
            default:
                if (attrs.Size == 0) return (ContentState.Captured, store.EmptyHash);
                if (attrs.Size > store.Options.MaxCaptureBytes) return (ContentState.TooLarge, null);
                CapturedObject o;
                try
                {
                    o = store.Objects.Capture(abs, store.Options.MaxCaptureBytes);
                }
                catch (FileNotFoundException)
                {
                    throw new StorePathNotFoundException(storePath, "now (it disappeared while its content was being captured)");
                }
                return (o.State, o.Hash);
        }
    }
}
