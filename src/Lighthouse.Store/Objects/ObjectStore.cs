using System.Security.Cryptography;
using Lighthouse.Interop;
using Microsoft.Win32.SafeHandles;

namespace Lighthouse.Store.Objects;

/// <summary>
/// Content-addressed, immutable whole-file objects under <c>objects/ab/cdef…</c> (SHA-256 of the bytes): symlink
/// targets, reflink clones of large files (FICLONE: the fast path where the filesystem can; the clone is hashed, so
/// an object's name matches its bytes even if the source changes meanwhile), and the versions stores before schema 4
/// captured. Other file versions are chunks (<see cref="ChunkStore"/>).
/// Objects hold the bytes of files other users may not be allowed to read: the object directories are the store
/// owner's alone (0700, whatever the umask; older stores are tightened at open) and objects are 0400. Other users
/// read history through the mount's history/, which checks each old entry's own owner and mode.
/// </summary>
public sealed class ObjectStore
{
    private readonly string _tmp;
    private readonly bool _fsync;
    private int _reflinkUnsupported;

    public ObjectStore(string root, bool fsync, bool readOnly = false)
    {
        Root = root;
        _fsync = fsync;
        _tmp = Path.Combine(root, "tmp");
        // A reader must not touch the writer's captures in progress.
        if (readOnly) return;
        MakePrivateDirectory(root);
        MakePrivateDirectory(_tmp);
        // Stores made before objects were private had 0755 directories (and 0444 objects): close them.
        foreach (var fanOut in Directory.EnumerateDirectories(root)) MakePrivateDirectory(fanOut);
        // Leftovers of captures interrupted by a crash are never referenced: remove them.
        foreach (var stale in Directory.EnumerateFiles(_tmp)) File.Delete(stale);
    }

    public string Root { get; }

    public string PathOf(string hash) => Path.Combine(Root, hash[..2], hash[2..]);

    /// <summary>Counts the objects (files under the two-character fan-out directories; <c>tmp/</c> is not one) and their size.</summary>
    public ObjectStats Statistics()
    {
        long count = 0, bytes = 0;
        if (!Directory.Exists(Root)) return default;
        foreach (var fanOut in new DirectoryInfo(Root).EnumerateDirectories())
        {
            if (fanOut.Name.Length != 2) continue;
            try
            {
                foreach (var f in fanOut.EnumerateFiles())
                {
                    count++;
                    bytes += f.Length;
                }
            }
            catch (DirectoryNotFoundException)
            {
                // Removed while we walked (a future garbage collector): nothing to count.
            }
        }
        return new ObjectStats(count, bytes);
    }

    /// <summary>Every object file: its hash, path, size and modification time (for the garbage collector).</summary>
    public IEnumerable<(string Hash, string Path, long Size, DateTime ModifiedUtc)> Enumerate()
    {
        if (!Directory.Exists(Root)) yield break;
        foreach (var fanOut in new DirectoryInfo(Root).EnumerateDirectories())
        {
            if (fanOut.Name.Length != 2) continue;
            List<FileInfo> files;
            try { files = fanOut.EnumerateFiles().ToList(); }
            catch (DirectoryNotFoundException) { continue; }
            foreach (var f in files)
                if (f.Name.Length == 62) yield return (fanOut.Name + f.Name, f.FullName, f.Length, f.LastWriteTimeUtc);
        }
    }

    public bool Exists(string hash) => File.Exists(PathOf(hash));

    public Stream OpenRead(string hash, string context)
    {
        var path = PathOf(hash);
        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new StoreException($"the bytes of {context} are readable only by the owner of the project's store " +
                $"({Root}); other users read history through the mount's history/, which checks each file's own permissions", e);
        }
        catch (FileNotFoundException)
        {
            throw new ObjectMissingException(hash, path, context);
        }
        catch (DirectoryNotFoundException)
        {
            throw new ObjectMissingException(hash, path, context);
        }
    }

    public string StoreBytes(ReadOnlySpan<byte> data)
    {
        var hash = Convert.ToHexStringLower(SHA256.HashData(data));
        if (Exists(hash))
        {
            Touch(hash);
            return hash;
        }
        var tmp = NewTempPath();
        try
        {
            using (var f = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write))
            {
                f.Write(data);
                f.Flush();
                StartWriteback(f.SafeFileHandle);
            }
            Publish(tmp, hash);
        }
        catch (IOException e) when (IsDiskFull(e))
        {
            TryDelete(tmp);
            throw new StoreFullException($"storing {data.Length} bytes in {Root}", e);
        }
        return hash;
    }

    /// <summary>
    /// Clones an open file into a whole object where the filesystem can (FICLONE: no bytes copied, blocks shared until
    /// either side changes): the fast path for large files. Null, having written nothing, where it cannot.
    /// </summary>
    /// <returns>The object's hash (SHA-256 of the bytes).</returns>
    public string? CaptureByReflink(SafeFileHandle source, string what)
    {
        if (Volatile.Read(ref _reflinkUnsupported) != 0) return null;
        var tmp = NewTempPath();
        try
        {
            string hash;
            using (var target = new FileStream(tmp, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.None))
            {
                if (!TryReflink(target.SafeFileHandle, source))
                {
                    target.Dispose();
                    File.Delete(tmp);
                    return null;
                }
                target.Position = 0;
                hash = Convert.ToHexStringLower(SHA256.HashData(target));
            }
            if (Exists(hash))
            {
                File.Delete(tmp);
                Touch(hash);
                return hash;
            }
            Publish(tmp, hash);
            return hash;
        }
        catch (IOException e) when (IsDiskFull(e))
        {
            TryDelete(tmp);
            throw new StoreFullException($"capturing {what} into {Root}", e);
        }
        catch
        {
            TryDelete(tmp);
            throw;
        }
    }

    /// <summary>Marks an object as just used: the garbage collector leaves objects younger than its grace period alone,
    /// so one a capture found already stored survives until the event that names it commits.</summary>
    public void Touch(string hash)
    {
        try { File.SetLastWriteTimeUtc(PathOf(hash), DateTime.UtcNow); }
        catch (IOException) { /* gone: the caller stores it again next time */ }
        catch (UnauthorizedAccessException) { }
    }

    private string NewTempPath() => Path.Combine(_tmp, Guid.NewGuid().ToString("N"));

    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>Creates (or tightens) a directory of the store as 0700: mkdir's mode is cut by the umask, so it is set after.</summary>
    private static void MakePrivateDirectory(string path)
    {
        Directory.CreateDirectory(path, OwnerOnly); // a concurrent capture may create it too: both end 0700
        if (File.GetUnixFileMode(path) != OwnerOnly) File.SetUnixFileMode(path, OwnerOnly);
    }

    private void Publish(string tmp, string hash)
    {
        var final = PathOf(hash);
        var dir = Path.GetDirectoryName(final)!;
        if (!Directory.Exists(dir)) MakePrivateDirectory(dir);
        File.SetUnixFileMode(tmp, UnixFileMode.UserRead);
        // rename(2) replaces atomically; a concurrent capture of the same bytes writes identical content.
        File.Move(tmp, final, overwrite: true);
        if (_fsync) _unsynced.Enqueue(final);
    }

    // Objects published but not yet fsync'ed (with their directories): made durable together before the commit of
    // the events that name them (SyncPending), not one by one as they are captured.
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _unsynced = new();

    /// <summary>Objects published and not yet made durable (for tests).</summary>
    internal int UnsyncedCount => _unsynced.Count;

    /// <summary>Starts writing a new object's bytes to disk now, so that <see cref="SyncPending"/> finds them written.</summary>
    private void StartWriteback(SafeFileHandle file)
    {
        if (_fsync) Libc.SyncFileRange((int)file.DangerousGetHandle(), 0, 0, Libc.SYNC_FILE_RANGE_WRITE);
    }

    /// <summary>
    /// Makes every object published so far durable, with its name: called by the writer before it commits, so an
    /// event never reaches the log before the bytes it names reach the disk. One fsync per object captured since the
    /// last commit, and per directory they went to; a journaling filesystem commits them all in its first journal
    /// commit (their writeback was started when they were written), where an fsync per capture, twice (file and
    /// directory), made each capture wait for a journal commit of its own: the captures of a burst of small writes
    /// (a build, mixed work) waited on each other's disk flushes.
    /// </summary>
    public void SyncPending()
    {
        if (_unsynced.IsEmpty) return;
        var files = new List<string>();
        while (_unsynced.TryDequeue(out var path)) files.Add(path);
        try
        {
            // Side by side: concurrent fsyncs wait for one journal commit together; in a row, each waits for its own.
            SyncAll(files, directory: false);
            SyncAll(files.Select(Path.GetDirectoryName).Distinct(StringComparer.Ordinal).ToList()!, directory: true);
        }
        catch
        {
            foreach (var path in files) _unsynced.Enqueue(path); // tried again at the next commit
            throw;
        }
    }

    private static void SyncAll(List<string> paths, bool directory)
    {
        if (paths.Count == 1) Fsync(paths[0], directory);
        else Parallel.ForEach(paths, new ParallelOptions { MaxDegreeOfParallelism = 8 }, path => Fsync(path, directory));
    }

    private static void Fsync(string path, bool directory)
    {
        var fd = Libc.Open(path, Libc.O_RDONLY | Libc.O_CLOEXEC | (directory ? Libc.O_DIRECTORY : 0), 0);
        if (fd < 0) throw new IOException($"cannot open {path} to make it durable: {Libc.ErrorText(Libc.Errno)}", Libc.Errno);
        try
        {
            if (Libc.Fsync(fd) != 0) throw new IOException($"cannot make {path} durable: {Libc.ErrorText(Libc.Errno)}", Libc.Errno);
        }
        finally { Libc.Close(fd); }
    }

    private unsafe bool TryReflink(SafeFileHandle target, SafeFileHandle source)
    {
        if (Volatile.Read(ref _reflinkUnsupported) != 0) return false;
        var ok = Libc.Ioctl((int)target.DangerousGetHandle(), Libc.FICLONE, (void*)source.DangerousGetHandle()) == 0;
        // EOPNOTSUPP/EINVAL/EXDEV/ENOTTY: this filesystem cannot clone; stop asking.
        if (!ok) Volatile.Write(ref _reflinkUnsupported, 1);
        return ok;
    }

    internal static bool IsDiskFull(Exception e) =>
        (e.HResult & 0xFFFF) == Libc.ENOSPC || e.Message.Contains("No space left on device", StringComparison.OrdinalIgnoreCase);

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // Best effort: a stray temp file is removed at the next open.
        }
    }
}
