using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;

namespace Lighthouse.Mount.Testing;

/// <summary>What a running mount says of its recorder (the "mount" part of the control socket's status answer).</summary>
/// <param name="LastSeq">The last event committed to the store.</param>
/// <param name="Backlog">Changes queued for recording, not handed to the store yet.</param>
/// <param name="Failures">Records the store refused or that threw ("could not record a change" in the mount's log).</param>
/// <param name="OpenFiles">Handles of current/ still open (a file open for writing is captured at its close).</param>
public sealed record RecorderState(long LastSeq, int Backlog, long Failures, int OpenFiles, long EventsRecorded, long ExternalEvents)
{
    public override string ToString() =>
        $"last event @{LastSeq}, backlog {Backlog}, recording failures {Failures}, open files {OpenFiles}, " +
        $"records {EventsRecorded}, external events {ExternalEvents}";
}

/// <summary>
/// Asks a running `lighthouse mount` about its recorder through its control socket
/// (<c>&lt;project&gt;/.lighthouse/control.sock</c>, what `lighthouse status` asks): one JSON request per line.
/// </summary>
public static class MountControl
{
    public static string SocketOf(string projectDir) => Path.Combine(projectDir, ".lighthouse", "control.sock");

    public static RecorderState Status(string projectDir)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Connect(new UnixDomainSocketEndPoint(SocketOf(projectDir)));
        using var stream = new NetworkStream(socket);
        using var writer = new StreamWriter(stream, new UTF8Encoding(false)) { NewLine = "\n", AutoFlush = true };
        using var reader = new StreamReader(stream, Encoding.UTF8);
        writer.WriteLine("""{"op":"status"}""");
        var answer = JsonNode.Parse(reader.ReadLine() ?? throw new IOException("the control socket closed without answering"))!.AsObject();
        if (answer["ok"]?.GetValue<bool>() != true) throw new IOException("status refused: " + answer.ToJsonString());
        var mount = answer["mount"]!.AsObject();
        long Long(string key) => mount[key]?.GetValue<long>() ?? throw new IOException($"the status has no \"{key}\": {mount.ToJsonString()}");
        return new RecorderState(answer["lastSeq"]!.GetValue<long>(), (int)Long("recordingBacklog"), Long("recordingFailures"),
            (int)Long("openFiles"), Long("eventsRecorded"), Long("externalEvents"));
    }

    /// <summary>
    /// Waits until the recorder is idle: nothing queued, no file of current/ open, and the last event number
    /// unchanged over <paramref name="settle"/> (records handed to the store commit a little after they leave the
    /// queue, and a closed file's RELEASE reaches the mount after close(2) returned). Nothing says "idle" in one
    /// field, so this is the nearest: the status of a mount nobody uses.
    /// </summary>
    /// <exception cref="TimeoutException">not idle after <paramref name="timeout"/>; the message has the last status.</exception>
    public static RecorderState WaitUntilIdle(string projectDir, TimeSpan? timeout = null, TimeSpan? settle = null)
    {
        var limit = Stopwatch.StartNew();
        var quiet = TimeSpan.FromMilliseconds(settle?.TotalMilliseconds ?? 750);
        var state = Status(projectDir);
        var stableSince = Stopwatch.StartNew();
        while (true)
        {
            Thread.Sleep(150);
            var now = Status(projectDir);
            if (now.LastSeq != state.LastSeq || now.Backlog > 0 || now.OpenFiles > 0) stableSince.Restart();
            state = now;
            if (stableSince.Elapsed >= quiet) return state;
            if (limit.Elapsed > (timeout ?? TimeSpan.FromMinutes(2)))
                throw new TimeoutException($"the recorder of {projectDir} is not idle after {limit.Elapsed.TotalSeconds:0} s: {state}");
        }
    }
}
