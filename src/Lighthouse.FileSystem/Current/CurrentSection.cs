using System.Text;
using Lighthouse.FileSystem.Sections;
using Lighthouse.Fuse.LowLevel;
using Lighthouse.Interop;
using Lighthouse.Fuse.Session;
using Lighthouse.Passthrough;
using Lighthouse.Project;
using Lighthouse.Store;

namespace Lighthouse.FileSystem.Current;

/// <summary>
/// current/: the project directory, read-write, through the passthrough (kernel passthrough for
/// data); every change goes to the project's recorder. Changes made beside the mount are dropped
/// from the kernel's caches as the project's follower reports them, so current/ shows them at once.
/// </summary>
public sealed unsafe class CurrentSection : IMountSection, IDisposable
{
    private readonly ProjectHost _project;
    private IFuseNotifier? _notifier;
    private long _invalidations;

    public CurrentSection(ProjectHost project, ulong tag, bool kernelPassthrough, TimeSpan cacheTimeout)
    {
        _project = project;
        Tag = tag;
        var observer = new RecordingObserver(project.Recorder, project.Agents, project.Reads, Activity);
        var gate = Gate = new PolicyGate(project);
        Passthrough = new PassthroughFileSystem(project.ProjectDir, new PassthroughOptions
        {
            KernelPassthrough = kernelPassthrough,
            AttrTimeout = cacheTimeout, EntryTimeout = cacheTimeout, NegativeTimeout = cacheTimeout,
            RootNodeId = tag | 1, NodeIdTag = tag,
            HiddenRootNames = [StoreConstants.StateDirName],
            Observer = observer,
            Gate = gate,
        });
        observer.Attach(Passthrough);
        gate.Attach(Passthrough);
    }

    public string Name => "current";
    /// <summary>Operations and bytes of each agent through current/ (debug/ shows them).</summary>
    public Debug.AgentActivity Activity { get; } = new();
    public ulong Tag { get; }
    public ulong RootId => Tag | 1;
    public PassthroughFileSystem Passthrough { get; }
    /// <summary>The access policy's checks (history/ asks the same gate).</summary>
    public PolicyGate Gate { get; }
    public FuseFileSystem FileSystem => Passthrough;
    /// <summary>Kernel cache entries dropped because of changes made beside the mount.</summary>
    public long Invalidations => Interlocked.Read(ref _invalidations);

    public void Attach(IFuseNotifier notifier)
    {
        _notifier = notifier;
        if (_project.External is { } follower) follower.ChangedBeside += Invalidate;
        _project.ChangedByService += Invalidate; // written over HTTP or MCP, in this process: the kernel's copy is stale
        _project.Access.PolicyChanged += ForgetNames;
    }

    /// <summary>Another access policy is in force: names the kernel cached under the old one (for every caller) may now
    /// be hidden from some, so they are dropped and the next walk asks again.</summary>
    private void ForgetNames()
    {
        if (_notifier is not { } notifier) return;
        foreach (var (parent, name) in Passthrough.Nodes.KnownNames())
        {
            notifier.InvalidateEntry(parent, name);
            Interlocked.Increment(ref _invalidations);
        }
    }

    /// <summary>Tells the kernel to forget each changed name (in its parent) and the inode's cached attributes and data.</summary>
    private void Invalidate(IReadOnlyList<string> paths)
    {
        if (_notifier is not { } notifier) return;
        foreach (var relativePath in paths)
        {
            string parent = Path.GetDirectoryName(relativePath) ?? "";
            string name = Path.GetFileName(relativePath);
            if (NodeAt(parent) is { } dir && name.Length > 0)
            {
                notifier.InvalidateEntry(dir.Id, Encoding.UTF8.GetBytes(name));
                Interlocked.Increment(ref _invalidations);
            }
            if (NodeAt(relativePath) is { } node)
            {
                notifier.InvalidateInode(node.Id);
                Interlocked.Increment(ref _invalidations);
            }
        }
    }

    private Node? NodeAt(string relativePath)
    {
        if (relativePath.Length == 0) return Passthrough.Nodes.Root;
        StatxBuf st;
        var bytes = Encoding.UTF8.GetBytes(Path.Combine(_project.ProjectDir, relativePath) + "\0");
        fixed (byte* p = bytes)
            if (Libc.Statx(Libc.AT_FDCWD, p, Libc.AT_SYMLINK_NOFOLLOW, Libc.STATX_INO, &st) < 0) return null;
        return Passthrough.Nodes.FindByInode(st.Dev, st.Ino);
    }

    public void Dispose()
    {
        if (_project.External is { } follower) follower.ChangedBeside -= Invalidate;
        _project.ChangedByService -= Invalidate;
        _project.Access.PolicyChanged -= ForgetNames;
        Passthrough.Dispose();
        Gate.Dispose();
    }
}
