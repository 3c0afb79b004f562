using System.Collections.Concurrent;
using System.Text;
using Microsoft.Win32.SafeHandles;
using Lighthouse.Fuse.Session;
using Lighthouse.Passthrough;
using Lighthouse.Project;
using Lighthouse.Project.Agents;
using Lighthouse.Project.Policy;

namespace Lighthouse.FileSystem.Current;

/// <summary>
/// The mount's side of the access policy: current/'s passthrough (through <see cref="IAccessGate"/>) and history/ ask
/// it before each operation, and it answers with the project's decision for the calling agent
/// (<see cref="AccessControl"/>, which records refusals). Names whose visibility depends on who asks are served
/// uncached (<see cref="Cacheable"/>), so one agent's lookup never answers for another.
/// </summary>
public sealed class PolicyGate(ProjectHost project) : IAccessGate, IDisposable
{
    private PassthroughFileSystem? _fs;

    /// <summary>The file system whose nodes this gate names (set once it exists).</summary>
    public void Attach(PassthroughFileSystem fs) => _fs = fs;

    /// <summary>Another access policy came into force.</summary>
    public event Action? PolicyChanged
    {
        add => project.Access.PolicyChanged += value;
        remove => project.Access.PolicyChanged -= value;
    }

    /// <summary>Whether there is anything to check (a policy that can refuse something).</summary>
    public bool Enforcing => !project.Access.Policy.IsPermissive;

    public bool Active => _fs is not null && Enforcing;

    public int Check(in RequestContext ctx, GatedOperation operation, Node node, ReadOnlySpan<byte> name, bool isDirectory) =>
        Check(ctx, Map(operation), _fs!.RelativePath(node, name), isDirectory);

    public bool Hides(in RequestContext ctx, Node dir, ReadOnlySpan<byte> name, bool isDirectory, out bool cacheable)
    {
        cacheable = true;
        if (!project.Access.Policy.CanHide) return false; // nothing to decide: no path to build
        var path = _fs!.RelativePath(dir, name);
        cacheable = !project.Access.Policy.VisibilityVaries(path, isDirectory, out bool hiddenFromAll);
        // A lookup that finds nothing is a refusal worth recording; a listing that leaves a name out is not (it asked for the directory).
        bool audit = ctx.Opcode == Fuse.Protocol.Opcode.Lookup;
        // The same for everyone and visible: no decision of the caller's own (most names, most of the time).
        if (cacheable && !hiddenFromAll) return false;
        return Hides(ctx, path, isDirectory, audit);
    }

    /// <summary>0 if the caller may do <paramref name="operation"/> on the project path, else the errno.</summary>
    public int Check(in RequestContext ctx, PolicyOperation operation, string path, bool isDirectory) =>
        project.Access.Decide(Subject(ctx, out var agent), agent, operation, path, isDirectory).Errno;

    /// <summary>Whether the project path is hidden from the caller (<paramref name="audit"/>: record it as a refusal).</summary>
    public bool Hides(in RequestContext ctx, string path, bool isDirectory, bool audit)
    {
        if (!project.Access.Policy.CanHide) return false;
        var operation = isDirectory ? PolicyOperation.List : PolicyOperation.Read;
        var decision = project.Access.Decide(Subject(ctx, out var agent), agent, operation, path, isDirectory, audit: audit);
        return decision is { Effect: PolicyEffect.Hide, Allowed: false };
    }

    /// <summary>Whether the kernel may cache the path's name and attributes for every caller.</summary>
    public bool Cacheable(string path, bool isDirectory) => !project.Access.Policy.VisibilityVaries(path, isDirectory);

    /// <summary>The caller as the policy sees it; its command line is read from /proc only if a rule asks.</summary>
    private PolicySubject Subject(in RequestContext ctx, out Agent agent)
    {
        agent = project.Agents.Resolve(new Caller(ctx.Pid, ctx.Uid, ctx.Gid));
        if (!project.Access.Policy.UsesCommands) return new PolicySubject(agent.Name, agent.Role, (string?)null);
        uint pid = ctx.Pid;
        return PolicySubject.WithCommandLineFrom(agent.Name, agent.Role, () => CommandLineOf(pid));
    }

    /// <summary>
    /// The caller's command line, its arguments joined by spaces ("git reset --hard"); null if unknown (the kernel's own
    /// requests, a process gone); the first 4 KiB. Read each time a rule asks, because exec changes it without changing
    /// the process — but through a descriptor of /proc/&lt;tid&gt;/cmdline kept per thread: a read of it shows the
    /// arguments of the program the process runs now, and saves the open and close (two thirds of the cost). A descriptor
    /// whose thread is gone reads nothing; then the name is opened afresh (a recycled id reaches the new process).
    /// </summary>
    [System.Runtime.CompilerServices.SkipLocalsInit]
    private string? CommandLineOf(uint tid)
    {
        if (tid == 0) return null;
        Span<byte> buffer = stackalloc byte[4096];
        if (_commandLines.TryGetValue(tid, out var kept))
        {
            int n = ReadCommandLine(kept, buffer);
            if (n > 0) return Decode(buffer[..n]);
            if (_commandLines.TryRemove(KeyValuePair.Create(tid, kept))) kept.Dispose();
        }
        SafeFileHandle handle;
        try { handle = File.OpenHandle($"/proc/{tid}/cmdline"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
        int read = ReadCommandLine(handle, buffer);
        if (read <= 0) { handle.Dispose(); return null; }
        if (_commandLines.Count >= MaxKeptCommandLines)
            foreach (var (key, old) in _commandLines)
                if (_commandLines.TryRemove(KeyValuePair.Create(key, old))) old.Dispose();
        if (!_commandLines.TryAdd(tid, handle)) handle.Dispose();
        return Decode(buffer[..read]);
    }

    /// <summary>Closes the descriptors of command lines it kept.</summary>
    public void Dispose()
    {
        foreach (var (key, handle) in _commandLines)
            if (_commandLines.TryRemove(KeyValuePair.Create(key, handle))) handle.Dispose();
    }

    private const int MaxKeptCommandLines = 1024;
    private readonly ConcurrentDictionary<uint, SafeFileHandle> _commandLines = new();

    /// <summary>Bytes read from offset 0; 0 when the process is gone (or the handle was closed meanwhile).</summary>
    private static int ReadCommandLine(SafeFileHandle handle, Span<byte> buffer)
    {
        try { return RandomAccess.Read(handle, buffer, 0); }
        catch (Exception e) when (e is IOException or ObjectDisposedException or UnauthorizedAccessException) { return 0; }
    }

    private static string Decode(Span<byte> line)
    {
        line = line[..(line.LastIndexOfAnyExcept((byte)0) + 1)];
        line.Replace((byte)0, (byte)' ');
        return Encoding.UTF8.GetString(line);
    }

    private static PolicyOperation Map(GatedOperation operation) => operation switch
    {
        GatedOperation.Read => PolicyOperation.Read,
        GatedOperation.List => PolicyOperation.List,
        GatedOperation.Write => PolicyOperation.Write,
        GatedOperation.Create => PolicyOperation.Create,
        GatedOperation.Delete => PolicyOperation.Delete,
        GatedOperation.Rename => PolicyOperation.Rename,
        _ => PolicyOperation.Meta,
    };
}
