namespace Lighthouse.Store;

/// <summary>
/// The names operations have in the event log (and its hash): <c>init, baseline, create, mkdir, symlink, write, setattr,
/// capture, unlink, rmdir, rename, exchange, link, snapshot, snapshot-delete, deny, policy, agents</c>. Use them wherever an operation is shown or typed,
/// so every layer spells them as the log does.
/// </summary>
public static class EventOpNames
{
    private static readonly Dictionary<EventOp, string> Names = new()
    {
        [EventOp.Init] = "init",
        [EventOp.Baseline] = "baseline",
        [EventOp.Create] = "create",
        [EventOp.Mkdir] = "mkdir",
        [EventOp.Symlink] = "symlink",
        [EventOp.Write] = "write",
        [EventOp.SetAttributes] = "setattr",
        [EventOp.Capture] = "capture",
        [EventOp.Unlink] = "unlink",
        [EventOp.Rmdir] = "rmdir",
        [EventOp.Rename] = "rename",
        [EventOp.Exchange] = "exchange",
        [EventOp.Link] = "link",
        [EventOp.SnapshotCreate] = "snapshot",
        [EventOp.SnapshotDelete] = "snapshot-delete",
        [EventOp.Deny] = "deny",
        [EventOp.Policy] = "policy",
        [EventOp.Agents] = "agents",
    };

    private static readonly Dictionary<string, EventOp> ByName = Names.ToDictionary(kv => kv.Value, kv => kv.Key, StringComparer.Ordinal);

    /// <summary>Every operation, in declaration order.</summary>
    public static IReadOnlyList<EventOp> All { get; } = Enum.GetValues<EventOp>();

    /// <summary>The log's name of <paramref name="op"/> ("setattr" for <see cref="EventOp.SetAttributes"/>).</summary>
    public static string Name(EventOp op) =>
        Names.TryGetValue(op, out var name) ? name : throw new ArgumentOutOfRangeException(nameof(op), op, "not an event operation");

    /// <summary>The operation the log calls <paramref name="name"/> (exact, lower case), if any.</summary>
    public static bool TryParse(string name, out EventOp op) => ByName.TryGetValue(name, out op);
}
