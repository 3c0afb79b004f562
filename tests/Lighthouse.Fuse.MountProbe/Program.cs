// Mount probe for the mounting tests: runs Lighthouse.Fuse.Mounting as whatever user started it.
//
//   mount <mountpoint> [--method auto|direct|fusermount3|fusermount] [--helper PATH] [--fsname N]
//         [--subtype S] [--allow-other] [--default-permissions] [--ro] [--auto-unmount] [--max-read N]
//       prints "MOUNTED method=<Method> fd=<n> user=<name> mountpoint=<path>", then reads commands on stdin:
//         unmount   -> Unmount(), prints "UNMOUNTED"
//         crash     -> exits at once without unmounting (the kernel closes the fd: the mount goes stale)
//         (EOF)     -> Dispose(), prints "UNMOUNTED", exits 0
//       on failure prints "ERROR errno=<n> <message, newlines as ' | '>" and exits 2.
//   cleanup <mountpoint>    prints "CLEANUP wasStale=<bool> cleanedUp=<bool> <message>"
//   ismounted <mountpoint>  prints "ISMOUNTED <bool>"
using Lighthouse.Fuse.Mounting;

if (args.Length < 2)
{
    Console.Error.WriteLine("usage: mount|cleanup|ismounted <mountpoint> [options]");
    return 64;
}

string verb = args[0];
string mountPoint = args[1];
try
{
    switch (verb)
    {
        case "cleanup":
        {
            StaleMountCleanup r = FuseMounter.CleanUpStale(mountPoint);
            Console.WriteLine($"CLEANUP wasStale={r.WasStale} cleanedUp={r.CleanedUp} {OneLine(r.Message)}");
            return 0;
        }
        case "ismounted":
            Console.WriteLine($"ISMOUNTED {FuseMounter.IsMounted(mountPoint)}");
            return 0;
        case "mount":
            return RunMount(mountPoint, ParseOptions(args.AsSpan(2)));
        default:
            Console.Error.WriteLine($"unknown verb {verb}");
            return 64;
    }
}
catch (FuseMountException e)
{
    Console.WriteLine($"ERROR errno={e.Errno} {OneLine(e.Message)}");
    return 2;
}
catch (ArgumentException e)
{
    Console.WriteLine($"ERROR errno=0 {OneLine(e.Message)}");
    return 2;
}

static int RunMount(string mountPoint, MountOptions options)
{
    FuseMountHandle handle = FuseMounter.Mount(mountPoint, options);
    Console.WriteLine($"MOUNTED method={handle.Method} fd={handle.DeviceFd} user={Environment.UserName} mountpoint={handle.MountPoint}");
    string? line;
    while ((line = Console.ReadLine()) is not null)
    {
        switch (line.Trim())
        {
            case "unmount":
                handle.Unmount();
                Console.WriteLine("UNMOUNTED");
                break;
            case "crash":
                Environment.Exit(3); // no Dispose: the fd is closed by the kernel, the mount stays (stale)
                break;
            case "":
                break;
            default:
                Console.WriteLine($"UNKNOWN {line}");
                break;
        }
    }
    handle.Dispose();
    Console.WriteLine("UNMOUNTED");
    return 0;
}

static MountOptions ParseOptions(ReadOnlySpan<string> a)
{
    MountMethod method = MountMethod.Auto;
    string? helper = null, subtype = null, fsName = "lighthouse";
    bool allowOther = false, defaultPermissions = false, readOnly = false, autoUnmount = false;
    uint maxRead = 0;
    for (int i = 0; i < a.Length; i++)
    {
        switch (a[i])
        {
            case "--method": method = Enum.Parse<MountMethod>(a[++i], ignoreCase: true); break;
            case "--helper": helper = a[++i]; break;
            case "--fsname": fsName = a[++i]; break;
            case "--subtype": subtype = a[++i]; break;
            case "--allow-other": allowOther = true; break;
            case "--default-permissions": defaultPermissions = true; break;
            case "--ro": readOnly = true; break;
            case "--auto-unmount": autoUnmount = true; break;
            case "--max-read": maxRead = uint.Parse(a[++i], System.Globalization.CultureInfo.InvariantCulture); break;
            default: throw new ArgumentException($"unknown option {a[i]}");
        }
    }
    return new MountOptions
    {
        Method = method, HelperPath = helper, FsName = fsName, Subtype = subtype, AllowOther = allowOther,
        DefaultPermissions = defaultPermissions, ReadOnly = readOnly, AutoUnmount = autoUnmount, MaxRead = maxRead,
    };
}

static string OneLine(string s) => s.Replace("\r", "").Replace("\n", " | ");
