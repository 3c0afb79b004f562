using System.CommandLine;
using Lighthouse.Cli.Commands;
using Lighthouse.Store;

namespace Lighthouse.Cli.Tests;

public sealed record CliResult(int Code, string Out, string Err)
{
    public override string ToString() => $"exit {Code}\n--- stdout\n{Out}\n--- stderr\n{Err}";
}

/// <summary>Runs the lighthouse verbs in-process with captured output, against temp projects under /tmp/lighthouse-tests/.</summary>
public sealed class TempProject : IDisposable
{
    public const string Root = "/tmp/lighthouse-tests";

    public TempProject(bool init = true)
    {
        Dir = Path.Combine(Root, "cli-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Path.Combine(Dir, "src"));
        File.WriteAllText(Path.Combine(Dir, "src", "a.txt"), "one\ntwo\nthree\n");
        File.WriteAllText(Path.Combine(Dir, "src", "b.txt"), "bee\n");
        File.WriteAllText(Path.Combine(Dir, "README.md"), "# readme\n");
        if (init)
        {
            var r = Run("init", Dir);
            Assert.True(r.Code == 0, r.ToString());
        }
    }

    public string Dir { get; }

    public string PathOf(string rel) => Path.Combine(Dir, rel);

    public static CliResult Run(params string[] args) => RunAsync(CancellationToken.None, args).GetAwaiter().GetResult();

    public static async Task<CliResult> RunAsync(CancellationToken ct, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        return await RunAsync(ct, TextWriter.Synchronized(output), TextWriter.Synchronized(error), output, error, args);
    }

    public static async Task<CliResult> RunAsync(CancellationToken ct, TextWriter o, TextWriter e, StringWriter output, StringWriter error, params string[] args)
    {
        var root = new RootCommand("lighthouse (tests)");
        StoreVerbs.AddTo(root);
        var parse = root.Parse(args, StoreVerbs.ParserConfiguration);
        var code = await parse.InvokeAsync(new InvocationConfiguration { Output = o, Error = e }, ct);
        return new CliResult(code, output.ToString(), error.ToString());
    }

    /// <summary>Runs a verb on this project (adds --project).</summary>
    public CliResult Cli(params string[] args) => Run([.. args, "--project", Dir]);

    public ProjectStore OpenStore() => ProjectStore.Open(Dir, new StoreOptions { ReconcileOnOpen = false, FsyncObjects = false, Durability = Durability.Normal });

    /// <summary>The project served in-process, as a mount process holds it.</summary>
    public Lighthouse.Project.ProjectHost OpenHost() => Lighthouse.Project.ProjectHost.Open(Dir, new Lighthouse.Project.ProjectOptions
    {
        Stores = SqliteProjectStoreFactory.Instance, Store = new StoreOptions { ReconcileOnOpen = false, FsyncObjects = false, Durability = Durability.Normal },
    });

    /// <summary>Rewrites a file as the mount would record it: copy-on-write capture, write, capture on close.</summary>
    public static void Write(ProjectStore store, string agent, string rel, string text)
    {
        var abs = Path.Combine(store.ProjectDir, rel);
        var exists = File.Exists(abs);
        if (exists) store.CaptureBeforeModify(agent, rel);
        var parents = new Stack<string>();
        for (var d = Path.GetDirectoryName(rel); !string.IsNullOrEmpty(d) && !Directory.Exists(Path.Combine(store.ProjectDir, d)); d = Path.GetDirectoryName(d))
            parents.Push(d);
        foreach (var d in parents)
        {
            Directory.CreateDirectory(Path.Combine(store.ProjectDir, d));
            store.RecordCreate(agent, d);
        }
        File.WriteAllText(abs, text);
        if (exists) store.RecordWrite(agent, rel);
        else store.RecordCreate(agent, rel);
    }

    public static void Delete(ProjectStore store, string agent, string rel)
    {
        store.CaptureBeforeModify(agent, rel);
        File.Delete(Path.Combine(store.ProjectDir, rel));
        store.RecordUnlink(agent, rel);
    }

    /// <summary>Renames as the mount records it, also over an existing file (saving its bytes first), as atomic saves do.</summary>
    public static void Rename(ProjectStore store, string agent, string from, string to)
    {
        var target = Path.Combine(store.ProjectDir, to);
        if (File.Exists(target)) store.CaptureBeforeModify(agent, to);
        File.Move(Path.Combine(store.ProjectDir, from), target, overwrite: true);
        store.RecordRename(agent, from, to);
    }

    public void Dispose()
    {
        try { Directory.Delete(Dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
