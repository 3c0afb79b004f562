using System.CommandLine;
using System.Diagnostics;
using Lighthouse.Cli.Control;
using Lighthouse.FileSystem;
using Lighthouse.Fuse.Hosting;
using Lighthouse.Fuse.Mounting;
using Lighthouse.Fuse.Session;
using Lighthouse.Store;

namespace Lighthouse.Cli.Commands;

/// <summary>`lighthouse mount`: the project through FUSE, with current/ recorded and history/ browsable.</summary>
public static class MountCommand
{
    public static Command Create()
    {
        var project = new Argument<DirectoryInfo>("project-dir") { Description = "The project directory (initialised on first mount)." };
        var mountPoint = new Argument<string>("mountpoint")
        { Description = $"Where to mount it (created if missing). Default: {ProjectLocator.DefaultMountPoint}", DefaultValueFactory = _ => ProjectLocator.DefaultMountPoint };
        var background = new Option<bool>("--background")
        { Description = "Detach: run in the background with a pid file (.lighthouse/mount.pid) and a log (.lighthouse/mount.log); return once mounted." };
        var noPassthrough = new Option<bool>("--no-kernel-passthrough") { Description = "Serve file data in user space even where the kernel offers FUSE passthrough." };
        var allowOther = new Option<bool>("--allow-other")
        {
            Description = "Let users other than the one mounting enter the mount (agents running as other users). The default as root. " +
                          "A normal user needs the line user_allow_other in /etc/fuse.conf for it (fusermount3 refuses otherwise).",
        };
        var noAllowOther = new Option<bool>("--no-allow-other")
        {
            Description = "Serve only the user who mounts: the kernel refuses every other user, root included. The default for a normal user.",
        };
        var cacheTimeout = new Option<double>("--cache-timeout")
        { Description = "Seconds the kernel may cache names and attributes of current/. Changes made beside the mount are pushed to the kernel at once (invalidation), so this can be long.", DefaultValueFactory = _ => 10.0 };
        var noWatch = new Option<bool>("--no-watch")
        { Description = "Do not follow changes made to the project directory beside the mount (they are then only seen, and recorded as 'external', at the next mount)." };
        var session = new SessionFlags();
        var httpListen = new Option<string?>("--http")
        {
            Description = "Also serve the HTTP API (see `lighthouse serve --help`) from this process, listening on host:port " +
                          "(127.0.0.1:7411) or unix:/path: changes over HTTP show in current/ at once.",
        };
        var http = new HttpFlags();
        var durability = new Option<Durability>("--durability")
        { Description = "Normal: events survive a crash of Lighthouse (the default); Full: also a power loss (an fsync per commit).", DefaultValueFactory = _ => Durability.Normal };

        var command = new Command("mount",
            "Mount a project: <mountpoint>/current is the project, read-write, every change recorded as an event of its caller; " +
            "<mountpoint>/history/@<n>, /history/<UTC time> and /history/<snapshot> show it as it was. Runs in the foreground " +
            "(Ctrl-C unmounts) unless --background.\n\n" +
            "As a normal user (no root): mount on a directory you own; fusermount3 (package fuse3, installed setuid root) mounts it. " +
            "The mount then serves only you, and file data goes through Lighthouse instead of the kernel's passthrough (which needs " +
            "CAP_SYS_ADMIN). Agents run as you with `lighthouse run --agent <name>`; everything is recorded as under root. " +
            "For agents running as other users, add --allow-other and the line user_allow_other to /etc/fuse.conf. " +
            "`lighthouse unmount` (fusermount3 -u) unmounts.\n\n" +
            "Example: lighthouse mount ~/src/app   then   ls /mnt/lighthouse/project/current\n" +
            "         lighthouse mount ~/src/app ~/mnt/app --background   (as a normal user)")
        {
            project, mountPoint, background, noPassthrough, allowOther, noAllowOther, cacheTimeout, durability, noWatch,
        };
        session.AddTo(command);
        command.Options.Add(httpListen);
        http.AddTo(command);
        command.SetAction(parse =>
        {
            var dir = parse.GetValue(project)!;
            if (!dir.Exists) { Console.Error.WriteLine($"lighthouse: project directory {dir.FullName} does not exist"); return ExitCodes.Usage; }
            if (session.Validate(parse) is { } invalid) { Console.Error.WriteLine($"lighthouse: {invalid}"); return ExitCodes.Usage; }
            if (parse.GetValue(allowOther) && parse.GetValue(noAllowOther)) { Console.Error.WriteLine("lighthouse: --allow-other and --no-allow-other contradict each other"); return ExitCodes.Usage; }
            // Root lets other users in by default (agents may run as them); a normal user cannot without user_allow_other.
            bool others = parse.GetValue(allowOther) || (Environment.IsPrivilegedProcess && !parse.GetValue(noAllowOther));
            string projectDir = Path.TrimEndingDirectorySeparator(dir.FullName);
            string mnt = Path.GetFullPath(parse.GetValue(mountPoint)!);
            // Before anything is opened or reconciled: a mount that would serve itself hangs beyond SIGKILL.
            if (LighthouseMount.MountPointProblem(projectDir, mnt) is { } problem) { Console.Error.WriteLine($"lighthouse: {problem}"); return ExitCodes.Usage; }
            if (MountState.ReadLive(projectDir) is { } live)
            {
                Console.Error.WriteLine($"lighthouse: {projectDir} is already mounted at {live.MountPoint} (pid {live.Pid}); `lighthouse unmount {live.MountPoint}` first");
                return ExitCodes.Failure;
            }
            Server.ServerOptions? httpOptions = parse.GetValue(httpListen) is { } listenAt ? http.Read(parse, listenAt) : null;
            if (httpOptions is not null)
                try { Server.ListenAddress.Parse(httpOptions.Listen, httpOptions.AllowNonLoopback); }
                catch (ArgumentException e) { Console.Error.WriteLine($"lighthouse: --http: {e.Message}"); return ExitCodes.Usage; }
            if (parse.GetValue(background)) return RunInBackground(projectDir, mnt, others);
            return RunForeground(projectDir, mnt, new LighthouseMountOptions
            {
                Stores = StoreAccess.Stores,
                KernelPassthrough = !parse.GetValue(noPassthrough),
                AllowOther = others,
                CacheTimeout = TimeSpan.FromSeconds(parse.GetValue(cacheTimeout)),
                Store = new StoreOptions { Durability = parse.GetValue(durability) },
                FollowExternalChanges = !parse.GetValue(noWatch),
                Session = session.Read(parse),
            }, httpOptions);
        });
        return command;
    }

    private static int RunForeground(string projectDir, string mnt, LighthouseMountOptions options, Server.ServerOptions? http = null)
    {
        var httpServers = new List<Server.LighthouseServer>();
        var clock = Stopwatch.StartNew();
        Console.Error.WriteLine($"lighthouse: opening {projectDir} (comparing the directory with the log)...");
        LighthouseMount lighthouse;
        try { lighthouse = LighthouseMount.Open(projectDir, options); }
        catch (StoreException e) { Console.Error.WriteLine($"lighthouse: {e.Message}"); return ExitCodes.Failure; }
        ControlServer? control = null, publicControl = null;
        try
        {
            if (lighthouse.Project.OpenReport is { } report)
            {
                int baseline = report.Events.Count(e => e.Op == EventOp.Baseline);
                Console.Error.WriteLine($"lighthouse: {report.Scanned:N0} entries scanned in {clock.Elapsed.TotalSeconds:0.0} s; " + (baseline > 0
                    ? $"first mount: recorded a baseline of {baseline:N0} entries (metadata only; contents are kept from their first change on)"
                    : $"{report.Events.Count:N0} changes made while Lighthouse was not running recorded as '{StoreConstants.ExternalAgent}'"));
            }
            return lighthouse.Serve(mnt, ready: mounted =>
            {
                var connection = mounted.Session!.Connection!;
                var store = mounted.Project.Store;
                // Verbs run while mounted (snapshot, status) talk to us here: the store has one owner.
                control = new ControlServer(MountState.DefaultControlSocket(projectDir), mounted.Project, () => mounted.Status());
                // `lighthouse serve` on the mounted project asks us to serve HTTP here, where the project is held.
                control.StartHttp = o =>
                {
                    lock (httpServers)
                    {
                        var server = HttpFlags.Start(mounted.Project, o);
                        httpServers.Add(server);
                        Console.Error.WriteLine(HttpFlags.Listening(server, projectDir));
                        return server.Addresses;
                    }
                };
                control.Start();
                var state = new MountState(Environment.ProcessId, mnt, projectDir, DateTime.UtcNow,
                    $"{connection.KernelMajor}.{connection.Minor}",
                    connection.Negotiated.ToString().Split(", "), mounted.Current.Passthrough.UsingKernelPassthrough,
                    control.SocketPath);
                state.Write(projectDir);
                control.Mount = state;
                publicControl = Publish(state, mounted);
                var passthrough = mounted.Current.Passthrough;
                Console.Error.WriteLine(
                    $"lighthouse: mounted {projectDir} at {mnt} (protocol {connection.KernelMajor}.{connection.Minor}, " +
                    $"kernel passthrough {(passthrough.UsingKernelPassthrough ? "on" : "off")}, events so far: {store.LastSeq:N0})");
                if (!passthrough.UsingKernelPassthrough && passthrough.KernelPassthroughOff is { } why)
                    Console.Error.WriteLine($"lighthouse: kernel passthrough off: {why}; file data is read and written through Lighthouse");
                if (!mounted.AllowOther) Console.Error.WriteLine(ServingOnly());
                if (http is not null)
                {
                    // The mount is up: a refused address leaves it serving without HTTP rather than tearing it down here.
                    try { control.StartHttp(http); }
                    catch (CliException e) { Console.Error.WriteLine($"lighthouse: --http: {e.Message}; the mount runs without the HTTP API"); }
                }
                Console.Error.WriteLine($"  try:  ls {mnt}/current          (the project; changes are recorded)");
                Console.Error.WriteLine($"        ls {mnt}/history/@{Math.Max(1, store.LastSeq)}   (the tree as of an event)");
                Console.Error.WriteLine($"        ./lighthouse log -C {projectDir}   (who changed what)");
                Console.Error.WriteLine("  Ctrl-C unmounts.");
            });
        }
        catch (FuseMountException e) when (e.UserAllowOtherMissingIn is { } conf)
        {
            Console.Error.WriteLine($"lighthouse: cannot mount with --allow-other as {Environment.UserName}: {conf} does not let users other " +
                $"than root ask for allow_other. Add the line\n    user_allow_other\nto {conf} (as root: echo user_allow_other >> {conf}), " +
                $"or mount without --allow-other (then only {Environment.UserName} can enter the mount).");
            return ExitCodes.Failure;
        }
        catch (FuseMountException e) { Console.Error.WriteLine($"lighthouse: {e.Message}"); return ExitCodes.Failure; }
        finally
        {
            lock (httpServers)
                foreach (var server in httpServers) server.DisposeAsync().AsTask().GetAwaiter().GetResult();
            if (publicControl is not null) MountRegistry.Withdraw(projectDir);
            publicControl?.Dispose();
            control?.Dispose();
            MountState.Delete(projectDir);
            Console.Error.WriteLine($"lighthouse: recording the last {lighthouse.Project.Recorder.Backlog} queued changes...");
            lighthouse.Dispose();
            var (commits, events) = lighthouse.Project.Store.CommitStats;
            var coalesced = lighthouse.Project.Recorder.CapturesCoalesced;
            if (events > 0)
                Console.Error.WriteLine($"lighthouse: recorded {events:N0} events in {commits:N0} commits this session" +
                    (coalesced > 0 ? $" ({coalesced:N0} writes captured with the one before)" : ""));
        }
    }

    /// <summary>
    /// Other users reach this mount's history through the public registry (the state directory is the owner's alone):
    /// a second control socket anyone may connect to, on which the mount answers each peer for what it may read, and an
    /// entry naming it. Without the registry (no right to create it) the mount runs, and says other users cannot ask it.
    /// </summary>
    private static ControlServer? Publish(MountState state, LighthouseMount mounted)
    {
        ControlServer? server = null;
        try
        {
            MountRegistry.Prepare();
            server = new ControlServer(MountRegistry.SocketPath(state.ProjectDir), mounted.Project, () => mounted.Status())
            {
                SocketMode = MountRegistry.PublicSocketMode, Mount = state,
            };
            server.Start();
            MountRegistry.Publish(state with { ControlSocket = server.SocketPath });
            return server;
        }
        // A normal user cannot write the registry (root's 0755 directory): binding the socket there fails with EACCES.
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Net.Sockets.SocketException)
        {
            server?.Dispose();
            Console.Error.WriteLine($"lighthouse: other users cannot ask this mount for the history they may read (lighthouse log, history, diff): " +
                $"{e.Message} (the registry {MountRegistry.DirectoryPath} must exist and be writable by uid {Native.Geteuid()})" +
                (mounted.AllowOther ? "; history/ in the mount works for them" : ""));
            return null;
        }
    }

    /// <summary>Starts this same command detached (new session, output to .lighthouse/mount.log) and waits until it is mounted.</summary>
    private static int RunInBackground(string projectDir, string mnt, bool allowOther)
    {
        string stateDir = StateDirectory.Ensure(projectDir);
        string log = Path.Combine(stateDir, "mount.log"), pidFile = Path.Combine(stateDir, "mount.pid");
        // The shell's redirections keep the mode of a file that exists: make both 0600 first, whatever the umask.
        using (StateDirectory.OpenPrivate(log, FileMode.Append, FileAccess.Write)) { }
        using (StateDirectory.OpenPrivate(pidFile, FileMode.OpenOrCreate, FileAccess.Write)) { }
        var args = Environment.GetCommandLineArgs().Where(a => a != "--background").Skip(1).Select(Quote);
        string self = $"{Quote(Environment.ProcessPath!)} {Quote(typeof(MountCommand).Assembly.Location)} {string.Join(' ', args)}";
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "lighthouse") // an apphost: it is the program itself
            self = $"{Quote(Environment.ProcessPath!)} {string.Join(' ', args)}";
        var psi = new ProcessStartInfo("/bin/sh", ["-c", $"setsid {self} >>{Quote(log)} 2>&1 </dev/null & echo $! > {Quote(pidFile)}"]);
        using (var starter = Process.Start(psi)!) starter.WaitForExit();
        int pid = int.TryParse(File.ReadAllText(pidFile).Trim(), out var p) ? p : 0;
        var deadline = DateTime.UtcNow.AddMinutes(10);
        while (DateTime.UtcNow < deadline)
        {
            if (MountState.ReadLive(projectDir) is { } state && state.Pid == pid)
            {
                Console.Error.WriteLine($"lighthouse: mounted {projectDir} at {state.MountPoint} in the background (pid {pid}; log {log})");
                if (!allowOther) Console.Error.WriteLine(ServingOnly());
                Console.Error.WriteLine($"  try:  ls {state.MountPoint}/current    and    ./lighthouse unmount {state.MountPoint}");
                return ExitCodes.Ok;
            }
            if (!MountState.IsProcessAlive(pid))
            {
                Console.Error.WriteLine($"lighthouse: the background mount exited; its log ({log}) ends with:");
                foreach (var line in File.ReadLines(log).TakeLast(10)) Console.Error.WriteLine("  " + line);
                return ExitCodes.Failure;
            }
            Thread.Sleep(200);
        }
        Console.Error.WriteLine($"lighthouse: the background mount (pid {pid}) is not ready after 10 minutes; see {log}");
        return ExitCodes.Failure;
    }

    /// <summary>What a mount without allow_other means, said at start-up: others (root included) get EACCES at the mount point.</summary>
    private static string ServingOnly() =>
        $"lighthouse: serving only {Environment.UserName}: other users cannot enter the mount; --allow-other lets them" +
        (Environment.IsPrivilegedProcess ? "" : ", which needs user_allow_other in /etc/fuse.conf");

    private static string Quote(string s) => "'" + s.Replace("'", "'\\''") + "'";
}
