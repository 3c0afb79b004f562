namespace Lighthouse.Record.Tests.Workload;

/// <param name="Name">Who runs it (also the prefix of the names it makes in the shared directory).</param>
/// <param name="OwnDirectory">The subtree only this workload changes (mmap and long-held writes happen only here:
/// another process truncating a mapped file would kill this one with SIGBUS).</param>
/// <param name="SharedDirectory">The subtree every workload of a run changes at once.</param>
/// <param name="Skip">Operation kinds left out (to look past a known bug): LIGHTHOUSE_TEST_RANDOM_SKIP=rename-whiteout,link.</param>
public sealed record WorkloadOptions(string Name, int Seed, int Operations, string OwnDirectory, string SharedDirectory,
    IReadOnlySet<string>? Skip = null);

/// <summary>
/// A seeded random sequence of file system calls in the manner of xfstests' fsstress: creates, writes at random
/// offsets, appends, truncates, fsyncs, directories, renames of every kind (plain, over a file, over an empty
/// directory, RENAME_NOREPLACE, RENAME_EXCHANGE, RENAME_WHITEOUT), hard and symbolic links, FIFOs, devices, a
/// bound Unix socket, O_TMPFILE files given a name, chmod, chown, utimensat, user xattrs, mmap writes, files kept
/// open and written across other calls, and a directory chain deeper than PATH_MAX. Every call is made relative
/// to a directory descriptor reached one component at a time. Entries are picked by walking the tree as it is
/// (other processes change the shared part meanwhile), so a call may meet a name that is gone or of another
/// kind: such failures are counted, and only errors no correct file system gives are
/// <see cref="OperationStats.Unexpected"/>. The same seed on the same tree makes the same calls.
/// </summary>
public sealed unsafe class StressWorkload : IDisposable
{
    private const int SharedPercent = 30;
    private const int MaxWalkDepth = 6;
    private const int MaxWrite = 16 * 1024;
    private const int MaxOffset = 256 * 1024;
    private const int MaxHeld = 3;
    private const string DeepPrefix = "deep";
    private const int DeepNameLength = 200;
    private const int DeepLevelsWanted = 24; // 24 × 201 bytes: past PATH_MAX (4096) below the workload's own root
    private const uint DeviceMajorWithoutDriver = 240; // "local/experimental use": no driver, opening it gives ENXIO

    private readonly WorkloadOptions _options;
    private readonly Random _random;
    private readonly int _own, _shared, _startDirectory;
    private readonly string _ownName;
    private readonly byte[] _data;
    private readonly OperationStats _stats;
    private readonly List<(int Fd, string Path)> _held = [];
    private readonly (string Name, int Weight, Func<int> Run)[] _operations;
    private readonly int _totalWeight;
    private int _nextName, _deepLevels;
    private string _what = "";

    public StressWorkload(WorkloadOptions options)
    {
        _options = options;
        _random = new Random(options.Seed);
        _ownName = Path.GetFileName(options.OwnDirectory);
        _own = OpenRoot(options.OwnDirectory);
        _shared = OpenRoot(options.SharedDirectory);
        _startDirectory = OpenRoot(".");
        _data = new byte[MaxOffset];
        _random.NextBytes(_data);
        _stats = new OperationStats { Name = options.Name, Seed = options.Seed };
        _operations =
        [
            ("create", 8, Create), ("write", 10, Write), ("append", 4, Append), ("truncate", 2, Truncate),
            ("ftruncate", 2, Ftruncate), ("fsync", 2, Fsync), ("read", 3, Read), ("readdir", 2, ReadDirectory),
            ("mkdir", 5, MakeDirectory), ("rmdir", 2, RemoveDirectory), ("unlink", 4, Unlink),
            ("rename", 5, Rename), ("rename-over-file", 2, RenameOverFile), ("rename-over-dir", 1, RenameOverEmptyDirectory),
            ("rename-noreplace", 2, RenameNoReplace), ("rename-exchange", 2, RenameExchange), ("rename-whiteout", 1, RenameWhiteout),
            ("link", 3, Link), ("symlink", 4, Symlink), ("mknod", 2, MakeNode), ("socket", 1, BindSocket),
            ("tmpfile", 2, TmpFileLinked), ("chmod", 3, ChangeMode), ("chown", 2, ChangeOwner), ("utimes", 2, SetTimes),
            ("setxattr", 2, SetXattr), ("mmap-write", 2, MmapWrite), ("held-write", 4, HeldWrite), ("deep", 3, Deep),
        ];
        if (options.Skip is { } skip) _operations = _operations.Where(o => !skip.Contains(o.Name)).ToArray();
        _totalWeight = _operations.Sum(o => o.Weight);
    }

    private static int OpenRoot(string path)
    {
        int fd = At.OpenDirectory(Libc.AT_FDCWD, path);
        return fd >= 0 ? fd : throw new IOException($"cannot open {path}: {Errno.Name(Libc.Errno)}");
    }

    public OperationStats Run()
    {
        for (int i = 0; i < _options.Operations; i++)
        {
            int pick = _random.Next(_totalWeight);
            var operation = _operations.First(o => (pick -= o.Weight) < 0);
            _what = operation.Name;
            int errno = operation.Run();
            _stats.Count(operation.Name, errno, _what);
        }
        foreach (var (fd, _) in _held) Libc.Close(fd);
        _held.Clear();
        return _stats;
    }

    public void Dispose()
    {
        foreach (var (fd, _) in _held) Libc.Close(fd);
        Libc.Close(_own); Libc.Close(_shared); Libc.Close(_startDirectory);
    }

    // ------------------------------------------------------------------ picking places

    [Flags]
    private enum Kind { None = 0, File = 1, Directory = 2, Symlink = 4, Special = 8, NonDirectory = File | Symlink | Special, Any = 15 }

    private static bool IsKind(byte type, Kind kind) => type switch
    {
        Libc.DT_REG => kind.HasFlag(Kind.File),
        Libc.DT_DIR => kind.HasFlag(Kind.Directory),
        Libc.DT_LNK => kind.HasFlag(Kind.Symlink),
        _ => kind.HasFlag(Kind.Special),
    };

    /// <summary>An existing entry of <paramref name="kind"/> found by a random walk down from one of the roots; if the
    /// walk ends where there is none, a name that does not exist (the call then fails with ENOENT, as fsstress's do).</summary>
    private Place Existing(Kind kind, bool ownOnly = false)
    {
        var place = Walk(ownOnly, kind);
        if (place.Name.Length == 0) place.Name = "gone" + _nextName++;
        _what = place.Path;
        return place;
    }

    /// <summary>A new name (prefix, this workload's name, a counter) in a directory found by a random walk.</summary>
    private Place Fresh(string prefix, bool ownOnly = false)
    {
        var place = Walk(ownOnly, Kind.None);
        place.Name = NewName(prefix);
        _what = place.Path;
        return place;
    }

    private string NewName(string prefix) => $"{prefix}{_options.Name}.{_nextName++}";

    private Place Walk(bool ownOnly, Kind wanted)
    {
        bool shared = !ownOnly && _random.Next(100) < SharedPercent;
        var place = new Place(shared ? _shared : _own, shared ? "shared" : _ownName, ownsDirectory: false);
        while (true)
        {
            var entries = At.List(place.Directory, ".") ?? [];
            entries.RemoveAll(e => e.Name.StartsWith(DeepPrefix, StringComparison.Ordinal)); // the chain is Deep()'s alone
            var matches = entries.Where(e => IsKind(e.Type, wanted)).ToList();
            var directories = entries.Where(e => e.Type == Libc.DT_DIR).ToList();
            bool stop = directories.Count == 0 || place.Depth >= MaxWalkDepth || _random.Next(3) == 0;
            if (stop && (matches.Count > 0 || wanted == Kind.None || directories.Count == 0 || place.Depth >= MaxWalkDepth))
            {
                if (matches.Count > 0) place.Name = matches[_random.Next(matches.Count)].Name;
                return place;
            }
            var next = directories[_random.Next(directories.Count)];
            int fd = At.OpenDirectory(place.Directory, next.Name);
            if (fd < 0)
            {
                place.Name = next.Name; // gone or replaced meanwhile: the call meets that, as any program would
                return place;
            }
            place.Enter(fd, next.Name);
        }
    }

    // ------------------------------------------------------------------ data

    private int WriteSize() => 1 + _random.Next(_random.Next(4) == 0 ? MaxWrite : 512);

    /// <summary>pwrite of <paramref name="length"/> bytes of the seeded data at <paramref name="offset"/>; errno or 0.</summary>
    private int WriteAt(int fd, long offset, int length)
    {
        int start = _random.Next(_data.Length - length);
        fixed (byte* p = &_data[start])
            return Libc.Pwrite(fd, p, (nuint)length, offset) < 0 ? Libc.Errno : 0;
    }

    private int WriteAppending(int fd, int length)
    {
        int start = _random.Next(_data.Length - length);
        fixed (byte* p = &_data[start])
            return Libc.Write(fd, p, (nuint)length) < 0 ? Libc.Errno : 0;
    }

    /// <summary>Opens an existing entry to change its bytes; <see cref="OperationStats.NotAFile"/> when the name
    /// turned out to be no regular file (then it is not written: a device node may be a real device).</summary>
    private static int OpenRegular(Place place, int flags, out int fd)
    {
        // O_NONBLOCK: a FIFO that took the name meanwhile must not block the workload.
        fd = At.Open(place.Directory, place.Name, flags | Libc.O_NOFOLLOW | Libc.O_NONBLOCK | Libc.O_NOCTTY);
        if (fd < 0) return Libc.Errno;
        if (At.Fstat(fd, out var stat) && (stat.Mode & Libc.S_IFMT) == Libc.S_IFREG) return 0;
        Libc.Close(fd);
        fd = -1;
        return OperationStats.NotAFile;
    }

    // ------------------------------------------------------------------ the operations (each returns 0 or the errno)

    private int Create()
    {
        using var place = Fresh("f");
        int fd = At.Open(place.Directory, place.Name, Libc.O_CREAT | Libc.O_EXCL | Libc.O_WRONLY, RandomFileMode());
        if (fd < 0) return Libc.Errno;
        int errno = _random.Next(4) == 0 ? 0 : WriteAt(fd, 0, WriteSize());
        Libc.Close(fd);
        return errno;
    }

    /// <summary>Opens an existing regular file (see <see cref="OpenRegular"/>), runs <paramref name="change"/> on its
    /// descriptor and closes it; the errno of whichever failed.</summary>
    private int OnRegularFile(int flags, Func<int, int> change, bool ownOnly = false)
    {
        using var place = Existing(Kind.File, ownOnly);
        int errno = OpenRegular(place, flags, out int fd);
        if (errno != 0) return errno;
        try { return change(fd); }
        finally { Libc.Close(fd); }
    }

    private int Write() => OnRegularFile(Libc.O_WRONLY, fd => WriteAt(fd, _random.Next(MaxOffset), WriteSize()));

    private int Append() => OnRegularFile(Libc.O_WRONLY | Libc.O_APPEND, fd => WriteAppending(fd, WriteSize()));

    private int Truncate()
    {
        using var place = Existing(Kind.File);
        return Libc.Truncate(place.ProcPath, _random.Next(MaxOffset)) < 0 ? Libc.Errno : 0;
    }

    private int Ftruncate() => OnRegularFile(Libc.O_WRONLY, fd => Libc.Ftruncate(fd, _random.Next(MaxOffset)) < 0 ? Libc.Errno : 0);

    private int Fsync() => OnRegularFile(Libc.O_WRONLY, fd =>
    {
        int errno = WriteAt(fd, _random.Next(MaxOffset), WriteSize());
        if (errno != 0) return errno;
        return (_random.Next(2) == 0 ? Libc.Fsync(fd) : Libc.Fdatasync(fd)) < 0 ? Libc.Errno : 0;
    });

    private int Read() => OnRegularFile(Libc.O_RDONLY, fd =>
    {
        var buffer = new byte[MaxWrite];
        fixed (byte* b = buffer)
            return Libc.Pread(fd, b, (nuint)buffer.Length, _random.Next(MaxOffset)) < 0 ? Libc.Errno : 0;
    });

    private int ReadDirectory()
    {
        using var place = Existing(Kind.Directory);
        return At.List(place.Directory, place.Name) is null ? Libc.Errno : 0;
    }

    private int MakeDirectory()
    {
        using var place = Fresh("d");
        fixed (byte* name = At.Z(place.Name))
            return Libc.MkdirAt(place.Directory, name, _random.Next(4) == 0 ? 0x1c0u /* 0700 */ : 0x1edu /* 0755 */) < 0 ? Libc.Errno : 0;
    }

    private int RemoveDirectory()
    {
        using var place = Existing(Kind.Directory);
        fixed (byte* name = At.Z(place.Name))
            return Libc.UnlinkAt(place.Directory, name, Libc.AT_REMOVEDIR) < 0 ? Libc.Errno : 0;
    }

    private int Unlink()
    {
        using var place = Existing(Kind.NonDirectory);
        fixed (byte* name = At.Z(place.Name))
            return Libc.UnlinkAt(place.Directory, name, 0) < 0 ? Libc.Errno : 0;
    }

    private int RenameTo(Place from, Place to, uint flags)
    {
        _what = $"{from.Path} -> {to.Path}";
        fixed (byte* a = At.Z(from.Name))
        fixed (byte* b = At.Z(to.Name))
            return Libc.RenameAt2(from.Directory, a, to.Directory, b, flags) < 0 ? Libc.Errno : 0;
    }

    private int Rename()
    {
        using var from = Existing(Kind.Any);
        using var to = Fresh(from.Name.Length > 0 ? from.Name[..1] : "r");
        return RenameTo(from, to, 0);
    }

    private int RenameOverFile()
    {
        using var from = Existing(Kind.NonDirectory);
        using var to = Existing(Kind.File);
        return RenameTo(from, to, 0);
    }

    private int RenameOverEmptyDirectory()
    {
        using var from = Existing(Kind.Directory);
        using var to = Fresh("e");
        fixed (byte* name = At.Z(to.Name))
            if (Libc.MkdirAt(to.Directory, name, 0x1ed) < 0) return Libc.Errno;
        return RenameTo(from, to, 0);
    }

    private int RenameNoReplace()
    {
        using var from = Existing(Kind.Any);
        using var to = _random.Next(2) == 0 ? Existing(Kind.Any) : Fresh("n");
        return RenameTo(from, to, Libc.RENAME_NOREPLACE);
    }

    private int RenameExchange()
    {
        using var from = Existing(Kind.Any);
        using var to = Existing(Kind.Any);
        return RenameTo(from, to, Libc.RENAME_EXCHANGE);
    }

    /// <summary>RENAME_WHITEOUT leaves a whiteout (a character device 0:0) where the source was.</summary>
    private int RenameWhiteout()
    {
        using var from = Existing(Kind.NonDirectory);
        using var to = Fresh("w");
        return RenameTo(from, to, Libc.RENAME_WHITEOUT);
    }

    private int Link()
    {
        using var from = Existing(Kind.File);
        using var to = Fresh("h");
        _what = $"{from.Path} => {to.Path}";
        fixed (byte* a = At.Z(from.Name))
        fixed (byte* b = At.Z(to.Name))
            return Libc.LinkAt(from.Directory, a, to.Directory, b, 0) < 0 ? Libc.Errno : 0;
    }

    /// <summary>A symlink, and sometimes at once a rename or an unlink of it (the record of its creation must still
    /// have its target, read from the request, not from a disk where it is gone).</summary>
    private int Symlink()
    {
        using var place = Fresh("l");
        string target = _random.Next(10) switch
        {
            0 => new string('t', 1 + _random.Next(1000)),       // long, dangling
            1 => "../" + NewName("f"),                          // up a level, dangling
            2 => "sub/" + NewName("f") + "/x",                  // down, dangling
            _ => NewName("f"),
        };
        fixed (byte* t = At.Z(target))
        fixed (byte* name = At.Z(place.Name))
            if (Libc.SymlinkAt(t, place.Directory, name) < 0) return Libc.Errno;
        switch (_random.Next(4))
        {
            case 0:
                string renamed = NewName("l");
                _what = $"symlink {place.Path}, then rename it to {renamed}";
                fixed (byte* a = At.Z(place.Name))
                fixed (byte* b = At.Z(renamed))
                    return Libc.RenameAt2(place.Directory, a, place.Directory, b, 0) < 0 ? Libc.Errno : 0;
            case 1:
                _what = $"symlink {place.Path}, then unlink it";
                fixed (byte* name = At.Z(place.Name))
                    return Libc.UnlinkAt(place.Directory, name, 0) < 0 ? Libc.Errno : 0;
            default:
                return 0;
        }
    }

    /// <summary>A FIFO, a character device (the null and zero devices, or one without a driver) or a block device
    /// without a driver: nodes whose opening can do no harm.</summary>
    private int MakeNode()
    {
        using var place = Fresh("n");
        var (mode, device) = _random.Next(4) switch
        {
            0 => ((uint)Libc.S_IFCHR, Libc.MakeDev(1, _random.Next(2) == 0 ? 3u : 5u)),
            1 => ((uint)Libc.S_IFCHR, Libc.MakeDev(DeviceMajorWithoutDriver, (uint)_random.Next(1 << 20))),
            2 => ((uint)Libc.S_IFBLK, Libc.MakeDev(DeviceMajorWithoutDriver, (uint)_random.Next(1 << 20))),
            _ => ((uint)Libc.S_IFIFO, 0UL),
        };
        _what = $"mknod {place.Path} {At.TypeName(mode)} {device:x}";
        fixed (byte* name = At.Z(place.Name))
            return Libc.MknodAt(place.Directory, name, mode | 0x1a4, device) < 0 ? Libc.Errno : 0;
    }

    /// <summary>bind(2) of a Unix socket makes a socket node; bind takes no directory descriptor (and at most 107
    /// bytes), so it runs in the directory made the working directory with fchdir.</summary>
    private int BindSocket()
    {
        using var place = Fresh("s");
        int fd = Libc.Socket(Libc.AF_UNIX, Libc.SOCK_STREAM | Libc.SOCK_CLOEXEC, 0);
        if (fd < 0) return Libc.Errno;
        if (Libc.Fchdir(place.Directory) < 0) { int failed = Libc.Errno; Libc.Close(fd); return failed; }
        try
        {
            var address = new byte[Libc.SockaddrUnSize];
            address[0] = Libc.AF_UNIX; // sa_family, little-endian
            System.Text.Encoding.ASCII.GetBytes(place.Name, 0, place.Name.Length, address, Libc.SockaddrUnPathOffset);
            fixed (byte* a = address)
                return Libc.Bind(fd, a, (uint)address.Length) < 0 ? Libc.Errno : 0;
        }
        finally
        {
            Libc.Fchdir(_startDirectory);
            Libc.Close(fd);
        }
    }

    /// <summary>An unnamed file (O_TMPFILE), written, then given a name with linkat(AT_EMPTY_PATH).</summary>
    private int TmpFileLinked()
    {
        using var place = Fresh("t");
        int fd = At.Open(place.Directory, ".", Libc.O_TMPFILE | Libc.O_RDWR, RandomFileMode());
        if (fd < 0) return Libc.Errno;
        try
        {
            int errno = WriteAt(fd, 0, WriteSize());
            if (errno != 0) return errno;
            fixed (byte* empty = At.Z(""))
            fixed (byte* name = At.Z(place.Name))
                return Libc.LinkAt(fd, empty, place.Directory, name, Libc.AT_EMPTY_PATH) < 0 ? Libc.Errno : 0;
        }
        finally { Libc.Close(fd); }
    }

    private uint RandomFileMode() => _random.Next(8) switch
    {
        0 => 0x180,  // 0600
        1 => 0x1ff,  // 0777
        2 => 0x9a4,  // 04644: set-user-id (a write by a non-owner would clear it)
        _ => 0x1a4,  // 0644
    };

    private int ChangeMode()
    {
        using var place = Existing(Kind.File | Kind.Directory | Kind.Special);
        uint mode = (uint)_random.Next(0x200) | (_random.Next(8) == 0 ? Libc.S_ISGID : 0) | (_random.Next(8) == 0 ? Libc.S_ISVTX : 0);
        mode |= 0x180; // the owner keeps read and write (root ignores them, but the tree stays readable by the checker's tools)
        _what = $"chmod {place.Path} {Convert.ToString(mode, 8)}";
        fixed (byte* name = At.Z(place.Name))
            return Libc.FchmodAt(place.Directory, name, mode, 0) < 0 ? Libc.Errno : 0;
    }

    private int ChangeOwner()
    {
        using var place = Existing(Kind.Any);
        uint[] ids = [0, 1, 2, 1000, 65534, (uint)_random.Next(60000)];
        uint uid = ids[_random.Next(ids.Length)], gid = _random.Next(3) == 0 ? uint.MaxValue /* unchanged */ : ids[_random.Next(ids.Length)];
        _what = $"chown {place.Path} {uid}:{(int)gid}";
        fixed (byte* name = At.Z(place.Name))
            return Libc.FchownAt(place.Directory, name, uid, gid, Libc.AT_SYMLINK_NOFOLLOW) < 0 ? Libc.Errno : 0;
    }

    private int SetTimes()
    {
        using var place = Existing(Kind.Any);
        Timespec RandomTime() => _random.Next(5) == 0
            ? new Timespec(0, Libc.UTIME_NOW)
            : new Timespec(946_684_800 + _random.NextInt64(946_771_200), _random.Next(1_000_000_000)); // 2000..2030
        var times = stackalloc Timespec[2];
        times[0] = _random.Next(4) == 0 ? new Timespec(0, Libc.UTIME_OMIT) : RandomTime();
        times[1] = RandomTime();
        fixed (byte* name = At.Z(place.Name))
            return Libc.UtimensAt(place.Directory, name, times, Libc.AT_SYMLINK_NOFOLLOW) < 0 ? Libc.Errno : 0;
    }

    private int SetXattr()
    {
        using var place = Existing(Kind.File | Kind.Directory);
        int length = _random.Next(256);
        fixed (byte* value = &_data[_random.Next(1024)])
            return Libc.Lsetxattr(place.ProcPath, $"user.k{_random.Next(8)}", value, (nuint)length, 0) < 0 ? Libc.Errno : 0;
    }

    /// <summary>Writes through a shared mapping and msync; only in the own subtree (see <see cref="WorkloadOptions"/>).</summary>
    /// <summary>Writes through a shared mapping of a file made for it: a file another process could reach (a hard link
    /// in shared/) might be truncated under the mapping, and a store to a page past the end is SIGBUS, which kills
    /// the process (correct POSIX behaviour, not the file system's fault).</summary>
    private int MmapWrite()
    {
        using var place = Fresh("m", ownOnly: true);
        int fd = At.Open(place.Directory, place.Name, Libc.O_CREAT | Libc.O_EXCL | Libc.O_RDWR, RandomFileMode() | 0x180);
        if (fd < 0) return Libc.Errno;
        try
        {
            int length = 1 + _random.Next(Math.Min(MaxWrite, MaxOffset));
            if (Libc.Ftruncate(fd, length) < 0) return Libc.Errno;
            byte* map = (byte*)Libc.Mmap(null, (nuint)length, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED, fd, 0);
            if (map == (byte*)-1) return Libc.Errno;
            int offset = _random.Next(length), count = Math.Min(length - offset, WriteSize());
            _data.AsSpan(_random.Next(_data.Length - count), count).CopyTo(new Span<byte>(map + offset, count));
            int errno = Libc.Msync(map, (nuint)length, Libc.MS_SYNC) < 0 ? Libc.Errno : 0;
            Libc.Munmap(map, (nuint)length);
            return errno;
        }
        finally { Libc.Close(fd); }
    }

    /// <summary>Files kept open across other calls and written now and then (a log, an editor's buffer): opens one,
    /// writes to one, or closes one.</summary>
    private int HeldWrite()
    {
        if (_held.Count == 0 || (_held.Count < MaxHeld && _random.Next(4) == 0))
        {
            using var place = Existing(Kind.File, ownOnly: true);
            _what = "hold open " + place.Path;
            int errno = OpenRegular(place, Libc.O_RDWR, out int fd);
            if (errno == 0) _held.Add((fd, place.Path));
            return errno;
        }
        int which = _random.Next(_held.Count);
        var (heldFd, path) = _held[which];
        if (_random.Next(6) == 0)
        {
            _what = "close held " + path;
            _held.RemoveAt(which);
            return Libc.Close(heldFd) < 0 ? Libc.Errno : 0;
        }
        _what = "write held " + path;
        return WriteAt(heldFd, _random.Next(MaxOffset), WriteSize());
    }

    // ------------------------------------------------------------------ the chain deeper than PATH_MAX

    private static string DeepName(int level) => $"{DeepPrefix}{level:D2}".PadRight(DeepNameLength, 'd');

    /// <summary>Grows a chain of directories below the own root one level per call until it is deeper than PATH_MAX,
    /// then works at its bottom: creates and writes files, renames, links and removes them. Reached by openat one
    /// level at a time; every other time the bottom is made the working directory (fchdir) and used through AT_FDCWD.</summary>
    private int Deep()
    {
        using var place = new Place(_own, _ownName, ownsDirectory: false);
        for (int level = 0; level < _deepLevels; level++)
        {
            int fd = At.OpenDirectory(place.Directory, DeepName(level));
            if (fd < 0)
            {
                _what = $"walk down the deep chain at level {level}";
                return Libc.Errno;
            }
            place.Enter(fd, DeepName(level));
        }
        int pathLength = _options.OwnDirectory.Length + _deepLevels * (DeepNameLength + 1);
        _stats.LongestPath = Math.Max(_stats.LongestPath, pathLength);
        if (_deepLevels < DeepLevelsWanted)
        {
            _what = $"mkdir deep level {_deepLevels} (path {pathLength + DeepNameLength + 1} bytes)";
            fixed (byte* name = At.Z(DeepName(_deepLevels)))
                if (Libc.MkdirAt(place.Directory, name, 0x1ed) < 0) return Libc.Errno;
            _deepLevels++;
            return 0;
        }
        bool throughWorkingDirectory = _random.Next(2) == 0;
        if (throughWorkingDirectory && Libc.Fchdir(place.Directory) < 0) return Libc.Errno;
        try { return AtTheBottom(throughWorkingDirectory ? Libc.AT_FDCWD : place.Directory, pathLength); }
        finally { if (throughWorkingDirectory) Libc.Fchdir(_startDirectory); }
    }

    private int AtTheBottom(int dir, int pathLength)
    {
        var files = (At.List(dir, ".") ?? []).Where(e => e.Type == Libc.DT_REG).Select(e => e.Name).ToList();
        string existing = files.Count > 0 ? files[_random.Next(files.Count)] : NewName("b");
        string fresh = NewName("b");
        _what = $"at the bottom of the deep chain ({pathLength} bytes): ";
        fixed (byte* a = At.Z(existing))
        fixed (byte* b = At.Z(fresh))
        {
            switch (_random.Next(6))
            {
                case 0:
                case 1:
                    _what += "create and write " + fresh;
                    int created = Libc.OpenAt(dir, b, Libc.O_CREAT | Libc.O_EXCL | Libc.O_WRONLY | Libc.O_CLOEXEC, 0x1a4);
                    if (created < 0) return Libc.Errno;
                    int errno = WriteAt(created, 0, WriteSize());
                    Libc.Close(created);
                    return errno;
                case 2:
                    _what += "write " + existing;
                    int fd = Libc.OpenAt(dir, a, Libc.O_WRONLY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0);
                    if (fd < 0) return Libc.Errno;
                    int written = WriteAt(fd, _random.Next(MaxWrite), WriteSize());
                    Libc.Close(fd);
                    return written;
                case 3:
                    _what += $"rename {existing} to {fresh}";
                    return Libc.RenameAt2(dir, a, dir, b, 0) < 0 ? Libc.Errno : 0;
                case 4:
                    _what += $"symlink {fresh} -> {existing}";
                    return Libc.SymlinkAt(a, dir, b) < 0 ? Libc.Errno : 0;
                default:
                    _what += "unlink " + existing;
                    return Libc.UnlinkAt(dir, a, 0) < 0 ? Libc.Errno : 0;
            }
        }
    }
}
