using Lighthouse.Project.Agents;
using Lighthouse.Store;

namespace Lighthouse.Project.Files;

/// <summary>
/// Who asks the file service: the agent (named by its token; its events say <c>agentVia: token</c>) and the channel it
/// came through ("http", "mcp"), which the access policy sees as the caller's command line (a rule with
/// <c>commands: [http]</c> matches it).
/// </summary>
public sealed record FileCaller(Agent Agent, string Channel);

/// <summary>Why the file service refused or failed a request; servers map it to their own codes (HTTP: 400, 404, 403, 409, 412, 422).</summary>
public enum FileProblem
{
    /// <summary>The path is not a project path: absolute, "..", NUL, too long, inside .lighthouse/, not UTF-8.</summary>
    BadPath,
    /// <summary>Nothing there (or hidden from the caller by the policy: the two look the same).</summary>
    NotFound,
    /// <summary>The access policy refuses it (deny, read-only), or the path leads out of the project through a symbolic link.</summary>
    Forbidden,
    /// <summary>The state of the tree does not allow it: a directory where a file was asked for, a symlink to write through,
    /// a directory that is not empty, a name taken meanwhile, a snapshot name in use.</summary>
    Conflict,
    /// <summary>The caller's expected version (If-Match / If-None-Match) is not the file's.</summary>
    PreconditionFailed,
    /// <summary>A point (@N, a time, a snapshot) that names nothing, or bytes history did not keep.</summary>
    Unavailable,
    /// <summary>Bad arguments other than the path (a malformed pattern, a limit out of range).</summary>
    BadRequest,
}

/// <summary>A refusal or failure of the file service, with a message meant for the agent that asked.</summary>
public sealed class FileServiceException(FileProblem problem, string message) : Exception(message)
{
    public FileProblem Problem { get; } = problem;
}

/// <summary>What a write expects of the file it replaces.</summary>
public readonly record struct WritePrecondition
{
    /// <summary>The content hash (ETag) the file must have now; null: any.</summary>
    public string? IfMatch { get; init; }
    /// <summary>The file must not exist (If-None-Match: *): create only.</summary>
    public bool CreateOnly { get; init; }

    public static WritePrecondition None => default;
}

/// <summary>A file opened for reading by the service: its bytes (dispose when done) and what names that version.</summary>
/// <param name="Path">The project path asked for.</param>
/// <param name="ContentHash">SHA-256 of the bytes, hex: the content hash the store gives that version (an HTTP ETag).</param>
/// <param name="Seq">The event the version was read as of; null for the live file.</param>
public sealed class FileRead(string path, FileKind kind, long size, int mode, long mtimeNs, string contentHash, long? seq, Stream content) : IDisposable
{
    public string Path { get; } = path;
    public FileKind Kind { get; } = kind;
    public long Size { get; } = size;
    public int Mode { get; } = mode;
    public long MtimeNs { get; } = mtimeNs;
    public string ContentHash { get; } = contentHash;
    public long? Seq { get; } = seq;
    public Stream Content { get; } = content;
    public void Dispose() => Content.Dispose();
}

/// <summary>An entry of a directory listing. <paramref name="Target"/>: a symbolic link's target (live listings only).</summary>
public sealed record TreeEntry(string Name, string Path, FileKind Kind, long Size, int Mode, long MtimeNs, string? Target = null);

/// <summary>A listing: the directory's entries the caller may see, sorted by name; <paramref name="Seq"/> null for the live tree.</summary>
public sealed record TreeListing(string Path, long? Seq, IReadOnlyList<TreeEntry> Entries);

/// <summary>What a write did: <paramref name="Created"/> (a new file) or replaced; the new bytes' hash and size; the
/// directories it created on the way.</summary>
public sealed record WriteResult(string Path, bool Created, string ContentHash, long Size, IReadOnlyList<string> DirectoriesCreated);

/// <summary>A page of events, oldest first, that the caller may see; <paramref name="Next"/>: pass as the next
/// <c>after</c> to go on (the last event looked at, seen or not); <paramref name="More"/>: the log goes on past it.</summary>
public sealed record EventPage(IReadOnlyList<StoreEvent> Events, long Next, bool More);

/// <summary>One line that matched a search.</summary>
public sealed record SearchMatch(string Path, int Line, string Text);

/// <summary>A search's matches; <paramref name="Truncated"/> when a bound (matches, files, bytes) stopped it early.</summary>
public sealed record SearchResult(IReadOnlyList<SearchMatch> Matches, int FilesSearched, bool Truncated);

/// <summary>A path that differs between two points; kinds null where it did not exist.</summary>
public sealed record DiffEntry(string Path, ChangeKind Change, FileKind? KindBefore, FileKind? KindAfter, string? HashBefore, string? HashAfter);

public sealed record DiffResult(long From, long To, IReadOnlyList<DiffEntry> Changes);

/// <summary>What a restore did (or, dry run, would do): each step's verb and path; failures by path.</summary>
public sealed record RestoreOutcome(string Path, long Seq, bool DryRun, IReadOnlyList<(string Action, string Path)> Steps,
    IReadOnlyList<(string Path, string Message)> Failures);
