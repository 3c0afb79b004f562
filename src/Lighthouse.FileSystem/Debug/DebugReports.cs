using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Lighthouse.FileSystem.Current;
using Lighthouse.FileSystem.Sections;
using Lighthouse.Fuse.Protocol;
using Lighthouse.Fuse.Session;
using Lighthouse.Passthrough;
using Lighthouse.Project;
using Lighthouse.Project.Status;
using Lighthouse.Store;

namespace Lighthouse.FileSystem.Debug;

public enum DebugFile { StatsJson, StatsProm, SlowJsonl, HandlesJson, StoreJson, HealthJson }

/// <summary>
/// What the files of debug/ say, rendered from the sources `lighthouse status` reads (the session's statistics and
/// connection, the passthrough's handles, <see cref="ProjectHost.Status"/>, <see cref="RecordSummary"/>, the store's
/// usage), with the time of the last change each reflects.
/// </summary>
public sealed class DebugReports(ProjectHost project, CurrentSection current, Func<FuseSession?> session)
{
    private const string Withheld = "shown to the mount's owner and root only";
    private static readonly JsonWriterOptions Indented = new() { Indented = true };
    private readonly Lock _storeGate = new();
    private (long LastSeq, long Recorded, long GcRuns, byte[] Content, DateTime Changed)? _store;

    /// <summary>When the mount (its debug/) came up: the times of what has not changed since.</summary>
    public DateTime StartedUtc { get; } = DateTime.UtcNow;

    public (byte[] Content, DateTime Changed) Render(DebugFile file, bool seesAll) => file switch
    {
        DebugFile.StatsJson => (StatsJson(), StatsChanged()),
        DebugFile.StatsProm => (StatsProm(), StatsChanged()),
        DebugFile.SlowJsonl => SlowJsonl(seesAll),
        DebugFile.HandlesJson => HandlesJson(seesAll),
        DebugFile.StoreJson => StoreJson(),
        DebugFile.HealthJson => HealthJson(),
        _ => throw new ArgumentOutOfRangeException(nameof(file)),
    };

    private static string Utc(DateTime t) => t.ToUniversalTime().ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture);

    private static DateTime Latest(params DateTime?[] times) =>
        times.Where(t => t is not null).Select(t => t!.Value.ToUniversalTime()).DefaultIfEmpty(DateTime.UnixEpoch).Max();

    private static byte[] Json(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(4096);
        using (var json = new Utf8JsonWriter(buffer, Indented)) write(json);
        buffer.Write("\n"u8);
        return buffer.WrittenSpan.ToArray();
    }

    private DateTime StatsChanged() => Latest(StartedUtc, session()?.Stats.LastRequestUtc, current.Activity.ChangedUtc);

    // ------------------------------------------------------------------ names

    /// <summary>The kernel's name of an opcode (FUSE_GETATTR → "GETATTR").</summary>
    public static string OpName(Opcode op) => op switch
    {
        0 => "OTHER",
        Opcode.BatchForget => "BATCH_FORGET",
        Opcode.NotifyReply => "NOTIFY_REPLY",
        Opcode.CopyFileRange => "COPY_FILE_RANGE",
        Opcode.CopyFileRange64 => "COPY_FILE_RANGE_64",
        _ when Enum.IsDefined(op) => op.ToString().ToUpperInvariant(),
        _ => "OPCODE_" + ((uint)op).ToString(CultureInfo.InvariantCulture),
    };

    private static readonly Dictionary<int, string> ErrnoNames = new()
    {
        [1] = "EPERM", [2] = "ENOENT", [3] = "ESRCH", [4] = "EINTR", [5] = "EIO", [6] = "ENXIO", [7] = "E2BIG", [9] = "EBADF",
        [11] = "EAGAIN", [12] = "ENOMEM", [13] = "EACCES", [14] = "EFAULT", [16] = "EBUSY", [17] = "EEXIST", [18] = "EXDEV",
        [19] = "ENODEV", [20] = "ENOTDIR", [21] = "EISDIR", [22] = "EINVAL", [23] = "ENFILE", [24] = "EMFILE", [25] = "ENOTTY",
        [26] = "ETXTBSY", [27] = "EFBIG", [28] = "ENOSPC", [29] = "ESPIPE", [30] = "EROFS", [31] = "EMLINK", [34] = "ERANGE",
        [35] = "EDEADLK", [36] = "ENAMETOOLONG", [37] = "ENOLCK", [38] = "ENOSYS", [39] = "ENOTEMPTY", [40] = "ELOOP",
        [61] = "ENODATA", [75] = "EOVERFLOW", [95] = "EOPNOTSUPP", [116] = "ESTALE", [122] = "EDQUOT", [125] = "ECANCELED",
    };

    public static string ErrnoName(int errno) => ErrnoNames.TryGetValue(errno, out var name) ? name : "E" + errno.ToString(CultureInfo.InvariantCulture);

    private static readonly (int Bit, string Name)[] OpenFlagNames =
    [
        (0x400, "O_APPEND"), (0x8000, "O_LARGEFILE"), (0x800, "O_NONBLOCK"), (0x1000, "O_DSYNC"), (0x4000, "O_DIRECT"), (0x10000, "O_DIRECTORY"),
        (0x20000, "O_NOFOLLOW"), (0x40000, "O_NOATIME"), (0x80000, "O_CLOEXEC"), (0x101000, "O_SYNC"), (0x200000, "O_PATH"),
        (0x200, "O_TRUNC"), (0x40, "O_CREAT"), (0x80, "O_EXCL"), (0x410000, "O_TMPFILE"),
    ];

    /// <summary>open(2) flags as names: the access mode first.</summary>
    public static IEnumerable<string> FlagNames(int flags)
    {
        yield return (flags & 3) switch { 0 => "O_RDONLY", 1 => "O_WRONLY", 2 => "O_RDWR", _ => "O_ACCMODE" };
        int rest = flags & ~3;
        foreach (var (bit, name) in OpenFlagNames)
            if ((rest & bit) == bit) { yield return name; rest &= ~bit; }
        if (rest != 0) yield return "0x" + rest.ToString("x", CultureInfo.InvariantCulture);
    }

    /// <summary>A node of current/ as a path of the mount ("current/src/a.c"), null if it is not one or has no name now.</summary>
    private string? PathOf(ulong nodeId)
    {
        if (SectionIds.TagOf(nodeId) != current.Tag) return null;
        return current.Passthrough.Nodes.Get(nodeId) is { } node ? PathOf(node) : null;
    }

    private string? PathOf(Node node)
    {
        try
        {
            var relative = current.Passthrough.RelativePath(node);
            return relative.Length == 0 ? "current" : "current/" + relative;
        }
        catch (IOException) { return null; } // unlinked: no name any more
    }

    // ------------------------------------------------------------------ stats.json

    private static double Round(double micros) => Math.Round(micros, 1);

    private byte[] StatsJson()
    {
        var s = session();
        var stats = s?.Stats;
        var operations = stats?.Snapshot() ?? [];
        var agents = current.Activity.Snapshot();
        return Json(json =>
        {
            json.WriteStartObject();
            json.WriteString("since", Utc(stats?.StartedUtc ?? StartedUtc));
            if (stats?.LastRequestUtc is { } last) json.WriteString("lastRequest", Utc(last));
            else json.WriteNull("lastRequest");
            json.WriteNumber("requests", stats?.TotalRequests ?? 0);
            json.WriteString("notCounted", "requests about debug/ itself (reading it changes nothing it shows)");
            WriteConnection(json, s);
            json.WriteString("latencyUnit", "microseconds");
            json.WriteString("windows", "each window holds the requests that ended in the current minute and the 1, 10 or 60 minutes before it; " +
                "percentiles are the upper bound of a bucket about 19% wide, never above the maximum of the window");
            json.WriteStartObject("operations");
            foreach (var op in operations)
            {
                json.WriteStartObject(OpName(op.Opcode));
                json.WriteNumber("count", op.Count);
                json.WriteNumber("errors", op.Errors);
                json.WriteStartObject("errorsByErrno");
                foreach (var (errno, count) in op.ErrorsByErrno) json.WriteNumber(ErrnoName(errno), count);
                json.WriteEndObject();
                if (op.Opcode is Opcode.Read or Opcode.Write) json.WriteNumber("bytes", op.Bytes);
                json.WriteStartObject("latency");
                foreach (var w in op.Windows)
                {
                    json.WriteStartObject(w.Name);
                    json.WriteNumber("count", w.Count);
                    json.WriteNumber("mean", w.Count == 0 ? 0 : Round(w.SumMicros / w.Count));
                    json.WriteNumber("p50", Round(w.P50Micros));
                    json.WriteNumber("p90", Round(w.P90Micros));
                    json.WriteNumber("p99", Round(w.P99Micros));
                    json.WriteNumber("max", Round(w.MaxMicros));
                    json.WriteEndObject();
                }
                json.WriteEndObject();
                json.WriteEndObject();
            }
            json.WriteEndObject();
            json.WriteStartObject("agents");
            json.WriteString("counted", "opens and changes (create, remove, rename, link, attributes) in current/ as operations; " +
                "bytes the mount read and wrote for the agent's handles, added when each is closed");
            json.WriteString("notCounted", current.Passthrough.UsingKernelPassthrough
                ? "lookups, stats and listings; and the data of files opened with kernel passthrough (on for this mount): the kernel reads and writes it without the mount"
                : "lookups, stats and listings");
            json.WriteStartObject("byAgent");
            foreach (var a in agents)
            {
                json.WriteStartObject(a.Agent);
                json.WriteNumber("operations", a.Operations);
                json.WriteNumber("bytesRead", a.BytesRead);
                json.WriteNumber("bytesWritten", a.BytesWritten);
                json.WriteEndObject();
            }
            json.WriteEndObject();
            json.WriteEndObject();
            json.WriteStartObject("slow");
            json.WriteNumber("thresholdMs", stats is null ? 0 : stats.SlowThreshold.TotalMilliseconds);
            json.WriteNumber("seen", stats?.SlowRequestsSeen ?? 0);
            json.WriteEndObject();
            json.WriteEndObject();
        });
    }

    private void WriteConnection(Utf8JsonWriter json, FuseSession? s)
    {
        json.WriteStartObject("connection");
        if (s?.Connection is { } c)
        {
            json.WriteString("protocol", $"{c.KernelMajor}.{c.Minor}");
            json.WriteString("kernelProtocol", $"{c.KernelMajor}.{c.KernelMinor}");
            json.WriteStartArray("flags");
            foreach (InitFlags flag in Enum.GetValues<InitFlags>())
                if (flag != InitFlags.None && c.Has(flag)) json.WriteStringValue(flag.ToString());
            json.WriteEndArray();
            json.WriteNumber("maxWrite", c.MaxWrite);
            json.WriteNumber("maxReadahead", c.MaxReadahead);
            json.WriteNumber("maxBackground", c.MaxBackground);
            json.WriteNumber("congestionThreshold", c.CongestionThreshold);
            json.WriteNumber("timeGranularityNs", c.TimeGranularityNs);
        }
        else json.WriteNull("protocol");
        json.WriteBoolean("kernelPassthrough", current.Passthrough.UsingKernelPassthrough);
        json.WriteString("kernelPassthroughOff", current.Passthrough.KernelPassthroughOff);
        json.WriteNumber("workers", s?.WorkerCount ?? 0);
        json.WriteNumber("ioUringQueues", s?.RingQueues ?? 0);
        json.WriteEndObject();
    }

    // ------------------------------------------------------------------ stats.prom

    private static string Label(string value) => value.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n");
    private static string Num(double v) => double.IsPositiveInfinity(v) ? "+Inf" : v.ToString("R", CultureInfo.InvariantCulture);

    private byte[] StatsProm()
    {
        var s = session();
        var operations = s?.Stats.Snapshot() ?? [];
        var agents = current.Activity.Snapshot();
        var text = new StringBuilder();
        void Family(string name, string type, string help)
        {
            text.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n');
            text.Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
        }
        void Sample(string name, string labels, double value) =>
            text.Append(name).Append(labels.Length == 0 ? "" : "{" + labels + "}").Append(' ').Append(Num(value)).Append('\n');

        Family("lighthouse_fuse_requests_total", "counter", "FUSE requests answered since the mount started, by operation (requests about debug/ are not counted).");
        foreach (var op in operations) Sample("lighthouse_fuse_requests_total", $"op=\"{OpName(op.Opcode)}\"", op.Count);
        Family("lighthouse_fuse_errors_total", "counter", "FUSE requests answered with an error, by operation and errno.");
        foreach (var op in operations)
            foreach (var (errno, count) in op.ErrorsByErrno)
                Sample("lighthouse_fuse_errors_total", $"op=\"{OpName(op.Opcode)}\",errno=\"{ErrnoName(errno)}\"", count);
        Family("lighthouse_fuse_bytes_total", "counter", "Data bytes moved by READ and WRITE requests through the mount (not by kernel passthrough).");
        foreach (var op in operations.Where(o => o.Opcode is Opcode.Read or Opcode.Write))
            Sample("lighthouse_fuse_bytes_total", $"op=\"{OpName(op.Opcode)}\"", op.Bytes);
        Family("lighthouse_fuse_request_duration_seconds", "summary",
            "FUSE request latency over sliding windows (1m, 10m, 1h: the current minute and the 1, 10 or 60 before it).");
        foreach (var op in operations)
            foreach (var w in op.Windows)
            {
                string labels = $"op=\"{OpName(op.Opcode)}\",window=\"{w.Name}\"";
                Sample("lighthouse_fuse_request_duration_seconds", labels + ",quantile=\"0.5\"", w.P50Micros / 1e6);
                Sample("lighthouse_fuse_request_duration_seconds", labels + ",quantile=\"0.9\"", w.P90Micros / 1e6);
                Sample("lighthouse_fuse_request_duration_seconds", labels + ",quantile=\"0.99\"", w.P99Micros / 1e6);
                Sample("lighthouse_fuse_request_duration_seconds", labels + ",quantile=\"1\"", w.MaxMicros / 1e6);
                Sample("lighthouse_fuse_request_duration_seconds_sum", labels, w.SumMicros / 1e6);
                Sample("lighthouse_fuse_request_duration_seconds_count", labels, w.Count);
            }
        Family("lighthouse_fuse_slow_requests_total", "counter", "Requests that took at least the slow threshold.");
        Sample("lighthouse_fuse_slow_requests_total", "", s?.Stats.SlowRequestsSeen ?? 0);
        Family("lighthouse_agent_operations_total", "counter", "Opens and changes in current/, by agent.");
        foreach (var a in agents) Sample("lighthouse_agent_operations_total", $"agent=\"{Label(a.Agent)}\"", a.Operations);
        Family("lighthouse_agent_read_bytes_total", "counter", "Bytes the mount read for an agent's closed handles (not kernel passthrough).");
        foreach (var a in agents) Sample("lighthouse_agent_read_bytes_total", $"agent=\"{Label(a.Agent)}\"", a.BytesRead);
        Family("lighthouse_agent_written_bytes_total", "counter", "Bytes the mount wrote for an agent's closed handles (not kernel passthrough).");
        foreach (var a in agents) Sample("lighthouse_agent_written_bytes_total", $"agent=\"{Label(a.Agent)}\"", a.BytesWritten);
        var status = project.Status();
        Family("lighthouse_open_handles", "gauge", "Files and directories open in current/.");
        Sample("lighthouse_open_handles", "", current.Passthrough.OpenHandles);
        Family("lighthouse_recording_backlog", "gauge", "Records queued for the store.");
        Sample("lighthouse_recording_backlog", "", status.Backlog);
        Family("lighthouse_recording_failures_total", "counter", "Records the store could not take.");
        Sample("lighthouse_recording_failures_total", "", status.RecordingFailures);
        Family("lighthouse_events_last_seq", "gauge", "The sequence number of the last event in the log.");
        Sample("lighthouse_events_last_seq", "", status.LastSeq);
        Family("lighthouse_kernel_passthrough", "gauge", "1 when file data goes through the kernel's FUSE passthrough.");
        Sample("lighthouse_kernel_passthrough", "", current.Passthrough.UsingKernelPassthrough ? 1 : 0);
        return Encoding.UTF8.GetBytes(text.ToString());
    }

    // ------------------------------------------------------------------ slow.jsonl

    private (byte[], DateTime) SlowJsonl(bool seesAll)
    {
        var stats = session()?.Stats;
        var slow = stats?.SlowRequests() ?? [];
        var buffer = new ArrayBufferWriter<byte>(4096);
        foreach (var r in slow)
        {
            using (var json = new Utf8JsonWriter(buffer))
            {
                json.WriteStartObject();
                json.WriteString("time", Utc(r.StartedUtc));
                json.WriteString("op", OpName(r.Opcode));
                json.WriteNumber("ms", Math.Round(r.Micros / 1000, 3));
                if (r.Errno > 0) json.WriteString("errno", ErrnoName(r.Errno));
                else json.WriteNull("errno");
                if (seesAll)
                {
                    json.WriteNumber("node", r.Node);
                    json.WriteString("path", PathOf(r.Node));
                    json.WriteNumber("pid", r.Pid);
                    json.WriteNumber("uid", r.Uid);
                }
                json.WriteEndObject();
            }
            buffer.Write("\n"u8);
        }
        return (buffer.WrittenSpan.ToArray(), Latest(StartedUtc, slow.Count == 0 ? null : slow[^1].StartedUtc));
    }

    // ------------------------------------------------------------------ handles.json

    private (byte[], DateTime) HandlesJson(bool seesAll)
    {
        var handles = current.Passthrough.OpenFiles();
        var content = Json(json =>
        {
            json.WriteStartObject();
            json.WriteNumber("open", handles.Count);
            json.WriteNumber("files", handles.Count(h => !h.Directory));
            json.WriteNumber("directories", handles.Count(h => h.Directory));
            if (!seesAll)
            {
                json.WriteString("handles", "withheld: which files are open, by whom, is " + Withheld);
                json.WriteEndObject();
                return;
            }
            json.WriteString("bytes", "read and written by the mount through each handle; null for files the kernel passes through (their data never reaches the mount)");
            json.WriteStartArray("handles");
            foreach (var h in handles.OrderBy(h => h.OpenedUtc))
            {
                json.WriteStartObject();
                json.WriteNumber("fh", h.Fh);
                json.WriteString("path", PathOf(h.Node));
                json.WriteBoolean("directory", h.Directory);
                json.WriteString("agent", RecordingObserver.OpenerOf(h.OpenedBy)?.Name);
                json.WriteNumber("pid", h.Pid);
                json.WriteStartArray("flags");
                foreach (var name in FlagNames(h.Flags)) json.WriteStringValue(name);
                json.WriteEndArray();
                json.WriteBoolean("writable", h.Writable);
                json.WriteBoolean("kernelPassthrough", h.KernelPassthrough);
                if (h.KernelPassthrough) { json.WriteNull("bytesRead"); json.WriteNull("bytesWritten"); }
                else { json.WriteNumber("bytesRead", h.BytesRead); json.WriteNumber("bytesWritten", h.BytesWritten); }
                json.WriteString("opened", Utc(h.OpenedUtc));
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();
        });
        return (content, Latest(StartedUtc, current.Passthrough.HandlesChangedUtc));
    }

    // ------------------------------------------------------------------ store.json

    /// <summary>Rendered again only when the record or a collection moved (the figures take queries of the store).</summary>
    private (byte[], DateTime) StoreJson()
    {
        var status = project.Status();
        lock (_storeGate)
        {
            if (_store is { } kept && kept.LastSeq == status.LastSeq && kept.Recorded == status.RecordsDone && kept.GcRuns == status.GcRuns)
                return (kept.Content, kept.Changed);
            var store = project.Store;
            var summary = RecordSummary.Of(store);
            var usage = store.Usage(largest: 0);
            var content = Json(json =>
            {
                json.WriteStartObject();
                json.WriteString("projectDir", status.ProjectDir);
                json.WriteNumber("events", summary.Events);
                if (summary.LastEvent is { } e)
                {
                    json.WriteStartObject("lastEvent");
                    json.WriteNumber("seq", e.Seq);
                    json.WriteString("time", Utc(e.TimeUtc));
                    json.WriteString("agent", e.Agent);
                    json.WriteString("op", e.Op.ToString());
                    json.WriteEndObject();
                }
                else json.WriteNull("lastEvent");
                json.WriteNumber("snapshots", summary.Snapshots.Count);
                json.WriteStartObject("objects");
                json.WriteNumber("count", summary.Objects.Count);
                json.WriteNumber("bytes", summary.Objects.Bytes);
                json.WriteEndObject();
                json.WriteStartObject("store");
                json.WriteNumber("bytesOnDisk", usage.StoreBytes);
                json.WriteNumber("databaseBytes", usage.DatabaseBytes);
                json.WriteNumber("databaseFreeBytes", usage.DatabaseFreeBytes);
                json.WriteNumber("objectFiles", usage.ObjectFiles);
                json.WriteNumber("objectFileBytes", usage.ObjectFileBytes);
                json.WriteNumber("chunks", usage.Chunks);
                json.WriteNumber("chunkRawBytes", usage.ChunkRawBytes);
                json.WriteNumber("chunkStoredBytes", usage.ChunkStoredBytes);
                json.WriteNumber("keptVersions", usage.KeptVersions);
                json.WriteNumber("keptBytes", usage.KeptBytes);
                json.WriteNumber("prunedVersions", usage.PrunedVersions);
                json.WriteNumber("dedupRatio", Math.Round(usage.DedupRatio, 3));
                json.WriteNumber("compressionRatio", Math.Round(usage.CompressionRatio, 3));
                json.WriteEndObject();
                json.WriteStartObject("chain");
                json.WriteBoolean("ok", summary.Chain.Ok);
                json.WriteString("scope", summary.ChainCheckedFully ? "full" : $"last {RecordSummary.QuickChainCheck} events");
                json.WriteNumber("eventsChecked", summary.Chain.EventsChecked);
                json.WriteString("problem", summary.Chain.Problem);
                json.WriteEndObject();
                json.WriteStartObject("commits");
                json.WriteNumber("transactions", status.Commits);
                json.WriteNumber("events", status.CommittedEvents);
                json.WriteEndObject();
                json.WriteEndObject();
            });
            var changed = Latest(StartedUtc, summary.LastEvent?.TimeUtc, status.LastGcUtc);
            _store = (status.LastSeq, status.RecordsDone, status.GcRuns, content, changed);
            return (content, changed);
        }
    }

    // ------------------------------------------------------------------ health.json

    private (byte[], DateTime) HealthJson()
    {
        var s = session();
        var status = project.Status();
        var lastEvent = status.LastSeq > 0 ? project.Store.Log(new LogQuery { Limit = 1 }).Events.FirstOrDefault()?.TimeUtc : null;
        var content = Json(json =>
        {
            json.WriteStartObject();
            bool alive = s is not null && s.Failure is null && s.WorkerCount > 0 && s.Connection is not null;
            json.WriteBoolean("alive", alive);
            json.WriteString("failure", s?.Failure);
            json.WriteNumber("pid", Environment.ProcessId);
            json.WriteString("started", Utc(StartedUtc));
            json.WriteStartObject("recording");
            json.WriteNumber("recorded", status.RecordsDone);
            json.WriteNumber("backlog", status.Backlog);
            json.WriteNumber("failures", status.RecordingFailures);
            json.WriteString("lastError", status.LastRecordingError);
            json.WriteNumber("repairs", status.Repairs);
            json.WriteNumber("externalEvents", status.ExternalEvents);
            json.WriteNumber("lastSeq", status.LastSeq);
            json.WriteEndObject();
            json.WriteStartObject("gc");
            json.WriteBoolean("inBackground", project.Gc is not null);
            json.WriteNumber("runs", status.GcRuns);
            if (status.LastGcUtc is { } gc) json.WriteString("lastRun", Utc(gc));
            else json.WriteNull("lastRun");
            json.WriteNumber("lastBytesFreed", status.LastGcBytesFreed);
            json.WriteString("lastError", status.LastGcError);
            json.WriteEndObject();
            json.WriteNumber("openHandles", current.Passthrough.OpenHandles);
            json.WriteNumber("nodesKnown", current.Passthrough.Nodes.Count);
            json.WriteNumber("pendingReplies", s?.PendingDeferred ?? 0);
            json.WriteEndObject();
        });
        return (content, Latest(StartedUtc, lastEvent, status.LastGcUtc));
    }
}
