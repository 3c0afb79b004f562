using System.CommandLine;
using Lighthouse.Fuse.Hosting;
using Lighthouse.Fuse.Mounting;
using Lighthouse.Fuse.Session;
using Lighthouse.Passthrough;

namespace Lighthouse.Cli.Commands;

/// <summary>`lighthouse passthrough`: mirror a directory through our FUSE implementation (no recording).</summary>
public static class PassthroughCommand
{
    public static Command Create()
    {
        var source = new Argument<DirectoryInfo>("source-dir") { Description = "The directory to mirror." };
        var mountPoint = new Argument<DirectoryInfo>("mountpoint") { Description = "Where to mount it (created if missing)." };
        var noPassthrough = new Option<bool>("--no-kernel-passthrough")
        { Description = "Serve file data in user space even where the kernel offers FUSE passthrough (to measure both)." };
        var allowOther = new Option<bool>("--allow-other")
        { Description = "Let other users reach the mount (implies --default-permissions: the kernel checks permissions)." };
        var defaultPermissions = new Option<bool>("--default-permissions")
        { Description = "Let the kernel check permissions against the modes and owners we report." };
        var readOnly = new Option<bool>("--read-only") { Description = "Mount read-only." };
        var attrTimeout = new Option<double>("--attr-timeout")
        { Description = "Seconds the kernel may cache attributes.", DefaultValueFactory = _ => 1.0 };
        var entryTimeout = new Option<double>("--entry-timeout")
        { Description = "Seconds the kernel may cache names (and absent names).", DefaultValueFactory = _ => 1.0 };
        var method = new Option<MountMethod>("--mount-method")
        { Description = "How to mount: auto (mount(2) as root, else fusermount3, else fusermount), direct, fusermount3, fusermount.", DefaultValueFactory = _ => MountMethod.Auto };
        var helper = new Option<string?>("--fusermount") { Description = "Path of the fusermount3/fusermount helper to use." };
        var autoUnmount = new Option<bool>("--auto-unmount") { Description = "Have the helper unmount if this process dies (helper mounts only)." };
        var debug = new Option<bool>("--debug") { Description = "Print every request (slow)." };
        var session = new SessionFlags();

        var command = new Command("passthrough",
            "Mount <source-dir> at <mountpoint> through Lighthouse's own FUSE protocol implementation, in the foreground. " +
            "Ctrl-C or SIGTERM unmounts cleanly. Data goes through kernel passthrough where the kernel offers it.")
        {
            source, mountPoint, noPassthrough, allowOther, defaultPermissions, readOnly,
            attrTimeout, entryTimeout, method, helper, autoUnmount, debug,
        };
        session.AddTo(command);
        command.SetAction(parse =>
        {
            var src = parse.GetValue(source)!;
            if (!src.Exists) { Console.Error.WriteLine($"lighthouse: source directory {src.FullName} does not exist"); return 2; }
            if (session.Validate(parse) is { } invalid) { Console.Error.WriteLine($"lighthouse: {invalid}"); return 2; }
            var mnt = parse.GetValue(mountPoint)!.FullName;
            var fs = new PassthroughFileSystem(src.FullName, new PassthroughOptions
            {
                KernelPassthrough = !parse.GetValue(noPassthrough),
                AttrTimeout = TimeSpan.FromSeconds(parse.GetValue(attrTimeout)),
                EntryTimeout = TimeSpan.FromSeconds(parse.GetValue(entryTimeout)),
                NegativeTimeout = TimeSpan.FromSeconds(parse.GetValue(entryTimeout)),
            });
            bool other = parse.GetValue(allowOther);
            var host = new FuseHost
            {
                FileSystem = fs,
                MountPoint = mnt,
                MountOptions = new MountOptions
                {
                    FsName = src.FullName, Subtype = "lighthouse", AllowOther = other,
                    DefaultPermissions = other || parse.GetValue(defaultPermissions), ReadOnly = parse.GetValue(readOnly),
                    Method = parse.GetValue(method), HelperPath = parse.GetValue(helper), AutoUnmount = parse.GetValue(autoUnmount),
                },
                SessionOptions = session.Read(parse, parse.GetValue(debug) ? line => Console.Error.WriteLine(line) : null),
                Ready = server => Console.Error.WriteLine(
                    $"lighthouse: mounted {src.FullName} on {mnt} ({server.Method}); {server.Connection}; " +
                    $"kernel passthrough {(fs.UsingKernelPassthrough ? "on" : "off")}; {server.Session.WorkerCount} workers"),
            };
            try { return host.Run(); }
            catch (FuseMountException e) { Console.Error.WriteLine($"lighthouse: {e.Message}"); return 1; }
        });
        return command;
    }
}
