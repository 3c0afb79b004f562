using System.Text.Json.Nodes;
using Lighthouse.Cli.Control;
using Lighthouse.Store;

namespace Lighthouse.Cli.Commands;

/// <summary>
/// How a verb reaches a project's history. The store (<c>.lighthouse/</c>, 0700) is its owner's: the owner, and root,
/// open it as before. Anyone else asks the running mount over its public control socket (found through
/// <see cref="MountRegistry"/>), which answers only what that user may read as of each point; when the project is not
/// mounted the verb says so.
/// </summary>
public sealed class HistoryRoute
{
    private HistoryRoute(string projectDir, long? ownerUid, bool direct)
    {
        ProjectDir = projectDir;
        OwnerUid = ownerUid;
        Direct = direct;
    }

    public string ProjectDir { get; }

    /// <summary>The owner of the state directory (null if there is none).</summary>
    public long? OwnerUid { get; }

    /// <summary>True for the store's owner and root: the verb opens the store itself.</summary>
    public bool Direct { get; }

    public static HistoryRoute Of(string projectDir)
    {
        var owner = StateDirectory.OwnerOf(projectDir);
        var euid = Native.Geteuid();
        return new HistoryRoute(projectDir, owner, euid == 0 || owner is null || owner == euid);
    }

    /// <summary>Whether the store of <paramref name="projectDir"/> belongs to someone else than this process's user (and it is not root).</summary>
    public static bool IsOthers(string projectDir) => !Of(projectDir).Direct;

    /// <summary>The message for another user when the project is not mounted.</summary>
    public string OwnersOnly(string verb) =>
        $"the history of {ProjectDir} is readable only by its owner{(OwnerUid is { } u ? $" (uid {u})" : "")}; run `lighthouse {verb}` as the owner " +
        "or while the project is mounted (then the mount answers what you may read)";

    /// <summary>The running mount's public entry, or a <see cref="CliException"/> that says the verb needs it.</summary>
    public MountState RequireMount(string verb) =>
        MountRegistry.Find(ProjectDir) ?? throw new CliException(OwnersOnly(verb), ExitCodes.Failure);

    /// <summary>Sends a verb's request to the mount and prints its answer as the verb would have; returns the exit code.</summary>
    public int Ask(CliContext ctx, string verb, JsonObject request) => Print(ctx, Call(verb, request));

    /// <summary>Sends a verb's request to the mount; returns its answer (out, err, exit, lastSeq).</summary>
    public JsonObject Call(string verb, JsonObject request)
    {
        var mount = RequireMount(verb);
        using var client = ControlClient.Connect(mount);
        return client.Call(request);
    }

    public static int Print(CliContext ctx, JsonObject answer)
    {
        ctx.Out.Write(answer["out"]?.GetValue<string>() ?? "");
        ctx.Err.Write(answer["err"]?.GetValue<string>() ?? "");
        return answer["exit"]?.GetValue<int>() ?? ExitCodes.Failure;
    }
}
