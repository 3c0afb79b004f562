using System.Text;
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
public sealed class PolicyGate(ProjectHost project) : IAccessGate
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

    public bool Hides(in RequestContext ctx, Node dir, ReadOnlySpan<byte> name, bool isDirectory) =>
        // A lookup that finds nothing is a refusal worth recording; a listing that leaves a name out is not (it asked for the directory).
        Hides(ctx, _fs!.RelativePath(dir, name), isDirectory, audit: ctx.Opcode == Fuse.Protocol.Opcode.Lookup);

    public bool Cacheable(Node dir, ReadOnlySpan<byte> name, bool isDirectory) => Cacheable(_fs!.RelativePath(dir, name), isDirectory);

    /// <summary>0 if the caller may do <paramref name="operation"/> on the project path, else the errno.</summary>
    public int Check(in RequestContext ctx, PolicyOperation operation, string path, bool isDirectory)
    {
        var (agent, command) = Caller(ctx);
        return project.Access.Decide(agent, command, operation, path, isDirectory).Errno;
    }

    /// <summary>Whether the project path is hidden from the caller (<paramref name="audit"/>: record it as a refusal).</summary>
    public bool Hides(in RequestContext ctx, string path, bool isDirectory, bool audit)
    {
        var (agent, command) = Caller(ctx);
        var operation = isDirectory ? PolicyOperation.List : PolicyOperation.Read;
        var decision = project.Access.Decide(agent, command, operation, path, isDirectory, audit: audit);
        return decision is { Effect: PolicyEffect.Hide, Allowed: false };
    }

    /// <summary>Whether the kernel may cache the path's name and attributes for every caller.</summary>
    public bool Cacheable(string path, bool isDirectory) => !project.Access.Policy.VisibilityVaries(path, isDirectory);

    private (Agent Agent, string? Command) Caller(in RequestContext ctx)
    {
        var agent = project.Agents.Resolve(new Caller(ctx.Pid, ctx.Uid, ctx.Gid));
        return (agent, project.Access.Policy.UsesCommands ? CommandLineOf(ctx.Pid) : null);
    }

    /// <summary>The caller's command line, its arguments joined by spaces ("git reset --hard"); null if unknown (the
    /// kernel's own requests, a process gone). Read each time: exec changes it without changing the process.</summary>
    private static string? CommandLineOf(uint tid)
    {
        if (tid == 0) return null;
        try
        {
            var bytes = File.ReadAllBytes($"/proc/{tid}/cmdline");
            int end = bytes.Length;
            while (end > 0 && bytes[end - 1] == 0) end--;
            for (int i = 0; i < end; i++) if (bytes[i] == 0) bytes[i] = (byte)' ';
            return Encoding.UTF8.GetString(bytes, 0, end);
        }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
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
