using System.Net.Sockets;
using System.Text;

namespace Lighthouse.Cli.Commands;

/// <summary>
/// sd_notify(3) without libsystemd: one datagram of "KEY=value" lines to the Unix socket systemd names in
/// $NOTIFY_SOCKET (a name starting with '@' is in the abstract namespace). Does nothing outside a Type=notify service.
/// </summary>
internal static class SystemdNotify
{
    public static bool Enabled => Environment.GetEnvironmentVariable("NOTIFY_SOCKET") is { Length: > 0 };

    /// <summary>Sends <paramref name="state"/> (e.g. "READY=1\nSTATUS=…"); false if there is no socket or it refused.
    /// A refusal is said once on stderr: the service manager then waits for a READY that never comes.</summary>
    public static bool Send(string state)
    {
        if (Environment.GetEnvironmentVariable("NOTIFY_SOCKET") is not { Length: > 0 } path) return false;
        try
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
            var endpoint = new UnixDomainSocketEndPoint(path[0] == '@' ? "\0" + path[1..] : path);
            socket.SendTo(Encoding.UTF8.GetBytes(state), endpoint);
            return true;
        }
        catch (SocketException e)
        {
            Console.Error.WriteLine($"lighthouse: cannot tell the service manager ({path}) '{state.Split('\n')[0]}': {e.Message}");
            return false;
        }
    }
}
