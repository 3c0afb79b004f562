using Lighthouse.Store;

namespace Lighthouse.Project.Feed;

/// <summary>
/// Which events a subscription wants; every condition given must hold. Same meaning as <see cref="LogQuery"/>:
/// the path prefix is a path and everything under it, on either side of a rename.
/// </summary>
public sealed record FeedFilter
{
    private readonly string? _pathPrefix;

    public string? Agent { get; init; }

    public string? PathPrefix
    {
        get => _pathPrefix;
        init => _pathPrefix = value is null ? null : StorePath.Normalize(value);
    }

    public IReadOnlySet<EventOp>? Operations { get; init; }

    public bool Matches(StoreEvent e) =>
        (Agent is null || e.Agent == Agent)
        && (_pathPrefix is null || StorePath.IsSelfOrUnder(e.Path, _pathPrefix) || (e.Path2 is { } p2 && StorePath.IsSelfOrUnder(p2, _pathPrefix)))
        && (Operations is null || Operations.Count == 0 || Operations.Contains(e.Op));
}
