using System.Net;

namespace Lighthouse.Server;

/// <summary>How the HTTP API listens.</summary>
public sealed class ServerOptions
{
    public const string DefaultListen = "127.0.0.1:7411";

    /// <summary>"host:port" (an IP address or localhost; port 0 picks a free one) or "unix:/path/to.sock".</summary>
    public string Listen { get; init; } = DefaultListen;
    /// <summary>Listening on an address other than loopback must be asked for: tokens then cross the network in clear.</summary>
    public bool AllowNonLoopback { get; init; }
    /// <summary>The largest request body (a file written with PUT); larger ones get 413.</summary>
    public long MaxBodyBytes { get; init; } = 64L << 20;
    /// <summary>How often a server-sent event stream with nothing to say sends a comment, so proxies and clients see it alive.</summary>
    public TimeSpan Heartbeat { get; init; } = TimeSpan.FromSeconds(15);
    /// <summary>Where the server says what it refused or could not do. Default: standard error.</summary>
    public Action<string>? Log { get; init; }
}

/// <summary>A parsed listen address: a TCP endpoint or a Unix socket path.</summary>
public sealed record ListenAddress(IPEndPoint? Tcp, string? UnixSocket)
{
    /// <exception cref="ArgumentException">not an address, or not loopback without <paramref name="allowNonLoopback"/>.</exception>
    public static ListenAddress Parse(string text, bool allowNonLoopback)
    {
        if (text.StartsWith("unix:", StringComparison.Ordinal))
        {
            var path = text[5..];
            if (path.Length == 0 || path[0] != '/') throw new ArgumentException($"'{text}': a Unix socket is given as unix:/absolute/path");
            return new ListenAddress(null, path);
        }
        int colon = text.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(text.AsSpan(colon + 1), out int port) || port is < 0 or > 65535)
            throw new ArgumentException($"'{text}' is not a listen address: give host:port (127.0.0.1:7411, [::1]:7411, localhost:0) or unix:/path");
        var host = text[..colon].Trim('[', ']');
        IPAddress address;
        if (host == "localhost") address = IPAddress.Loopback;
        else if (!IPAddress.TryParse(host, out address!))
            throw new ArgumentException($"'{host}' is not an IP address (give 127.0.0.1, ::1, 0.0.0.0 or localhost)");
        if (!IPAddress.IsLoopback(address) && !allowNonLoopback)
            throw new ArgumentException($"{text} is not a loopback address: agents' tokens would cross the network in clear. " +
                "Listen on 127.0.0.1 or a Unix socket, or pass --allow-remote (behind TLS you terminate yourself)");
        return new ListenAddress(new IPEndPoint(address, port), null);
    }
}
