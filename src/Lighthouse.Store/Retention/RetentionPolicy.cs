using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Lighthouse.Store.Retention;

/// <summary>
/// Which old versions keep their bytes. Every version younger than <see cref="KeepAll"/>; then, up to
/// <see cref="Hourly"/> old, the last version of each hour; then, up to <see cref="Daily"/> old (null: forever),
/// the last version of each day; older versions keep none. A file's current version, and every version a snapshot
/// shows, are always kept. Thinned versions keep their events (and the hash of their bytes): the log stays whole.
/// Kept per project in <c>.lighthouse/retention.json</c>, e.g. <c>{"keepAll":"7d","hourly":"30d","daily":"forever","gcEvery":"6h"}</c>.
/// </summary>
public sealed record RetentionPolicy
{
    public const string FileName = "retention.json";

    public TimeSpan KeepAll { get; init; } = TimeSpan.FromDays(7);
    public TimeSpan Hourly { get; init; } = TimeSpan.FromDays(30);
    /// <summary>Null: daily versions are kept forever.</summary>
    public TimeSpan? Daily { get; init; }
    /// <summary>How often a mount collects garbage in the background (null: never; <c>lighthouse gc</c> still does).</summary>
    public TimeSpan? GcEvery { get; init; } = TimeSpan.FromHours(6);

    public static RetentionPolicy Default { get; } = new();

    /// <summary>The policy of the store in <paramref name="stateDir"/>: its retention.json, or the default when there is none.</summary>
    /// <exception cref="StoreException">the file exists but cannot be read as a policy (what is wrong is said).</exception>
    public static RetentionPolicy Load(string stateDir)
    {
        var path = Path.Combine(stateDir, FileName);
        if (!File.Exists(path)) return Default;
        try
        {
            return Parse(File.ReadAllText(path));
        }
        catch (Exception e) when (e is JsonException or FormatException or IOException or UnauthorizedAccessException)
        {
            throw new StoreException($"{path}: {e.Message} (expected e.g. {{\"keepAll\":\"7d\",\"hourly\":\"30d\",\"daily\":\"forever\",\"gcEvery\":\"6h\"}})", e);
        }
    }

    public static RetentionPolicy Parse(string json)
    {
        var o = JsonNode.Parse(json) as JsonObject ?? throw new FormatException("not a JSON object");
        var p = Default;
        foreach (var (key, value) in o)
        {
            var text = value?.GetValue<string>() ?? throw new FormatException($"\"{key}\" has no value");
            p = key switch
            {
                "keepAll" => p with { KeepAll = ParseSpan(text) ?? TimeSpan.MaxValue },
                "hourly" => p with { Hourly = ParseSpan(text) ?? TimeSpan.MaxValue },
                "daily" => p with { Daily = ParseSpan(text) },
                "gcEvery" => p with { GcEvery = text is "never" ? null : ParseSpan(text) },
                _ => throw new FormatException($"unknown setting \"{key}\" (known: keepAll, hourly, daily, gcEvery)"),
            };
        }
        if (p.Hourly < p.KeepAll) p = p with { Hourly = p.KeepAll };
        if (p.Daily is { } d && d < p.Hourly) throw new FormatException($"\"daily\" ({Format(d)}) is shorter than \"hourly\" ({Format(p.Hourly)})");
        return p;
    }

    /// <summary>"30s", "15m", "12h", "7d", "2w"; "forever" is null.</summary>
    public static TimeSpan? ParseSpan(string text)
    {
        text = text.Trim();
        if (text is "forever" or "always") return null;
        if (text == "0") return TimeSpan.Zero;
        if (text.Length < 2 || !double.TryParse(text[..^1], NumberStyles.Float, CultureInfo.InvariantCulture, out var n) || n < 0)
            throw new FormatException($"'{text}' is not a duration (a number and s, m, h, d or w, or forever)");
        return text[^1] switch
        {
            's' => TimeSpan.FromSeconds(n),
            'm' => TimeSpan.FromMinutes(n),
            'h' => TimeSpan.FromHours(n),
            'd' => TimeSpan.FromDays(n),
            'w' => TimeSpan.FromDays(7 * n),
            _ => throw new FormatException($"'{text}' is not a duration (a number and s, m, h, d or w, or forever)"),
        };
    }

    public static string Format(TimeSpan? span) => span switch
    {
        null => "forever",
        { } s when s == TimeSpan.MaxValue => "forever",
        { } s when s.TotalDays >= 1 && s.TotalDays == Math.Floor(s.TotalDays) => $"{s.TotalDays:0}d",
        { } s when s.TotalHours >= 1 && s.TotalHours == Math.Floor(s.TotalHours) => $"{s.TotalHours:0}h",
        { } s when s.TotalMinutes >= 1 && s.TotalMinutes == Math.Floor(s.TotalMinutes) => $"{s.TotalMinutes:0}m",
        { } s => $"{s.TotalSeconds:0.###}s",
    };

    public override string ToString() =>
        $"every version for {Format(KeepAll)}, then hourly up to {Format(Hourly)}, then daily {(Daily is null ? "forever" : "up to " + Format(Daily))}";

    /// <summary>
    /// Which of a file's versions (their creation times, in order, the current one last) lose their bytes at
    /// <paramref name="now"/>: in each hour (or day) bucket past <see cref="KeepAll"/>, all but the last. The caller
    /// never thins the current version.
    /// </summary>
    public IEnumerable<int> Thin(IReadOnlyList<DateTime> created, DateTime now)
    {
        for (int i = 0; i < created.Count; i++)
        {
            var age = now - created[i];
            if (age < KeepAll) continue;
            if (Daily is { } d && age >= d) { yield return i; continue; }
            var bucket = age < Hourly ? TimeSpan.FromHours(1) : TimeSpan.FromDays(1);
            long Bucket(DateTime t) => t.Ticks / bucket.Ticks;
            // The last version of its bucket is the state the file had at the end of that hour (or day): kept.
            bool lastOfBucket = i + 1 == created.Count || Bucket(created[i + 1]) != Bucket(created[i]);
            if (!lastOfBucket) yield return i;
        }
    }
}
