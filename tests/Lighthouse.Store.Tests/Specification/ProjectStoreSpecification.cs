using System.Text;
using Lighthouse.Store;

namespace Lighthouse.Store.Tests.Specification;

/// <summary>
/// What every <see cref="IProjectStore"/> backend must do, tested through the interface alone (no SQL, no file names,
/// no casts to a backend class): a backend's test class derives from this and says how to open its stores
/// (as Npgsql.Specification.Tests does for ADO.NET providers). The project directory is real: the store records
/// changes after they were made on disk, as the mount calls it.
/// </summary>
public abstract partial class ProjectStoreSpecification : IDisposable
{
    protected const string Builder = "builder";

    private readonly List<IDisposable> _open = [];

    protected TempProject Project { get; } = new();

    /// <summary>Opens (or creates) the store of <paramref name="projectDir"/> for writing.</summary>
    protected abstract IProjectStore Open(string projectDir, StoreOptions options);

    /// <summary>Opens the existing store of <paramref name="projectDir"/> for queries only, beside a writer.</summary>
    protected abstract IProjectStore OpenReadOnly(string projectDir, StoreOptions options);

    /// <summary>Whether <paramref name="projectDir"/> has a store (the backend's factory's <c>Exists</c>).</summary>
    protected abstract bool Exists(string projectDir);

    /// <summary>
    /// Damages the stored event <paramref name="seq"/> so that it no longer matches its hash, the way someone editing
    /// the backend's storage behind the store's back would. Called while no store of the project is open for writing.
    /// </summary>
    protected abstract void AlterStoredEvent(string projectDir, long seq);

    /// <summary>Options for tests: fast (no fsync), no integrity check at open.</summary>
    protected virtual StoreOptions Options => new() { Durability = Durability.Normal, FsyncObjects = false };

    protected IProjectStore OpenStore(StoreOptions? options = null) => Track(Open(Project.Dir, options ?? Options));

    protected IProjectStore OpenReader() => Track(OpenReadOnly(Project.Dir, Options));

    private IProjectStore Track(IProjectStore store)
    {
        _open.Add(store);
        return store;
    }

    /// <summary>Writes a file on disk (as a program would) without telling the store.</summary>
    protected void Write(string path, string text) => Project.Write(path, text);

    /// <summary>Writes a file and records its creation.</summary>
    protected StoreEvent Create(IProjectStore store, string path, string text, string agent = Builder)
    {
        Project.Write(path, text);
        return store.RecordCreate(agent, path);
    }

    /// <summary>Rewrites a file and records the write (close after write).</summary>
    protected StoreEvent Overwrite(IProjectStore store, string path, string text, string agent = Builder)
    {
        store.CaptureBeforeModify(agent, path);
        File.WriteAllText(Project.Abs(path), text);
        return store.CaptureOnClose(agent, path) ?? throw new InvalidOperationException($"no write recorded for {path}");
    }

    /// <summary>Renames a file on disk (over whatever has the new name) and records it.</summary>
    protected StoreEvent? Rename(IProjectStore store, string from, string to, string agent = Builder)
    {
        File.Move(Project.Abs(from), Project.Abs(to), overwrite: true);
        return store.RecordRename(agent, from, to);
    }

    protected static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);

    protected static string Text(byte[] bytes) => Encoding.UTF8.GetString(bytes);

    /// <summary>The tree as of a point: path → kind, walked through List.</summary>
    protected static SortedDictionary<string, FileKind> Tree(IProjectStore store, StorePoint point)
    {
        var tree = new SortedDictionary<string, FileKind>(StringComparer.Ordinal);
        var dirs = new Stack<string>();
        dirs.Push("");
        while (dirs.Count > 0)
        {
            var dir = dirs.Pop();
            foreach (var e in store.List(dir, point))
            {
                var path = StorePath.Combine(dir, e.Name);
                tree[path] = e.Kind;
                if (e.Kind == FileKind.Directory) dirs.Push(path);
            }
        }
        return tree;
    }

    protected static string Describe(SortedDictionary<string, FileKind> tree) =>
        string.Join(", ", tree.Select(kv => kv.Value == FileKind.Directory ? kv.Key + "/" : kv.Key));

    public void Dispose()
    {
        for (var i = _open.Count - 1; i >= 0; i--) _open[i].Dispose();
        Project.Dispose();
        GC.SuppressFinalize(this);
    }
}
