using System.ComponentModel;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Lighthouse.Project.Feed;
using Lighthouse.Project.Files;
using Lighthouse.Store;
using ModelContextProtocol;
using ModelContextProtocol.Server;

namespace Lighthouse.Server.Mcp;

/// <summary>
/// The tools an agent gets over MCP: read, write, edit (replace one unique string), delete, list and search files, and
/// read the log, a file's history, a diff, and restore. Each is one call of the project's file service
/// (<see cref="ProjectFiles"/>) as the session's agent, so it is recorded, policy-checked and attributed exactly as the
/// same change through the mount or the HTTP API. Results are JSON text; a refusal is a tool error whose message says
/// why (the agent reads it), never an exception that ends the session.
/// </summary>
public sealed class McpTools(ProjectFiles files, FileCaller caller)
{
    /// <summary>Bytes of a file that read_file returns at most in one call (the rest with <c>offset</c>).</summary>
    public const int MaxReadBytes = 256 * 1024;
    /// <summary>Bytes a write or edit may carry.</summary>
    public const int MaxWriteBytes = 16 << 20;

    /// <summary>Every tool, bound to this session's agent.</summary>
    public IReadOnlyList<McpServerTool> All() =>
    [
        Tool("read_file", "Reads a text file of the project: now, or as of a point of its history (at: \"@N\", a UTC time, or a snapshot name). Returns its content and its version (content hash), which write_file and edit_file accept as if_match.", ReadFile),
        Tool("write_file", "Writes the whole content of a file (creating it and its directories if needed). With if_match (the version read_file gave) the write happens only if nobody changed the file since; with create_only only if it does not exist yet.", WriteFile),
        Tool("edit_file", "Replaces one exact string of a file with another; the string must occur exactly once (give more context if it occurs several times). The edit is made only if the file did not change between reading and writing it.", EditFile),
        Tool("delete_file", "Deletes a file (or an empty directory). With if_match, only if the file is still at that version.", DeleteFile),
        Tool("list_directory", "Lists a directory of the project: now, or as of a point (at).", ListDirectory),
        Tool("search", "Searches the project's text files for a regular expression (or a plain string with literal=true), like grep -rn; returns path, line number and line of each match.", Search),
        Tool("read_log", "Reads the project's event log (who changed what, when): events after the event number 'since', optionally only of one agent, under one path, or of some operations (create, write, unlink, rename, ...).", ReadLog),
        Tool("file_history", "Lists the recorded versions of a file, newest first, followed across renames and atomic saves: event number, time, agent, operation and content hash of each.", FileHistory),
        Tool("diff", "Lists the paths that differ between two points of the project's history (to defaults to now), optionally under one path.", Diff),
        Tool("restore", "Brings a path (\"\" for the whole project) back to what it was at a point; the restore is recorded as new events of this agent, so it can itself be undone. dry_run lists the steps without making them.", Restore),
    ];

    private static McpServerTool Tool(string name, string description, Delegate method) =>
        McpServerTool.Create(method, new McpServerToolCreateOptions { Name = name, Description = description });

    private string ReadFile(
        [Description("Project-relative path, e.g. src/main.c")] string path,
        [Description("Optional point of history: @N (an event number), a UTC time like 2026-11-25T10:30:00Z, or a snapshot name")] string? at = null,
        [Description("Byte offset to start at (for files larger than one call returns)")] long offset = 0) => Guard(() =>
    {
        if (offset < 0) throw new FileServiceException(FileProblem.BadRequest, "offset must not be negative");
        using var read = files.Read(caller, path, at);
        var (bytes, more) = ReadRange(read.Content, offset, MaxReadBytes);
        var result = new JsonObject
        {
            ["path"] = read.Path,
            ["version"] = read.ContentHash,
            ["size"] = read.Size,
            ["mode"] = Convert.ToString(read.Mode, 8),
        };
        if (read.Seq is { } seq) result["at"] = "@" + seq;
        if (offset > 0) result["offset"] = offset;
        if (LooksBinary(bytes))
        {
            result["encoding"] = "base64";
            result["content"] = Convert.ToBase64String(bytes);
        }
        else result["content"] = Encoding.UTF8.GetString(bytes);
        if (more) result["truncated"] = $"only {bytes.Length} bytes from offset {offset} returned; call again with offset {offset + bytes.Length}";
        return result.ToJsonString();
    });

    private string WriteFile(
        [Description("Project-relative path")] string path,
        [Description("The whole new content (UTF-8 text)")] string content,
        [Description("Optional: the version (content hash) the file must still have; the write fails if someone changed it since")] string? if_match = null,
        [Description("Optional: fail if the file already exists")] bool create_only = false) => Guard(() =>
    {
        var bytes = Encoding.UTF8.GetBytes(content);
        if (bytes.Length > MaxWriteBytes) throw new FileServiceException(FileProblem.BadRequest, $"content is {bytes.Length} bytes; at most {MaxWriteBytes} per call");
        var result = files.Write(caller, path, new MemoryStream(bytes, writable: false), new WritePrecondition { IfMatch = if_match, CreateOnly = create_only });
        return Written(result);
    });

    private string EditFile(
        [Description("Project-relative path of an existing text file")] string path,
        [Description("The exact text to replace; must occur exactly once in the file")] string old_string,
        [Description("The text to put in its place")] string new_string,
        [Description("Optional: the version (content hash) the file must have")] string? if_match = null) => Guard(() =>
    {
        if (old_string.Length == 0) throw new FileServiceException(FileProblem.BadRequest, "old_string is empty: give the exact text to replace");
        string text, version;
        using (var read = files.Read(caller, path))
        {
            if (read.Size > MaxWriteBytes) throw new FileServiceException(FileProblem.BadRequest, $"'{read.Path}' is {read.Size} bytes; edit_file handles files up to {MaxWriteBytes}");
            var (bytes, _) = ReadRange(read.Content, 0, MaxWriteBytes);
            if (LooksBinary(bytes)) throw new FileServiceException(FileProblem.Conflict, $"'{read.Path}' is not a text file");
            text = Encoding.UTF8.GetString(bytes);
            version = read.ContentHash;
        }
        if (if_match is not null && !string.Equals(if_match, version, StringComparison.OrdinalIgnoreCase))
            throw new FileServiceException(FileProblem.PreconditionFailed, $"'{path}' changed: it is at version {version}, not {if_match}; read it again");
        int first = text.IndexOf(old_string, StringComparison.Ordinal);
        if (first < 0) throw new FileServiceException(FileProblem.Conflict, $"old_string does not occur in '{path}'");
        int count = 0;
        for (int i = first; i >= 0 && count < 2; i = text.IndexOf(old_string, i + 1, StringComparison.Ordinal)) count++;
        if (count > 1) throw new FileServiceException(FileProblem.Conflict, $"old_string occurs more than once in '{path}'; include more surrounding text so it is unique");
        var edited = string.Concat(text.AsSpan(0, first), new_string, text.AsSpan(first + old_string.Length));
        // Compare-and-swap on the version just read: an edit never silently drops another agent's change made meanwhile.
        var result = files.Write(caller, path, new MemoryStream(Encoding.UTF8.GetBytes(edited), writable: false), new WritePrecondition { IfMatch = version });
        return Written(result);
    });

    private string DeleteFile(
        [Description("Project-relative path")] string path,
        [Description("Optional: the version (content hash) the file must still have")] string? if_match = null) => Guard(() =>
    {
        files.Delete(caller, path, if_match);
        return new JsonObject { ["deleted"] = ProjectPaths.Parse(path) }.ToJsonString();
    });

    private string ListDirectory(
        [Description("Project-relative directory path; \"\" or \".\" for the project root")] string path = "",
        [Description("Optional point of history (@N, a UTC time, a snapshot name)")] string? at = null) => Guard(() =>
    {
        var listing = files.List(caller, path == "." ? "" : path, at);
        var entries = new JsonArray();
        foreach (var e in listing.Entries)
        {
            var entry = new JsonObject { ["name"] = e.Name, ["kind"] = e.Kind.ToString().ToLowerInvariant(), ["size"] = e.Size, ["mode"] = Convert.ToString(e.Mode, 8) };
            if (e.Target is not null) entry["target"] = e.Target;
            entries.Add(entry);
        }
        var result = new JsonObject { ["path"] = listing.Path, ["entries"] = entries };
        if (listing.Seq is { } seq) result["at"] = "@" + seq;
        return result.ToJsonString();
    });

    private string Search(
        [Description("A .NET regular expression, or a plain string with literal=true")] string pattern,
        [Description("Optional directory or file to search under (default: the whole project)")] string? path = null,
        [Description("Treat the pattern as a plain string")] bool literal = false,
        [Description("Ignore case")] bool ignore_case = false,
        [Description("At most this many matches (1-1000)")] int max_matches = 200) => Guard(() =>
    {
        if (max_matches is < 1 or > 1000) throw new FileServiceException(FileProblem.BadRequest, "max_matches must be between 1 and 1000");
        var found = files.Search(caller, pattern, path, literal, ignore_case, max_matches);
        var matches = new JsonArray();
        foreach (var m in found.Matches) matches.Add(new JsonObject { ["path"] = m.Path, ["line"] = m.Line, ["text"] = m.Text });
        return new JsonObject { ["matches"] = matches, ["filesSearched"] = found.FilesSearched, ["truncated"] = found.Truncated }.ToJsonString();
    });

    private string ReadLog(
        [Description("Only events after this event number (0: from the start)")] long since = 0,
        [Description("Only events of this agent")] string? agent = null,
        [Description("Only events about this path or under it")] string? path = null,
        [Description("Only these operations, comma-separated (create, write, unlink, rename, mkdir, rmdir, setattr, ...)")] string? op = null,
        [Description("At most this many events (1-1000)")] int limit = 100) => Guard(() =>
    {
        var filter = new FeedFilter { Agent = agent, PathPrefix = path is null ? null : ProjectPaths.Parse(path), Operations = ParseOps(op) };
        var page = files.Events(caller, since, filter, limit);
        var text = new StringBuilder();
        foreach (var e in page.Events) text.Append(FeedFormat.ToJsonLine(e));
        text.Append(new JsonObject { ["next"] = page.Next, ["more"] = page.More }.ToJsonString()).Append('\n');
        return text.ToString();
    });

    private string FileHistory(
        [Description("Project-relative path")] string path,
        [Description("Optional point: versions up to it")] string? at = null) => Guard(() =>
    {
        var versions = new JsonArray();
        foreach (var v in files.History(caller, path, at))
            versions.Add(new JsonObject
            {
                ["seq"] = v.VersionSeq, ["time"] = v.TimeUtc.ToString("O"), ["agent"] = v.Agent, ["op"] = EventOpNames.Name(v.Op),
                ["path"] = v.Path, ["size"] = v.Attributes.Size, ["version"] = v.ContentHash, ["content"] = v.ContentState.ToString().ToLowerInvariant(),
            });
        return new JsonObject { ["path"] = ProjectPaths.Parse(path), ["versions"] = versions }.ToJsonString();
    });

    private string Diff(
        [Description("The older point (@N, a UTC time, a snapshot name)")] string from,
        [Description("The newer point (default: now)")] string? to = null,
        [Description("Only paths under this one")] string? path = null) => Guard(() =>
    {
        var diff = files.Diff(caller, from, to, path);
        var changes = new JsonArray();
        foreach (var c in diff.Changes)
            changes.Add(new JsonObject
            {
                ["path"] = c.Path, ["change"] = c.Change.ToString().ToLowerInvariant(),
                ["before"] = c.HashBefore, ["after"] = c.HashAfter,
                ["kind"] = (c.KindAfter ?? c.KindBefore)?.ToString().ToLowerInvariant(),
            });
        return new JsonObject { ["from"] = "@" + diff.From, ["to"] = "@" + diff.To, ["changes"] = changes }.ToJsonString();
    });

    private string Restore(
        [Description("Project-relative path to restore; \"\" for the whole project")] string path,
        [Description("The point to bring it back to (@N, a UTC time, a snapshot name)")] string at,
        [Description("Only list the steps")] bool dry_run = false) => Guard(() =>
    {
        var outcome = files.Restore(caller, path, at, dry_run);
        var steps = new JsonArray();
        foreach (var (action, p) in outcome.Steps) steps.Add(new JsonObject { ["action"] = action, ["path"] = p });
        var failures = new JsonArray();
        foreach (var (p, message) in outcome.Failures) failures.Add(new JsonObject { ["path"] = p, ["error"] = message });
        return new JsonObject { ["path"] = outcome.Path, ["at"] = "@" + outcome.Seq, ["dryRun"] = outcome.DryRun, ["steps"] = steps, ["failures"] = failures }.ToJsonString();
    });

    private static string Written(WriteResult r) => new JsonObject
    {
        ["path"] = r.Path, ["created"] = r.Created, ["version"] = r.ContentHash, ["size"] = r.Size,
        ["directoriesCreated"] = new JsonArray([.. r.DirectoriesCreated.Select(d => (JsonNode)d)]),
    }.ToJsonString();

    internal static IReadOnlySet<EventOp>? ParseOps(string? ops)
    {
        if (string.IsNullOrWhiteSpace(ops)) return null;
        var set = new HashSet<EventOp>();
        foreach (var name in ops.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            set.Add(EventOpNames.TryParse(name, out var op) ? op : throw new FileServiceException(FileProblem.BadRequest, $"unknown operation '{name}'"));
        return set;
    }

    private static (byte[] Bytes, bool More) ReadRange(Stream content, long offset, int max)
    {
        if (offset > 0)
        {
            if (content.CanSeek) content.Seek(offset, SeekOrigin.Begin);
            else
            {
                var skip = new byte[64 * 1024];
                for (long left = offset; left > 0;)
                {
                    int n = content.Read(skip, 0, (int)Math.Min(skip.Length, left));
                    if (n == 0) break;
                    left -= n;
                }
            }
        }
        var buffer = new byte[max + 1];
        int total = 0;
        while (total < buffer.Length)
        {
            int n = content.Read(buffer, total, buffer.Length - total);
            if (n == 0) break;
            total += n;
        }
        return total > max ? (buffer[..max], true) : (buffer[..total], false);
    }

    /// <summary>A NUL in the first 8 KiB, as git and grep decide.</summary>
    private static bool LooksBinary(ReadOnlySpan<byte> bytes) => bytes[..Math.Min(bytes.Length, 8192)].Contains((byte)0);

    /// <summary>The service's refusals become tool errors with its message (MCP: the model sees the text and can act on it).</summary>
    private static string Guard(Func<string> call)
    {
        try { return call(); }
        catch (FileServiceException e) { throw new McpException($"{ProblemWord(e.Problem)}: {e.Message}"); }
        catch (StoreException e) { throw new McpException($"store: {e.Message}"); }
        catch (IOException e) { throw new McpException($"i/o error: {e.Message}"); }
    }

    internal static string ProblemWord(FileProblem p) => p switch
    {
        FileProblem.BadPath => "bad path",
        FileProblem.NotFound => "not found",
        FileProblem.Forbidden => "forbidden",
        FileProblem.Conflict => "conflict",
        FileProblem.PreconditionFailed => "changed since read",
        FileProblem.Unavailable => "unavailable",
        _ => "bad request",
    };
}
