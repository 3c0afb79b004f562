using Lighthouse.Store;

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

/// <summary>Raw access to a store's database, for tests that damage or inspect it.</summary>
internal static class StoreSql
{
    public static Microsoft.Data.Sqlite.SqliteConnection Open(string projectDir)
    {
        var c = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={ProjectStore.DatabaseFile(projectDir)};Pooling=False");
        c.Open();
        return c;
    }

    public static void Exec(string projectDir, string sql, params object[] args)
    {
        using var c = Open(projectDir);
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        for (int i = 0; i < args.Length; i++) cmd.Parameters.AddWithValue("$" + (char)('a' + i), args[i]);
        cmd.ExecuteNonQuery();
    }

    public static long Scalar(string projectDir, string sql)
    {
        using var c = Open(projectDir);
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        return Convert.ToInt64(cmd.ExecuteScalar());
    }
}
