using System.Diagnostics;
using Lighthouse.Interop;
using Lighthouse.Store;
using Microsoft.Win32.SafeHandles;

namespace Lighthouse.Store.Tests;

/// <summary>A scratch project directory, removed afterwards.</summary>
public sealed class TempProject : IDisposable
{
    public TempProject(string? under = null)
    {
        Dir = Path.Combine(under ?? Path.Combine(Path.GetTempPath(), "lh-store-tests"), Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Dir);
    }

    public string Dir { get; }

    public string Abs(string rel) => Path.Combine(Dir, rel);

    public void Write(string rel, string text) => Write(rel, System.Text.Encoding.UTF8.GetBytes(text));

    public void Write(string rel, byte[] bytes)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Abs(rel))!);
        File.WriteAllBytes(Abs(rel), bytes);
    }

    public static StoreOptions Fast => new() { Durability = Durability.Normal, FsyncObjects = false };

    public ProjectStore Open(StoreOptions? options = null) => ProjectStore.Open(Dir, options ?? Fast);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (Exception e) when (e is IOException or ArgumentException)
        {
            // Paths too long for .NET (a tree deeper than PATH_MAX), or a busy file a failed test left.
            DeepTree.Remove(Dir);
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}

/// <summary>Reads the store's tree as of a point into path → (kind, size), for comparing with a model or the disk.</summary>
internal static class TreeReader
{
    public static SortedDictionary<string, (FileKind Kind, long Size)> Read(ProjectStore store, StorePoint point)
    {
        var result = new SortedDictionary<string, (FileKind, long)>(StringComparer.Ordinal);
        var stack = new Stack<string>();
        stack.Push("");
        while (stack.Count > 0)
        {
            var dir = stack.Pop();
            foreach (var e in store.List(dir, point))
            {
                var path = StorePath.Combine(dir, e.Name);
                var v = store.Attributes(path, point);
                Assert.Equal(e.FileId, v.FileId);
                Assert.Equal(e.Kind, v.Kind);
                result[path] = (e.Kind, e.Kind == FileKind.Directory ? 0 : v.Size);
                if (e.Kind == FileKind.Directory) stack.Push(path);
            }
        }
        return result;
    }

    public static SortedDictionary<string, (FileKind Kind, long Size)> ReadDisk(string root)
    {
        var result = new SortedDictionary<string, (FileKind, long)>(StringComparer.Ordinal);
        foreach (var info in new DirectoryInfo(root).EnumerateFileSystemInfos("*", SearchOption.AllDirectories))
        {
            var rel = Path.GetRelativePath(root, info.FullName);
            if (rel == ".lighthouse" || rel.StartsWith(".lighthouse/", StringComparison.Ordinal)) continue;
            var kind = info.LinkTarget is not null ? FileKind.Symlink : info is DirectoryInfo ? FileKind.Directory : FileKind.File;
            result[rel] = (kind, kind == FileKind.File ? ((FileInfo)info).Length : kind == FileKind.Symlink ? info.LinkTarget!.Length : 0);
        }
        return result;
    }
}

/// <summary>
/// A chain of directories deeper than PATH_MAX below a root, made and walked one level at a time with *at calls: no
/// path to its bottom fits one system call.
/// </summary>
internal static class DeepTree
{
    /// <summary>45 names of 100 bytes: 4,544 bytes from the root to the bottom, past PATH_MAX (4,096).</summary>
    public static readonly string[] Names = Enumerable.Range(0, 45).Select(i => $"level{i:D2}".PadRight(100, 'd')).ToArray();

    /// <summary>The bottom directory's path relative to the root.</summary>
    public static string Path => string.Join('/', Names);

    /// <summary>Walks down from <paramref name="root"/> (making each directory first with <paramref name="create"/>);
    /// returns an O_PATH descriptor of the bottom directory.</summary>
    public static SafeFileHandle Walk(string root, bool create = false)
    {
        int dir = Libc.Open(root, Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0);
        foreach (var name in Names)
        {
            if (create && Libc.MkdirAt(dir, name, 0x1ed) != 0) throw new IOException($"mkdirat {name[..7]}: {Libc.ErrorText(Libc.Errno)}");
            int next = Libc.OpenAt(dir, name, Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0);
            int errno = Libc.Errno;
            Libc.Close(dir);
            if (next < 0) throw new IOException($"openat {name[..7]}: {Libc.ErrorText(errno)}");
            dir = next;
        }
        return new SafeFileHandle(dir, ownsHandle: true);
    }

    /// <summary>Opens <paramref name="name"/> in the directory <paramref name="dir"/>.</summary>
    public static SafeFileHandle Open(SafeFileHandle dir, string name, int flags)
    {
        int fd = Libc.OpenAt((int)dir.DangerousGetHandle(), name, flags | Libc.O_CLOEXEC, 0x1a4);
        if (fd < 0) throw new IOException($"openat {name}: {Libc.ErrorText(Libc.Errno)}");
        return new SafeFileHandle(fd, ownsHandle: true);
    }

    /// <summary>Replaces the content of <paramref name="name"/> in <paramref name="dir"/> (creating it).</summary>
    public static void Write(SafeFileHandle dir, string name, string text)
    {
        using var file = Open(dir, name, Libc.O_WRONLY | Libc.O_CREAT | Libc.O_TRUNC);
        RandomAccess.Write(file, System.Text.Encoding.UTF8.GetBytes(text), 0);
    }

    /// <summary>Removes a tree .NET cannot (its paths are too long): rm walks it with *at calls.</summary>
    public static void Remove(string root)
    {
        using var rm = Process.Start("rm", ["-rf", root]);
        rm.WaitForExit();
    }
}
