using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Lighthouse.Cli.Commands;

namespace Lighthouse.Cli.Control;

/// <summary>Client side of <see cref="ControlServer"/>: one JSON request line, one JSON response line.</summary>
public sealed class ControlClient : IDisposable
{
    private readonly Socket _socket;
    private readonly StreamReader _reader;
    private readonly StreamWriter _writer;

    private ControlClient(string socketPath, Socket socket)
    {
        SocketPath = socketPath;
        _socket = socket;
        var stream = new NetworkStream(socket, ownsSocket: true);
        _reader = new StreamReader(stream, new UTF8Encoding(false));
        _writer = new StreamWriter(stream, new UTF8Encoding(false)) { AutoFlush = true, NewLine = "\n" };
    }

    public string SocketPath { get; }

    public static TimeSpan DefaultTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Connects, or throws a <see cref="CliException"/> that says which mount does not answer.</summary>
    public static ControlClient Connect(string socketPath, TimeSpan? timeout = null)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.ReceiveTimeout = socket.SendTimeout = (int)(timeout ?? DefaultTimeout).TotalMilliseconds;
            socket.Connect(new UnixDomainSocketEndPoint(socketPath));
            return new ControlClient(socketPath, socket);
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new CliException($"cannot reach the mount's control socket {socketPath}: {e.Message}", ExitCodes.Failure);
        }
    }

    /// <summary>Connects to the control socket named in a live mount's mount.json.</summary>
    public static ControlClient Connect(MountState mount, TimeSpan? timeout = null)
    {
        var path = mount.ControlSocket ?? MountState.DefaultControlSocket(mount.ProjectDir);
        return Connect(path, timeout);
    }

    /// <summary>Sends a request, returns the response object (whether ok or not).</summary>
    public JsonObject Send(JsonObject request)
    {
        try
        {
            _writer.WriteLine(request.ToJsonString());
            var line = _reader.ReadLine() ?? throw new CliException($"the mount closed its control socket {SocketPath} without answering", ExitCodes.Failure);
            return JsonNode.Parse(line) as JsonObject ?? throw new CliException($"the mount answered with something that is not a JSON object: {line}", ExitCodes.Failure);
        }
        catch (IOException e)
        {
            throw new CliException($"control socket {SocketPath}: {e.InnerException?.Message ?? e.Message}", ExitCodes.Failure);
        }
        catch (JsonException e)
        {
            throw new CliException($"control socket {SocketPath}: bad response: {e.Message}", ExitCodes.Failure);
        }
    }

    /// <summary>Sends a request and returns the response if ok; turns {"ok":false} into a <see cref="CliException"/>.</summary>
    public JsonObject Call(JsonObject request)
    {
        var response = Send(request);
        if (response["ok"]?.GetValue<bool>() == true) return response;
        var error = response["error"]?.GetValue<string>() ?? "the mount refused the request";
        var kind = response["kind"]?.GetValue<string>();
        throw new CliException(error, kind == "usage" ? ExitCodes.Usage : ExitCodes.Failure);
    }

    public static JsonObject Call(MountState mount, JsonObject request)
    {
        using var c = Connect(mount);
        return c.Call(request);
    }

    public void Dispose()
    {
        _writer.Dispose();
        _reader.Dispose();
        _socket.Dispose();
    }
}
