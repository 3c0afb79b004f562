using System.Text;
using Lighthouse.Fuse.Session;
using Lighthouse.Passthrough;
using Lighthouse.Project;
using Lighthouse.Project.Agents;
using Lighthouse.Project.Policy;

namespace Lighthouse.FileSystem.Current;

/// <summary>
/// current/'s side of the access policy: the passthrough asks it before each operation, and it answers with the
/// project's decision for the calling agent (<see cref="AccessControl"/>, which records refusals). Names whose
/// visibility depends on who asks are served uncached (<see cref="Cacheable"/>), so one agent's lookup never answers
/// for another.
/// </summary>
public sealed class PolicyGate(ProjectHost project) : IAccessGate
{
    private PassthroughFileSystem? _fs;

    /// <summary>The file system whose nodes this gate names (set once it exists).</summary>
    public void Attach(PassthroughFileSystem fs) => _fs = fs;

    public bool Active => _fs is not null && !project.Access.Policy.IsPermissive;

    public int Check(in RequestContext ctx, GatedOperation operation, Node node, ReadOnlySpan<byte> name, bool isDirectory)
    {
        var (agent, command) = Caller(ctx);
        return project.Access.Decide(agent, command, Map(operation), _fs!.RelativePath(node, name), isDirectory).Errno;
    }

    public bool Hides(in RequestContext ctx, Node dir, ReadOnlySpan<byte> name, bool isDirectory)
    {
        var (agent, command) = Caller(ctx);
        var operation = isDirectory ? PolicyOperation.List : PolicyOperation.Read;
        // A lookup that finds nothing is a refusal worth recording; a listing that leaves a name out is not (it asked for the directory).
        var decision = project.Access.Decide(agent, command, operation, _fs!.RelativePath(dir, name), isDirectory, audit: ctx.Opcode == Fuse.Protocol.Opcode.Lookup);
        return decision is { Effect: PolicyEffect.Hide, Allowed: false };
    }

    public bool Cacheable(Node dir, ReadOnlySpan<byte> name, bool isDirectory) =>
        !project.Access.Policy.VisibilityVaries(_fs!.RelativePath(dir, name), isDirectory);

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
