using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Lighthouse.Record.Tests.Workload;

/// <summary>How one kind of operation went: how often it ran, succeeded, and failed with each errno.</summary>
public sealed class OperationCount
{
    [JsonPropertyName("runs")] public int Runs { get; set; }
    [JsonPropertyName("ok")] public int Ok { get; set; }
    [JsonPropertyName("errors")] public SortedDictionary<string, int> Errors { get; set; } = new(StringComparer.Ordinal);
}

/// <summary>
/// What a workload did, per operation kind, and the failures no correct file system gives for it (EIO, ESTALE, …).
/// A child process prints it as one JSON line; the test adds up its children's.
/// </summary>
public sealed class OperationStats
{
    /// <summary>What a random workload's calls may fail with on a correct file system: the name was taken, removed
    /// or replaced by another kind of entry meanwhile (by this process or another), or the call does not apply to
    /// the kind of entry it met (a device without a driver, a link to a directory, a rename into itself).</summary>
    public static readonly IReadOnlySet<int> Expected = new HashSet<int>
    {
        Libc.ENOENT, Libc.EEXIST, Libc.ENOTEMPTY, Libc.ENOTDIR, Libc.EISDIR, Libc.EXDEV, Libc.EINVAL, Libc.ELOOP,
        Libc.EMLINK, Libc.ENXIO, Libc.ENODEV, Libc.EPERM, Libc.EBUSY,
    };

    public const int MaxUnexpectedKept = 50;

    /// <summary>What an operation returns when the entry it picked is no regular file (so it was not written).</summary>
    public const int NotAFile = -1;

    [JsonPropertyName("name")] public string Name { get; set; } = "";
    [JsonPropertyName("seed")] public int Seed { get; set; }
    [JsonPropertyName("operations")] public SortedDictionary<string, OperationCount> Operations { get; set; } = new(StringComparer.Ordinal);
    [JsonPropertyName("unexpected")] public List<string> Unexpected { get; set; } = [];
    [JsonPropertyName("unexpectedCount")] public int UnexpectedCount { get; set; }
    [JsonPropertyName("longestPath")] public int LongestPath { get; set; }

    public int Runs => Operations.Values.Sum(o => o.Runs);
    public int Failures => Operations.Values.Sum(o => o.Errors.Values.Sum());

    /// <summary>Counts one run of <paramref name="operation"/>; <paramref name="errno"/> 0 is a success.</summary>
    public void Count(string operation, int errno, string what)
    {
        if (!Operations.TryGetValue(operation, out var count)) Operations[operation] = count = new OperationCount();
        count.Runs++;
        if (errno == 0) { count.Ok++; return; }
        string name = errno == NotAFile ? "not-a-file" : Errno.Name(errno);
        count.Errors[name] = count.Errors.GetValueOrDefault(name) + 1;
        if (errno == NotAFile || Expected.Contains(errno)) return;
        UnexpectedCount++;
        if (Unexpected.Count < MaxUnexpectedKept) Unexpected.Add($"{Name} op {count.Runs} of {operation}: {what}: {name}");
    }

    public void Add(OperationStats other)
    {
        foreach (var (operation, theirs) in other.Operations)
        {
            if (!Operations.TryGetValue(operation, out var ours)) Operations[operation] = ours = new OperationCount();
            ours.Runs += theirs.Runs;
            ours.Ok += theirs.Ok;
            foreach (var (errno, n) in theirs.Errors) ours.Errors[errno] = ours.Errors.GetValueOrDefault(errno) + n;
        }
        Unexpected.AddRange(other.Unexpected);
        UnexpectedCount += other.UnexpectedCount;
        LongestPath = Math.Max(LongestPath, other.LongestPath);
    }

    public string ToJson() => JsonSerializer.Serialize(this);
    public static OperationStats FromJson(string json) => JsonSerializer.Deserialize<OperationStats>(json) ?? throw new JsonException("empty stats");

    /// <summary>A table: one line per operation with its runs, successes and errors by errno.</summary>
    public string Describe()
    {
        var text = new StringBuilder($"{Runs} operations, {Failures} failed ({UnexpectedCount} unexpectedly); longest path {LongestPath} bytes\n");
        foreach (var (operation, count) in Operations)
            text.AppendLine($"  {operation,-18} {count.Runs,6} runs {count.Ok,6} ok" +
                            (count.Errors.Count == 0 ? "" : "  " + string.Join(" ", count.Errors.Select(e => $"{e.Key}×{e.Value}"))));
        foreach (var line in Unexpected) text.AppendLine("  UNEXPECTED " + line);
        return text.ToString();
    }
}
