using Lighthouse.FileSystem.History;
using Lighthouse.FileSystem.Identity;
using Lighthouse.FileSystem.Recording;
using Lighthouse.FileSystem.Sections;
using Lighthouse.Fuse.Native;
using Lighthouse.Passthrough;
using Lighthouse.Store;

namespace Lighthouse.FileSystem;

public sealed class LighthouseMountOptions
{
    public bool KernelPassthrough { get; init; } = true;
    /// <summary>How long the kernel may cache names and attributes of current/. Changes made outside
    /// the mount are pushed to the kernel by invalidation, so this can be long.</summary>
    public TimeSpan CacheTimeout { get; init; } = TimeSpan.FromSeconds(10);
    public StoreOptions Store { get; init; } = new();
}

/// <summary>
/// The whole Lighthouse tree over one project: opens (and reconciles) the store, and builds the
/// mount root with current/ (the project directory, every change recorded) and history/.
/// </summary>
public sealed class LighthouseMount : IDisposable
{
    private LighthouseMount(string projectDir, ProjectStore store, EventRecorder recorder, PassthroughFileSystem current,
        HistorySection history, MountRoot root, CallerIdentity identity)
    {
        ProjectDir = projectDir; Store = store; Recorder = recorder; Current = current; History = history; Root = root; Identity = identity;
    }

    public string ProjectDir { get; }
    public ProjectStore Store { get; }
    public EventRecorder Recorder { get; }
    public PassthroughFileSystem Current { get; }
    public HistorySection History { get; }
    public MountRoot Root { get; }
    public CallerIdentity Identity { get; }
    public External.ExternalChangeWatcher? Watcher { get; private set; }

    /// <summary>Starts following changes made to the project directory beside the mount (once the session can send notifications).</summary>
    public void WatchExternalChanges(Func<Lighthouse.Fuse.LowLevel.IFuseNotifier?> notifier) =>
        Watcher ??= new External.ExternalChangeWatcher(ProjectDir, Store, Recorder, Current, notifier);

    public static LighthouseMount Open(string projectDir, LighthouseMountOptions? options = null)
    {
        options ??= new LighthouseMountOptions();
        projectDir = Path.GetFullPath(projectDir);
        var store = ProjectStore.Open(projectDir, options.Store);
        try
        {
            var identity = new CallerIdentity();
            var recorder = new EventRecorder(store, identity);
            var current = new PassthroughFileSystem(projectDir, new PassthroughOptions
            {
                KernelPassthrough = options.KernelPassthrough,
                AttrTimeout = options.CacheTimeout, EntryTimeout = options.CacheTimeout, NegativeTimeout = options.CacheTimeout,
                RootNodeId = SectionIds.CurrentRoot, NodeIdTag = SectionIds.CurrentTag,
                HiddenRootNames = [StoreConstants.StateDirName],
                Observer = recorder,
            });
            recorder.Attach(current);
            uint uid = 0, gid = 0;
            unsafe
            {
                StatxBuf st;
                var bytes = System.Text.Encoding.UTF8.GetBytes(projectDir + "\0");
                fixed (byte* p = bytes)
                    if (Libc.Statx(Libc.AT_FDCWD, p, 0, Libc.STATX_BASIC_STATS, &st) == 0) { uid = st.Uid; gid = st.Gid; }
            }
            var history = new HistorySection(store, SectionIds.HistoryRoot, SectionIds.HistoryTag, uid, gid);
            var root = new MountRoot(current, history, uid, gid);
            return new LighthouseMount(projectDir, store, recorder, current, history, root, identity);
        }
        catch
        {
            store.Dispose();
            throw;
        }
    }

    /// <summary>Finishes recording everything queued, then closes the store.</summary>
    public void Dispose()
    {
        Watcher?.Dispose();
        Recorder.Flush();
        Recorder.Dispose();
        Current.Dispose();
        Store.Dispose();
    }
}
