using System.Globalization;
using Lighthouse.Store;

namespace Lighthouse.Store.Tests;

/// <summary>
/// The child process of the crash test: mutates its project as fast as it can from two threads,
/// printing "OK seq op path" after each recorded change has committed, until it is SIGKILLed.
/// </summary>
internal static class CrashWriter
{
    private static readonly Lock Out = new();

    public static int Run(string projectDir, int seed)
    {
        // Odd rounds use synchronous=NORMAL: it too must keep every commit across a process crash.
        var durability = seed % 2 == 0 ? Durability.Full : Durability.Normal;
        using var store = ProjectStore.Open(projectDir, new StoreOptions { Durability = durability, FsyncObjects = durability == Durability.Full });
        Console.Out.Flush();
        var threads = Enumerable.Range(0, 2).Select(t => new Thread(() => Work(store, projectDir, "t" + t, seed * 31 + t))).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        return 0;
    }

    private static void Report(StoreEvent? e)
    {
        if (e is null) return;
        lock (Out)
        {
            Console.Out.Write(string.Create(CultureInfo.InvariantCulture, $"OK {e.Seq} {e.Op} {e.Path}\n"));
            Console.Out.Flush();
        }
    }

    private static void Work(ProjectStore store, string root, string mine, int seed)
    {
        var rng = new Random(seed);
        var agent = "agent-" + mine;
        try
        {
            if (!Directory.Exists(Path.Combine(root, mine)))
            {
                Directory.CreateDirectory(Path.Combine(root, mine));
                Report(store.RecordCreate(agent, mine));
            }
            for (var step = 0; ; step++)
            {
                var abs = Path.Combine(root, mine);
                var entries = Directory.EnumerateFileSystemEntries(abs, "*", SearchOption.AllDirectories)
                    .Select(p => Path.GetRelativePath(root, p)).ToList();
                var files = entries.Where(p => File.Exists(Path.Combine(root, p))).ToList();
                var dirs = entries.Where(p => Directory.Exists(Path.Combine(root, p))).Prepend(mine).ToList();
                switch (rng.Next(8))
                {
                    case 0 or 1 or 2:
                    {
                        var path = Path.Combine(dirs[rng.Next(dirs.Count)], "f" + rng.Next(20));
                        if (File.Exists(Path.Combine(root, path)) || Directory.Exists(Path.Combine(root, path))) break;
                        File.WriteAllBytes(Path.Combine(root, path), []);
                        Report(store.RecordCreate(agent, path));
                        var data = new byte[rng.Next(1, rng.Next(10) == 0 ? 200_000 : 4000)];
                        rng.NextBytes(data);
                        File.WriteAllBytes(Path.Combine(root, path), data);
                        Report(store.CaptureOnClose(agent, path));
                        break;
                    }
                    case 3:
                    {
                        if (files.Count == 0) break;
                        var path = files[rng.Next(files.Count)];
                        Report(store.CaptureBeforeModify(agent, path));
                        File.AppendAllText(Path.Combine(root, path), "more " + step);
                        Report(store.CaptureOnClose(agent, path));
                        break;
                    }
                    case 4:
                    {
                        if (files.Count == 0) break;
                        var path = files[rng.Next(files.Count)];
                        Report(store.CaptureBeforeModify(agent, path));
                        File.Delete(Path.Combine(root, path));
                        Report(store.RecordUnlink(agent, path));
                        break;
                    }
                    case 5:
                    {
                        var path = Path.Combine(dirs[rng.Next(dirs.Count)], "d" + rng.Next(4));
                        if (dirs.Count > 12 || Path.Exists(Path.Combine(root, path))) break;
                        Directory.CreateDirectory(Path.Combine(root, path));
                        Report(store.RecordCreate(agent, path));
                        break;
                    }
                    default:
                    {
                        if (files.Count == 0) break;
                        var from = files[rng.Next(files.Count)];
                        var to = Path.Combine(dirs[rng.Next(dirs.Count)], "r" + rng.Next(20));
                        if (Directory.Exists(Path.Combine(root, to)) || to == from) break;
                        if (File.Exists(Path.Combine(root, to))) Report(store.CaptureBeforeModify(agent, to));
                        File.Move(Path.Combine(root, from), Path.Combine(root, to), overwrite: true);
                        Report(store.RecordRename(agent, from, to));
                        break;
                    }
                }
            }
        }
        catch (Exception e)
        {
            lock (Out)
            {
                Console.Out.Write("ERR " + e.ToString().Replace('\n', ' ') + "\n");
                Console.Out.Flush();
            }
            Environment.Exit(3);
        }
    }
}
