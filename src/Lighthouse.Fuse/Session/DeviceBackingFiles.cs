using Lighthouse.Fuse.LowLevel;
using Lighthouse.Interop;
using Lighthouse.Fuse.Protocol;

namespace Lighthouse.Fuse.Session;

/// <summary><see cref="IBackingFiles"/> over the ioctls of the connection's /dev/fuse descriptor.</summary>
internal sealed unsafe class DeviceBackingFiles(int deviceFd) : IBackingFiles
{
    public int Open(int fd)
    {
        var map = new BackingMap { Fd = fd };
        int id = Libc.Ioctl(deviceFd, ProtocolConstants.DevIocBackingOpen, &map);
        return id > 0 ? id : 0;
    }

    public void Close(int backingId)
    {
        uint id = (uint)backingId;
        Libc.Ioctl(deviceFd, ProtocolConstants.DevIocBackingClose, &id);
    }
}
