using Lighthouse.Project;
using Lighthouse.Project.Agents;
using Lighthouse.Project.History;
using Lighthouse.Project.Policy;
using Lighthouse.Store;

namespace Lighthouse.FileSystem.Streams;

/// <summary>
/// Who reads a stream, decided once at open (the pid, uid and gid of the open request), and what of each event that
/// reader may see: the events whose paths it could list as of the event (POSIX permissions then, as other users'
/// <c>lighthouse log</c> is answered) and that the access policy lets its agent read now. An event about paths it may
/// not see is left out whole; a content hash it could not have read is withheld.
/// </summary>
internal sealed class StreamViewer
{
    private readonly ProjectHost _project;
    private readonly HistoryReader? _posix; // null: root, who reads everything
    private readonly Agent _agent;
    private readonly PolicySubject _subject;

    private StreamViewer(ProjectHost project, HistoryReader? posix, Agent agent, PolicySubject subject)
    {
        _project = project; _posix = posix; _agent = agent; _subject = subject;
    }

    public static StreamViewer Of(ProjectHost project, uint pid, uint uid, uint gid)
    {
        var agent = project.Agents.Resolve(new Caller(pid, uid, gid));
        var posix = uid == 0 ? null : HistoryReader.OfProcess((int)pid, uid, gid);
        // The command line is read once, when a rule first asks (a stream outlives many policies, not many execs).
        var subject = PolicySubject.WithCommandLineFrom(agent.Name, agent.Role, () => CommandLineOf(pid));
        return new StreamViewer(project, posix, agent, subject);
    }

    public string AgentName => _agent.Name;

    /// <summary>
    /// One access cache for a batch of events (each event is checked as of its own number, so a cache kept for the
    /// life of a stream would only grow).
    /// </summary>
    public HistoryAccess? NewBatch() => _posix is null ? null : new HistoryAccess(_project.Store, _posix);

    /// <summary>The event as this reader may see it, or null if it names a path the reader may not see.</summary>
    public StoreEvent? Visible(StoreEvent e, HistoryAccess? access)
    {
        // Changes of the policy, the agents and the snapshots concern the whole project, not a path in it.
        if (e.Op is EventOp.Policy or EventOp.Agents or EventOp.SnapshotCreate or EventOp.SnapshotDelete or EventOp.Init) return e;
        if (access is not null)
        {
            if (!access.CanSeeEventPath(e.Path, e.Seq)) return null;
            if (e.Path2 is { } p2 && !access.CanSeeEventPath(p2, e.Seq)) return null;
        }
        var policy = _project.Access.Policy;
        if (!policy.IsPermissive)
        {
            bool directory = e.Attributes?.Kind == FileKind.Directory || e.Op is EventOp.Mkdir or EventOp.Rmdir;
            if (!PolicyAllows(e.Path, directory)) return null;
            if (e.Path2 is { } p2 && !PolicyAllows(p2, directory)) return null;
        }
        if (access is not null && e.ContentHash is not null && !access.CanReadEventContent(e.Path, e.Seq))
            return e with { ContentHash = null };
        return e;
    }

    /// <summary>What the policy says now of this reader's agent reading the path (a directory: listing it); never recorded
    /// as a refusal: leaving an event out of a stream refuses nothing that was asked for.</summary>
    private bool PolicyAllows(string path, bool directory) =>
        _project.Access.Decide(_subject, _agent, directory ? PolicyOperation.List : PolicyOperation.Read, path, directory, audit: false).Allowed;

    private static string? CommandLineOf(uint pid)
    {
        if (pid == 0) return null;
        try
        {
            var bytes = File.ReadAllBytes($"/proc/{pid}/cmdline");
            int end = bytes.Length;
            while (end > 0 && bytes[end - 1] == 0) end--;
            for (int i = 0; i < end; i++) if (bytes[i] == 0) bytes[i] = (byte)' ';
            return end == 0 ? null : System.Text.Encoding.UTF8.GetString(bytes, 0, end);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }
}
