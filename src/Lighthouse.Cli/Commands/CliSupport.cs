using System.CommandLine;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using Lighthouse.Store;

namespace Lighthouse.Cli.Commands;

/// <summary>A user error: printed as one line ("lighthouse: ...") with its exit code, never with a stack trace.</summary>
public sealed class CliException(string message, int exitCode = 1) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}

/// <summary>Exit codes of the store verbs.</summary>
public static class ExitCodes
{
    public const int Ok = 0;
    /// <summary>The operation failed (store error, I/O error, some files not restored, broken chain...).</summary>
    public const int Failure = 1;
    /// <summary>The command line cannot be acted on: no project, bad point, bad path, unknown snapshot.</summary>
    public const int Usage = 2;
    /// <summary>Interrupted (Ctrl-C).</summary>
    public const int Interrupted = 130;
}

/// <summary>Where a verb writes: the invocation's output and error writers (the console, or a test's writers).</summary>
public sealed class CliContext(TextWriter output, TextWriter error)
{
    public TextWriter Out { get; } = output;
    public TextWriter Err { get; } = error;

    /// <summary>True when progress can be redrawn in place (stderr is the real console and a terminal).</summary>
    public bool ErrIsTerminal => ReferenceEquals(Err, Console.Error) && !Console.IsErrorRedirected;

    public static CliContext From(ParseResult parse) => new(parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error);

    /// <summary>The agent a verb's changes are attributed to: "&lt;user&gt;/lighthouse".</summary>
    public static string Agent => $"{UserName}/lighthouse";

    public static string UserName
    {
        get
        {
            try { return Environment.UserName is { Length: > 0 } u ? u : "uid" + Environment.GetEnvironmentVariable("UID"); }
            catch (Exception) { return "unknown"; }
        }
    }
}

/// <summary>Runs a verb's body: turns every user-facing failure into one line on stderr and an exit code.</summary>
public static class CliRunner
{
    public static int Run(ParseResult parse, Func<CliContext, int> body)
    {
        var ctx = CliContext.From(parse);
        try
        {
            return body(ctx);
        }
        catch (Exception e)
        {
            return Report(ctx, e);
        }
    }

    public static async Task<int> RunAsync(ParseResult parse, CancellationToken ct, Func<CliContext, CancellationToken, Task<int>> body)
    {
        var ctx = CliContext.From(parse);
        try
        {
            return await body(ctx, ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            return ExitCodes.Interrupted;
        }
        catch (Exception e)
        {
            return Report(ctx, e);
        }
    }

    public static int Report(CliContext ctx, Exception e)
    {
        var (message, code) = Describe(e);
        ctx.Err.WriteLine("lighthouse: " + message);
        if (code == ExitCodes.Failure && Environment.GetEnvironmentVariable("LIGHTHOUSE_DEBUG") == "1")
            ctx.Err.WriteLine(e.ToString());
        return code;
    }

    public static (string Message, int Code) Describe(Exception e) => e switch
    {
        CliException c => (c.Message, c.ExitCode),
        PointNotFoundException p => (p.Message, ExitCodes.Usage),
        StorePathNotFoundException p => (p.Message, ExitCodes.Usage),
        InvalidStorePathException p => (p.Message, ExitCodes.Usage),
        StoreException s => (s.Message, ExitCodes.Failure),
        FormatException f => (f.Message, ExitCodes.Usage),
        UnauthorizedAccessException u => (u.Message, ExitCodes.Failure),
        IOException io => (io.Message, ExitCodes.Failure),
        System.Net.Sockets.SocketException s => ("control socket: " + s.Message, ExitCodes.Failure),
        _ => ($"internal error: {e.GetType().Name}: {e.Message} (set LIGHTHOUSE_DEBUG=1 for details)", ExitCodes.Failure),
    };

    /// <summary>Parses a point (@N, a UTC time, a snapshot name, "latest"), with a message that names the option.</summary>
    public static StorePoint ParsePoint(string text, string what = "point")
    {
        if (string.IsNullOrWhiteSpace(text)) throw new CliException($"empty {what}: give @<event>, a UTC time (2026-11-25T10:30:00Z) or a snapshot name", ExitCodes.Usage);
        try
        {
            return StorePoint.Parse(text);
        }
        catch (FormatException e)
        {
            throw new CliException($"bad {what}: {e.Message}", ExitCodes.Usage);
        }
    }

    public static TimeSpan? Elapsed(System.Diagnostics.Stopwatch sw) => sw.Elapsed;
}

/// <summary>Shared output formatting: numbers, sizes, times, JSON.</summary>
public static class Fmt
{
    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower) },
    };

    public static readonly JsonSerializerOptions JsonIndented = new(Json) { WriteIndented = true };

    public static string N(long n) => n.ToString("N0", CultureInfo.InvariantCulture);

    public static string Time(DateTime utc) => utc.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    public static string IsoTime(DateTime utc) => utc.ToUniversalTime().ToString("yyyy-MM-ddTHH:mm:ss.fffffffZ", CultureInfo.InvariantCulture);

    public static string Size(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        double v = bytes;
        var u = 0;
        while (v >= 1024 && u < units.Length - 1) { v /= 1024; u++; }
        return u == 0 ? $"{bytes} B" : v.ToString(v < 10 ? "0.0" : "0", CultureInfo.InvariantCulture) + " " + units[u];
    }

    public static string Op(EventOp op) => EventOpNames.Name(op);

    private static readonly Dictionary<string, EventOp> OpsByName = Enum.GetValues<EventOp>()
        .SelectMany(o => new[] { (Name: Op(o), Op: o), (Name: o.ToString().ToLowerInvariant(), Op: o) })
        .Append((Name: "snapshot-create", Op: EventOp.SnapshotCreate))
        .DistinctBy(p => p.Name)
        .ToDictionary(p => p.Name, p => p.Op);

    public static EventOp ParseOp(string name) =>
        OpsByName.TryGetValue(name.Trim().ToLowerInvariant(), out var op)
            ? op
            : throw new CliException($"unknown operation '{name}'; known: {string.Join(", ", Enum.GetValues<EventOp>().Select(Op))}", ExitCodes.Usage);

    /// <summary>"rwxr-xr-x"-style mode.</summary>
    public static string Mode(int mode)
    {
        Span<char> s = stackalloc char[9];
        const string rwx = "rwxrwxrwx";
        for (var i = 0; i < 9; i++) s[i] = (mode & (1 << (8 - i))) != 0 ? rwx[i] : '-';
        return new string(s);
    }

    /// <summary>Writes rows as columns aligned to the widest cell (the last column is not padded).</summary>
    public static void Table(TextWriter w, IReadOnlyList<string[]> rows, string? header = null)
    {
        if (rows.Count == 0) return;
        var columns = rows.Max(r => r.Length);
        var widths = new int[columns];
        foreach (var r in rows)
            for (var i = 0; i < r.Length; i++) widths[i] = Math.Max(widths[i], r[i].Length);
        if (header is not null) w.WriteLine(header);
        foreach (var r in rows)
        {
            var line = new System.Text.StringBuilder();
            for (var i = 0; i < r.Length; i++)
            {
                if (i > 0) line.Append("  ");
                line.Append(i == r.Length - 1 ? r[i] : r[i].PadRight(widths[i]));
            }
            w.WriteLine(line.ToString().TrimEnd());
        }
    }
}

/// <summary>
/// Progress on stderr for long work: redrawn in place on a terminal, else one line every few seconds.
/// Always prints nothing for work that finishes within the first <see cref="Delay"/>.
/// </summary>
public sealed class ProgressLine : IDisposable
{
    private readonly CliContext _ctx;
    private readonly bool _inPlace;
    private readonly System.Diagnostics.Stopwatch _sw = System.Diagnostics.Stopwatch.StartNew();
    private readonly Lock _lock = new();
    private TimeSpan _last = TimeSpan.MinValue;
    private bool _drawn;

    public ProgressLine(CliContext ctx, bool force = false)
    {
        _ctx = ctx;
        _inPlace = ctx.ErrIsTerminal;
        Delay = force ? TimeSpan.Zero : TimeSpan.FromMilliseconds(500);
    }

    public TimeSpan Delay { get; set; }

    public void Report(string text)
    {
        lock (_lock)
        {
            var now = _sw.Elapsed;
            if (now < Delay) return;
            var interval = _inPlace ? TimeSpan.FromMilliseconds(100) : TimeSpan.FromSeconds(2);
            if (_last != TimeSpan.MinValue && now - _last < interval) return;
            _last = now;
            if (_inPlace) _ctx.Err.Write("\r\u001b[K" + text);
            else _ctx.Err.WriteLine(text);
            _drawn = true;
        }
    }

    public void Dispose()
    {
        lock (_lock)
            if (_drawn && _inPlace) _ctx.Err.Write("\r\u001b[K");
    }
}

/// <summary>An <see cref="IProgress{T}"/> that reports on the calling thread, at once (unlike <see cref="Progress{T}"/>).</summary>
public sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
