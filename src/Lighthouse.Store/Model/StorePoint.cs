using System.Globalization;

namespace Lighthouse.Store;

/// <summary>A point in history: an event number, a UTC time or a snapshot name (or the latest event).</summary>
public readonly record struct StorePoint
{
    public enum PointKind { Latest, Event, Time, Snapshot }

    public PointKind Kind { get; }
    public long Seq { get; }
    public DateTime TimeUtc { get; }
    public string? SnapshotName { get; }

    private StorePoint(PointKind kind, long seq, DateTime time, string? name)
    {
        Kind = kind; Seq = seq; TimeUtc = time; SnapshotName = name;
    }

    public static StorePoint Latest => new(PointKind.Latest, 0, default, null);
    public static StorePoint AtEvent(long seq) => new(PointKind.Event, seq, default, null);
    public static StorePoint AtTime(DateTime utc) => new(PointKind.Time, 0, utc.Kind == DateTimeKind.Utc ? utc : utc.ToUniversalTime(), null);
    public static StorePoint AtSnapshot(string name) => new(PointKind.Snapshot, 0, default, name);

    public static implicit operator StorePoint(long seq) => AtEvent(seq);

    /// <summary>Parses "@1234", "2026-11-25T10:30:00Z", "latest" or a snapshot name.</summary>
    public static StorePoint Parse(string text)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(text);
        if (text == "latest") return Latest;
        if (text[0] == '@')
        {
            if (long.TryParse(text.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out var seq) && seq > 0)
                return AtEvent(seq);
            throw new FormatException($"'{text}' is not an event number: write @ followed by a positive number, e.g. @1234");
        }
        if (char.IsAsciiDigit(text[0]) && text.Contains('T')
            && DateTime.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var t))
            return AtTime(DateTime.SpecifyKind(t, DateTimeKind.Utc));
        return AtSnapshot(text);
    }

    public override string ToString() => Kind switch
    {
        PointKind.Latest => "latest",
        PointKind.Event => "@" + Seq.ToString(CultureInfo.InvariantCulture),
        PointKind.Time => TimeUtc.ToString("yyyy-MM-ddTHH:mm:ss.fffffffZ", CultureInfo.InvariantCulture),
        _ => SnapshotName!,
    };
}
