using System.Runtime.InteropServices;
using Lighthouse.Fuse.LowLevel;
using Lighthouse.Interop;
using Lighthouse.Fuse.Protocol;

namespace Lighthouse.Fuse.Session;

/// <summary><see cref="IBackingFiles"/> over the ioctls of the connection's /dev/fuse descriptor.</summary>
internal sealed unsafe class DeviceBackingFiles(int deviceFd) : IBackingFiles
{
    private volatile bool _refused;

    public bool Refused => _refused;

    public int Open(int fd)
    {
        if (_refused) return 0;
        var map = new BackingMap { Fd = fd };
        int id = Libc.Ioctl(deviceFd, ProtocolConstants.DevIocBackingOpen, &map);
        if (id > 0) return id;
        // EPERM is the kernel's capable(CAP_SYS_ADMIN) check: it will say the same for every file, so stop asking
        // (one ioctl per open otherwise) and say so once. Other errors are about one file (e.g. its filesystem
        // stacks too deep) and only that open is served in user space.
        if (Marshal.GetLastPInvokeError() == Libc.EPERM && !_refused)
        {
            _refused = true;
            Console.Error.WriteLine("lighthouse: the kernel refused kernel passthrough (FUSE_DEV_IOC_BACKING_OPEN: EPERM; it needs " +
                                    "CAP_SYS_ADMIN in the initial user namespace); file data is served through the daemon from now on");
        }
        return 0;
    }

    public void Close(int backingId)
    {
        uint id = (uint)backingId;
        Libc.Ioctl(deviceFd, ProtocolConstants.DevIocBackingClose, &id);
    }
}
