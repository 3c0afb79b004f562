using System.Text.Json;
using System.Text.Json.Serialization;
using Lighthouse.Store;

namespace Lighthouse.Cli.Commands;

/// <summary>
/// <c>&lt;project&gt;/.lighthouse/mount.json</c>: written by <c>lighthouse mount</c> once the mount is ready,
/// deleted on clean exit. A file whose <see cref="Pid"/> is not alive is stale (a crashed mount).
/// <code>
/// {"pid":1234,"mountPoint":"/mnt/lighthouse/project","projectDir":"/abs/project","startedUtc":"2026-11-25T18:00:00Z",
///  "protocol":"7.44","features":["AsyncRead",...],"kernelPassthrough":true,"controlSocket":"/abs/project/.lighthouse/control.sock"}
/// </code>
/// </summary>
public sealed record MountState(
    [property: JsonPropertyName("pid")] int Pid,
    [property: JsonPropertyName("mountPoint")] string MountPoint,
    [property: JsonPropertyName("projectDir")] string ProjectDir,
    [property: JsonPropertyName("startedUtc")] DateTime StartedUtc,
    [property: JsonPropertyName("protocol")] string? Protocol,
    [property: JsonPropertyName("features")] IReadOnlyList<string>? Features,
    [property: JsonPropertyName("kernelPassthrough")] bool KernelPassthrough,
    [property: JsonPropertyName("controlSocket")] string? ControlSocket)
{
    public const string FileName = "mount.json";
    public const string DefaultControlSocketName = "control.sock";

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = false,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    /// <summary><c>&lt;project&gt;/.lighthouse/mount.json</c>.</summary>
    public static string PathFor(string projectDir) => Path.Combine(projectDir, ".lighthouse", FileName);

    /// <summary>The default control socket path, <c>&lt;project&gt;/.lighthouse/control.sock</c>.</summary>
    public static string DefaultControlSocket(string projectDir) => Path.Combine(Path.GetFullPath(projectDir), ".lighthouse", DefaultControlSocketName);

    /// <summary>Reads mount.json; null if there is none or it cannot be parsed (a half-written or foreign file).</summary>
    public static MountState? Read(string projectDir)
    {
        try
        {
            return Parse(File.ReadAllText(PathFor(projectDir)));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Parses the JSON of mount.json (or of a registry entry); null if it is not one.</summary>
    public static MountState? Parse(string text)
    {
        try
        {
            return JsonSerializer.Deserialize<MountState>(text, Json);
        }
        catch (Exception e) when (e is JsonException or NotSupportedException)
        {
            return null;
        }
    }

    /// <summary>Writes mount.json atomically (temp file + rename), so readers never see half a file; 0600, as every file of the state directory.</summary>
    public void Write(string projectDir)
    {
        // 0600 in the 0700 state directory: other users find the mount through the public registry (MountRegistry).
        StateDirectory.Ensure(projectDir);
        StateDirectory.WritePrivate(PathFor(projectDir), ToJson() + "\n");
    }

    /// <summary>Deletes mount.json (no error if it is already gone).</summary>
    public static void Delete(string projectDir)
    {
        try { File.Delete(PathFor(projectDir)); }
        catch (DirectoryNotFoundException) { }
    }

    public string ToJson() => JsonSerializer.Serialize(this with { StartedUtc = TruncateToSeconds(StartedUtc) }, Json);

    private static DateTime TruncateToSeconds(DateTime t)
    {
        var utc = t.Kind == DateTimeKind.Local ? t.ToUniversalTime() : DateTime.SpecifyKind(t, DateTimeKind.Utc);
        return new DateTime(utc.Ticks - utc.Ticks % TimeSpan.TicksPerSecond, DateTimeKind.Utc);
    }

    /// <summary>Whether the mount process is still running (a pid that is gone, or a zombie, means a stale file).</summary>
    [JsonIgnore]
    public bool IsAlive => IsProcessAlive(Pid);

    /// <summary>True if mount.json exists for <paramref name="projectDir"/> and its process is alive.</summary>
    public static MountState? ReadLive(string projectDir) => Read(projectDir) is { IsAlive: true } s ? s : null;

    public static bool IsProcessAlive(int pid)
    {
        if (pid <= 0) return false;
        // /proc/<pid>/stat: "pid (comm) S ..."; a zombie (Z) or dead (X) process is not a running mount.
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var close = stat.LastIndexOf(')');
            if (close < 0 || close + 2 >= stat.Length) return true;
            var state = stat[close + 2];
            return state is not ('Z' or 'X');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}
