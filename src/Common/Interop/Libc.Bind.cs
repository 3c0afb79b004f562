using System.Runtime.InteropServices;

namespace Lighthouse.Interop;

/// <summary>socket(2) and bind(2) of a Unix domain socket: binding one to a name makes a socket node in the
/// file system (and, unlike .NET's Socket, closing the descriptor leaves the node where it is).</summary>
internal static unsafe partial class Libc
{
    /// <summary>struct sockaddr_un: sa_family_t (2 bytes), then the path (108 bytes with its NUL).</summary>
    internal const int SockaddrUnPathOffset = 2, SockaddrUnSize = 110;

    [LibraryImport("libc", EntryPoint = "socket", SetLastError = true)]
    internal static partial int Socket(int domain, int type, int protocol);

    [LibraryImport("libc", EntryPoint = "bind", SetLastError = true)]
    internal static partial int Bind(int fd, byte* address, uint length);
}
