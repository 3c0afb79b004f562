using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Lighthouse.Interop;

namespace Lighthouse.Fuse.Mounting;

/// <summary>
/// Mounts and unmounts FUSE filesystems without libfuse: <c>mount(2)</c> on <c>/dev/fuse</c> when
/// privileged, otherwise the setuid helper (<c>fusermount3</c>, else FUSE 2's <c>fusermount</c>),
/// which hands the descriptor back over the <c>_FUSE_COMMFD</c> socket.
/// </summary>
public static class FuseMounter
{
    private const string DevicePath = "/dev/fuse";
    private static readonly TimeSpan HelperTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(2);

    // ------------------------------------------------------------------ Mount

    /// <summary>
    /// Mounts a FUSE filesystem on <paramref name="mountPoint"/> (an existing directory) and returns
    /// the handle whose <see cref="FuseMountHandle.DeviceFd"/> the session serves. Nobody answers
    /// the kernel yet: until the session replies to INIT, any access into the mount blocks.
    /// </summary>
    /// <exception cref="FuseMountException">What was tried, the error text, and a hint.</exception>
    public static FuseMountHandle Mount(string mountPoint, MountOptions options)
    {
        ArgumentNullException.ThrowIfNull(mountPoint);
        ArgumentNullException.ThrowIfNull(options);
        ValidateOptions(options);

        string target = Canonicalize(mountPoint);
        CheckTarget(target);

        bool privileged = IsPrivileged();
        var attempts = new List<string>();
        var errnos = new List<int>();

        if (options.Method == MountMethod.Direct)
        {
            if (options.AutoUnmount)
                throw new FuseMountException(
                    $"Cannot mount {target} directly with auto_unmount: only a helper (fusermount3 or fusermount) can " +
                    "unmount when the filesystem process dies. Use MountMethod.Auto/Fusermount3/Fusermount, or drop AutoUnmount.");
            return MountDirect(target, options);
        }

        if (options.Method is MountMethod.Fusermount3 or MountMethod.Fusermount)
        {
            string name = options.Method == MountMethod.Fusermount3 ? "fusermount3" : "fusermount";
            string? helper = options.HelperPath is not null ? CheckHelperPath(options.HelperPath) : FindInPath(name);
            if (helper is null)
                throw new FuseMountException(
                    $"Cannot mount {target} with {name}: {DescribeMissingHelper(options.HelperPath, name)}.",
                    Libc.ENOENT);
            return MountWithHelper(target, options, helper);
        }

        // Auto.
        bool directFirst = privileged && !options.AutoUnmount;
        if (directFirst)
        {
            try { return MountDirect(target, options); }
            catch (FuseMountException e) when (e.Errno is Libc.EPERM or Libc.EACCES)
            {
                attempts.Add(e.Message);
                errnos.Add(e.Errno);
            }
        }

        var helpers = new List<string>();
        if (options.HelperPath is not null)
        {
            string? h = CheckHelperPath(options.HelperPath);
            if (h is null) attempts.Add($"helper {DescribeMissingHelper(options.HelperPath, "fusermount3")}");
            else helpers.Add(h);
        }
        else
        {
            foreach (string name in new[] { "fusermount3", "fusermount" })
            {
                string? h = FindInPath(name);
                if (h is not null && !helpers.Any(x => SameFile(x, h))) helpers.Add(h);
            }
        }

        foreach (string helper in helpers)
        {
            try { return MountWithHelper(target, options, helper); }
            // The next helper reads the same configuration and would refuse alike: say it once, plainly.
            catch (FuseMountException e) when (e.UserAllowOtherMissingIn is null)
            {
                attempts.Add(e.Message);
                errnos.Add(e.Errno);
            }
        }

        if (privileged && options.AutoUnmount)
        {
            // No helper could do it: mount directly, without auto_unmount (documented on MountOptions.AutoUnmount).
            Trace.TraceWarning($"Lighthouse.Fuse: no fusermount3/fusermount helper could mount {target}; mounting directly " +
                               "WITHOUT auto_unmount (a crash will leave a stale mount; clean it with CleanUpStale).");
            try { return MountDirect(target, options); }
            catch (FuseMountException e) { attempts.Add(e.Message); errnos.Add(e.Errno); }
        }

        if (helpers.Count == 0 && options.HelperPath is null)
            attempts.Add("no helper found: neither fusermount3 nor fusermount is in PATH " +
                         $"({Environment.GetEnvironmentVariable("PATH")}); hint: install fuse3 (apt-get install fuse3)");

        throw new FuseMountException(
            $"Could not mount FUSE on {target} ({(privileged ? "privileged" : "unprivileged: direct mount(2) needs root")}). Tried:\n  - " +
            string.Join("\n  - ", attempts),
            errnos.FirstOrDefault());
    }

    private static void ValidateOptions(MountOptions o)
    {
        if (string.IsNullOrEmpty(o.FsName) || o.FsName.Any(c => c == ',' || c == '\\' || char.IsWhiteSpace(c) || char.IsControl(c)))
            throw new ArgumentException($"FsName '{o.FsName}' must be non-empty, without commas, backslashes or whitespace.", "options");
        if (o.Subtype is not null && (o.Subtype.Length == 0
            || !o.Subtype.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.')))
            throw new ArgumentException($"Subtype '{o.Subtype}' must be non-empty and made of letters, digits, '_', '-', '.'.", "options");
    }

    /// <summary>The target must be an existing directory (and not already a FUSE mount).</summary>
    private static void CheckTarget(string target)
    {
        MountInfoEntry? existing = MountInfo.Find(target);
        if (existing is not null && existing.IsFuse)
        {
            // Never stat a live FUSE mount in this thread: it may block forever.
            (ProbeOutcome outcome, int errno) = ProbeMountPoint(target, existing);
            string what = $"{target} already has a FUSE filesystem mounted on it ({existing.FsType}, source '{existing.Source}')";
            throw outcome switch
            {
                ProbeOutcome.NotConnected => new FuseMountException(
                    $"{what}, and it is stale: its daemon is gone (stat: {Strerror(errno)}). " +
                    "Clean it up first (FuseMounter.CleanUpStale, or `fusermount3 -u -z " + target + "`).", Libc.ENOTCONN),
                ProbeOutcome.TimedOut => new FuseMountException(
                    $"{what}, whose daemon does not answer (alive but hung, or still starting). Unmount it first.", Libc.EBUSY),
                _ => new FuseMountException($"{what}. Unmount it first.", errno == 0 ? Libc.EBUSY : errno),
            };
        }
        if (existing is not null)
            return; // some other filesystem's mount point: do not stat it (it could hang); mount(2) will tell

        unsafe
        {
            StatxBuf buf;
            if (Libc.Statx(Libc.AT_FDCWD, target, 0, Libc.STATX_BASIC_STATS, &buf) != 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                string hint = errno == Libc.ENOENT ? " (create it first, e.g. mkdir -p " + target + ")" : "";
                throw new FuseMountException($"Cannot mount on {target}: {Strerror(errno)}{hint}.", errno);
            }
            ushort mode = buf.Mode;
            if ((mode & 0xF000) != 0x4000)
                throw new FuseMountException($"Cannot mount on {target}: not a directory.", Libc.ENOTDIR);
        }
    }

    // ------------------------------------------------------------------ direct mount(2)

    private static FuseMountHandle MountDirect(string target, MountOptions o)
    {
        int fd = Libc.Open(DevicePath, Libc.O_RDWR | Libc.O_CLOEXEC, 0);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            string hint = errno switch
            {
                Libc.ENOENT or Libc.ENODEV =>
                    " Hint: load the fuse module (modprobe fuse); in a container, pass the device (--device /dev/fuse).",
                Libc.EACCES or Libc.EPERM => " Hint: run as root, or mount through fusermount3 (install fuse3).",
                _ => "",
            };
            throw new FuseMountException($"direct mount(2) of {target}: cannot open {DevicePath}: {Strerror(errno)}.{hint}", errno);
        }

        try
        {
            string fsType = o.Subtype is null ? "fuse" : "fuse." + o.Subtype;
            var data = new StringBuilder();
            data.Append(CultureInfo.InvariantCulture,
                $"fd={fd},rootmode=40000,user_id={Libc.GetUid()},group_id={Libc.GetGid()}");
            if (o.AllowOther) data.Append(",allow_other");
            if (o.DefaultPermissions) data.Append(",default_permissions");
            if (o.MaxRead != 0) data.Append(CultureInfo.InvariantCulture, $",max_read={o.MaxRead}");

            ulong flags = Libc.MS_NOSUID | Libc.MS_NODEV | (o.ReadOnly ? Libc.MS_RDONLY : 0);
            if (Libc.Mount(o.FsName, target, fsType, flags, data.ToString()) != 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                string hint = errno switch
                {
                    Libc.EPERM or Libc.EACCES =>
                        " Hint: direct mounting needs root (or CAP_SYS_ADMIN); without it, mount through the fusermount3 helper " +
                        "(MountMethod.Auto or Fusermount3; install fuse3).",
                    Libc.ENODEV => " Hint: the kernel has no 'fuse' filesystem (modprobe fuse).",
                    Libc.EINVAL => " Hint: the kernel rejected an option (" + data + ").",
                    _ => "",
                };
                throw new FuseMountException(
                    $"direct mount(2) of {target} (type {fsType}, source {o.FsName}) failed: {Strerror(errno)}.{hint}", errno);
            }
        }
        catch
        {
            Libc.Close(fd);
            throw;
        }

        return new FuseMountHandle(fd, target, MountMethod.Direct, FindOurMountId(target), null, -1, null);
    }

    // ------------------------------------------------------------------ helper (fusermount3 / fusermount)

    private static FuseMountHandle MountWithHelper(string target, MountOptions o, string helper)
    {
        int version = HelperMajorVersion(helper);
        MountMethod method = version == 2 ? MountMethod.Fusermount : MountMethod.Fusermount3;
        string opts = BuildHelperOptions(o, version);
        string label = $"{Path.GetFileName(helper)} ({helper}, FUSE {version})";

        int ours, theirs;
        unsafe
        {
            int* sv = stackalloc int[2];
            if (Libc.SocketPair(Libc.AF_UNIX, Libc.SOCK_STREAM | Libc.SOCK_CLOEXEC, 0, sv) != 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                throw new FuseMountException($"{label}: socketpair failed: {Strerror(errno)}.", errno);
            }
            ours = sv[0];
            theirs = sv[1];
        }

        Process? process = null;
        bool keepChannel = false;
        var stderr = new StringBuilder();
        try
        {
            // The helper's end must survive exec: clear its close-on-exec flag just before starting.
            if (Libc.Fcntl(theirs, Libc.F_SETFD, 0) != 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                throw new FuseMountException($"{label}: fcntl failed: {Strerror(errno)}.", errno);
            }

            var psi = new ProcessStartInfo(helper)
            {
                UseShellExecute = false,
                RedirectStandardError = true,
                RedirectStandardOutput = true,
                RedirectStandardInput = false,
            };
            psi.ArgumentList.Add("-o");
            psi.ArgumentList.Add(opts);
            psi.ArgumentList.Add("--");
            psi.ArgumentList.Add(target);
            psi.Environment["_FUSE_COMMFD"] = theirs.ToString(CultureInfo.InvariantCulture);

            try
            {
                process = new Process { StartInfo = psi };
                process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (stderr) stderr.AppendLine(e.Data); };
                process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (stderr) stderr.AppendLine(e.Data); };
                process.Start();
                process.BeginErrorReadLine();
                process.BeginOutputReadLine();
            }
            catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
            {
                throw new FuseMountException($"{label}: could not start it: {e.Message}.", Libc.ENOENT, e);
            }
            finally
            {
                Libc.Close(theirs);
                theirs = -1;
            }

            int fd = ReceiveFd(ours, process, label, out string? receiveError);
            if (fd < 0)
            {
                int exit = WaitForExit(process, TimeSpan.FromSeconds(5));
                string text;
                lock (stderr) text = stderr.ToString().Trim();
                if (o.AllowOther && UserAllowOtherConfig(text) is { } conf)
                    throw new FuseMountException(
                        $"{Path.GetFileName(helper)} refused allow_other on {target} (exit status {exit}): a user other than root may " +
                        $"ask for it only if {conf} has the line user_allow_other. Add that line to {conf} (as root), or mount " +
                        "without allow_other (then only the mounting user can enter the mount).", Libc.EPERM)
                    { UserAllowOtherMissingIn = conf };
                string how = receiveError ?? (exit == int.MinValue ? "it did not exit" : $"exit status {exit}");
                throw new FuseMountException(
                    $"{label} failed to mount {target} with -o {opts} ({how}): " +
                    (text.Length > 0 ? text : "(no error output)") + HelperHint(text, helper),
                    GuessErrno(text));
            }

            if (o.AutoUnmount)
            {
                // The helper stays alive, watching our end of the socket: closing it (or dying) unmounts.
                keepChannel = true;
                Process? watchdog = !o.AllowOther && Libc.GetUid() != 0 ? StartUnmountWatchdog(helper, target) : null;
                return new FuseMountHandle(fd, target, method, FindOurMountId(target), helper, ours, process, watchdog);
            }

            WaitForExit(process, TimeSpan.FromSeconds(10));
            process.Dispose();
            process = null;
            return new FuseMountHandle(fd, target, method, FindOurMountId(target), helper, -1, null);
        }
        finally
        {
            if (theirs >= 0) Libc.Close(theirs);
            if (!keepChannel)
            {
                Libc.Close(ours);
                process?.Dispose();
            }
        }
    }

    /// <summary>
    /// A backup for auto_unmount. fusermount (FUSE 2) and fusermount3 before libfuse's fix for issue
    /// #586 (2023) decide to unmount by opening the mount point as root with the user's real uid, which
    /// the kernel refuses (EACCES) on a mount without allow_other: their auto_unmount then never fires
    /// for a normal user. This small shell, started now, waits on a pipe that only this process holds;
    /// if the process dies (EOF) it runs <c>helper -u -z</c> as the user, which works. A clean unmount
    /// disarms it by writing a line first.
    /// </summary>
    private static Process? StartUnmountWatchdog(string helper, string target)
    {
        const string script = "trap '' INT HUP TERM QUIT; if read -r _; then exit 0; fi; exec \"$0\" -u -q -z -- \"$1\"";
        try
        {
            var psi = new ProcessStartInfo("/bin/sh") { UseShellExecute = false, RedirectStandardInput = true };
            foreach (string a in new[] { "-c", script, helper, target }) psi.ArgumentList.Add(a);
            return Process.Start(psi);
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            Trace.TraceWarning($"Lighthouse.Fuse: could not start the auto_unmount watchdog for {target}: {e.Message}");
            return null;
        }
    }

    /// <summary>Options for the helper's -o, in libfuse's style.</summary>
    internal static string BuildHelperOptions(MountOptions o, int helperVersion)
    {
        var opts = new List<string> { o.ReadOnly ? "ro" : "rw", "fsname=" + o.FsName };
        if (o.Subtype is not null) opts.Add("subtype=" + o.Subtype);
        if (o.AllowOther) opts.Add("allow_other");
        if (o.DefaultPermissions) opts.Add("default_permissions");
        if (o.MaxRead != 0) opts.Add("max_read=" + o.MaxRead.ToString(CultureInfo.InvariantCulture));
        if (o.AutoUnmount) opts.Add("auto_unmount");
        // FUSE 2's fusermount refuses a non-empty mount point unless told; fusermount3 and mount(2) do not care.
        if (helperVersion == 2) opts.Add("nonempty");
        return string.Join(',', opts);
    }

    /// <summary>
    /// Waits for the helper to send the /dev/fuse descriptor (SCM_RIGHTS) over our end of the socket.
    /// Returns -1 if it closed the socket without one (mount failed) or exited without sending.
    /// Polls rather than blocking in recvmsg: another process started at the same moment may have
    /// inherited the helper's end, and then EOF would never come.
    /// </summary>
    private static unsafe int ReceiveFd(int sock, Process helper, string label, out string? error)
    {
        error = null;
        var deadline = Stopwatch.StartNew();
        bool exitedOnce = false;
        while (true)
        {
            var pfd = new PollFd { Fd = sock, Events = Libc.POLLIN };
            int rc = Libc.Poll(&pfd, 1, 100);
            if (rc < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno == Libc.EINTR) continue;
                throw new FuseMountException($"{label}: poll failed: {Strerror(errno)}.", errno);
            }
            if (rc > 0) break;
            if (helper.HasExited)
            {
                if (exitedOnce) return -1; // exited, and nothing arrived in the grace poll
                exitedOnce = true;         // one more poll round for data sent just before exit
                continue;
            }
            if (deadline.Elapsed > HelperTimeout)
            {
                try { helper.Kill(); } catch (InvalidOperationException) { }
                error = $"no descriptor received within {HelperTimeout.TotalSeconds:0} s; killed it";
                return -1;
            }
        }

        byte data;
        var iov = new IoVec { Base = &data, Len = 1 };
        ulong* control = stackalloc ulong[8]; // 64 bytes, 8-aligned: room for CMSG_SPACE(sizeof(int))
        var msg = new MsgHdr
        {
            Iov = &iov,
            IovLen = 1,
            Control = control,
            ControlLen = 64,
        };
        nint n;
        do
        {
            n = Libc.RecvMsg(sock, &msg, Libc.MSG_CMSG_CLOEXEC);
        } while (n < 0 && Marshal.GetLastPInvokeError() == Libc.EINTR);
        if (n < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            error = $"recvmsg failed: {Strerror(errno)}";
            return -1;
        }
        if (n == 0) return -1; // closed without a descriptor: the helper failed and said why on stderr

        if (msg.ControlLen >= (nuint)(sizeof(CmsgHdr) + sizeof(int)))
        {
            var hdr = (CmsgHdr*)control;
            if (hdr->Level == Libc.SOL_SOCKET && hdr->Type == Libc.SCM_RIGHTS)
                return *(int*)((byte*)control + sizeof(CmsgHdr));
        }
        error = "it sent data but no descriptor";
        return -1;
    }

    private static int WaitForExit(Process p, TimeSpan timeout)
    {
        if (!p.WaitForExit(timeout)) return int.MinValue;
        p.WaitForExit(); // flush the asynchronous stderr/stdout readers
        return p.ExitCode;
    }

    private static readonly Dictionary<string, int> s_helperVersions = new();

    /// <summary>2 for FUSE 2's fusermount, 3 otherwise; from <c>helper -V</c>, else from the name.</summary>
    internal static int HelperMajorVersion(string helper)
    {
        lock (s_helperVersions)
            if (s_helperVersions.TryGetValue(helper, out int v)) return v;

        int version = Path.GetFileName(helper).Contains("fusermount3", StringComparison.Ordinal) ? 3 : 2;
        try
        {
            var psi = new ProcessStartInfo(helper, "-V")
            {
                UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true,
            };
            using Process p = Process.Start(psi)!;
            Task<string> stdout = p.StandardOutput.ReadToEndAsync();
            Task<string> stderr = p.StandardError.ReadToEndAsync();
            if (p.WaitForExit(5000))
            {
                // "fusermount3 version: 3.14.0" / "fusermount version: 2.9.9"
                string text = stdout.Result + stderr.Result;
                int i = text.IndexOf("version:", StringComparison.Ordinal);
                if (i >= 0)
                {
                    string rest = text[(i + 8)..].TrimStart();
                    if (rest.Length > 0 && char.IsAsciiDigit(rest[0])) version = rest[0] - '0';
                }
            }
            else
            {
                p.Kill();
            }
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            // keep the guess from the name
        }

        lock (s_helperVersions) s_helperVersions[helper] = version;
        return version;
    }

    /// <summary>
    /// The configuration file named by a helper's refusal of allow_other, or null if <paramref name="stderr"/> is
    /// not that refusal. fusermount3 says "option allow_other only allowed if 'user_allow_other' is set in
    /// /etc/fuse.conf" (exit status 1); FUSE 2's fusermount says the same with its own name.
    /// </summary>
    internal static string? UserAllowOtherConfig(string stderr)
    {
        const string marker = "'user_allow_other' is set in ";
        int i = stderr.IndexOf(marker, StringComparison.Ordinal);
        if (i < 0) return null;
        string rest = stderr[(i + marker.Length)..];
        int end = rest.IndexOfAny(['\n', '\r', ' ']);
        string file = (end < 0 ? rest : rest[..end]).TrimEnd('.');
        return file.StartsWith('/') ? file : "/etc/fuse.conf";
    }

    private static string HelperHint(string stderr, string helper)
    {
        if (stderr.Contains("user_allow_other", StringComparison.Ordinal))
            return "\nHint: user_allow_other missing in /etc/fuse.conf: add that line, or mount without AllowOther.";
        if (stderr.Contains("not owned by user", StringComparison.Ordinal) || stderr.Contains("no write access", StringComparison.Ordinal))
            return "\nHint: an unprivileged user can only mount on a directory it owns and can write.";
        if (stderr.Contains("open /dev/fuse", StringComparison.Ordinal) && stderr.Contains("Permission denied", StringComparison.Ordinal))
            return $"\nHint: the helper opens /dev/fuse as the calling user, who may not open it ({DescribeDeviceMode()}); " +
                   "distributions make it crw-rw-rw- (chmod 0666 /dev/fuse as root).";
        if (stderr.Contains("not permitted", StringComparison.OrdinalIgnoreCase) || stderr.Contains("Permission denied", StringComparison.Ordinal))
        {
            if (!IsSetuidRoot(helper))
                return $"\nHint: {helper} is not setuid root (chown root {helper} && chmod u+s {helper}), so it cannot mount for a normal user.";
            return "\nHint: check that the directory holding the helper is not on a nosuid filesystem, and that /dev/fuse is usable.";
        }
        if (stderr.Contains("unknown option", StringComparison.Ordinal))
            return "\nHint: this helper does not know one of the options; drop it or use another helper (HelperPath).";
        if (stderr.Contains("fuse device not found", StringComparison.Ordinal) || stderr.Contains("/dev/fuse", StringComparison.Ordinal))
            return "\nHint: load the fuse module (modprobe fuse); in a container, pass the device (--device /dev/fuse).";
        return "";
    }

    private static string DescribeDeviceMode() =>
        StatOwnerMode(DevicePath) is (uint uid, uint mode)
            ? $"{DevicePath} has mode {Convert.ToString(mode & 0x1FF, 8)}, owner uid {uid}"
            : $"{DevicePath} cannot be inspected";

    private static int GuessErrno(string stderr)
    {
        if (stderr.Contains("not permitted", StringComparison.OrdinalIgnoreCase)) return Libc.EPERM;
        if (stderr.Contains("Permission denied", StringComparison.Ordinal)) return Libc.EACCES;
        if (stderr.Contains("No such file", StringComparison.Ordinal)) return Libc.ENOENT;
        if (stderr.Contains("not connected", StringComparison.Ordinal)) return Libc.ENOTCONN;
        return 0;
    }

    private static bool IsSetuidRoot(string path) =>
        StatOwnerMode(path) is (uint uid, uint mode) && uid == 0 && (mode & 0x800) != 0; // S_ISUID

    /// <summary>(owner uid, mode) of a file that is not a FUSE mount point, or null.</summary>
    private static unsafe (uint Uid, uint Mode)? StatOwnerMode(string path)
    {
        StatxBuf buf;
        if (Libc.Statx(Libc.AT_FDCWD, path, 0, Libc.STATX_BASIC_STATS, &buf) != 0) return null;
        return (buf.Uid, buf.Mode);
    }

    private static string? CheckHelperPath(string path)
    {
        string full = Path.GetFullPath(path);
        return File.Exists(full) && IsExecutable(full) ? full : null;
    }

    private static string DescribeMissingHelper(string? explicitPath, string name) =>
        explicitPath is not null
            ? $"the helper {explicitPath} does not exist or is not executable"
            : $"{name} is not in PATH ({Environment.GetEnvironmentVariable("PATH")}); hint: install " +
              (name == "fusermount3" ? "fuse3 (apt-get install fuse3)" : "fuse (FUSE 2) or fuse3, or give HelperPath");

    internal static string? FindInPath(string name)
    {
        string path = Environment.GetEnvironmentVariable("PATH") is { Length: > 0 } p
            ? p : "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin";
        foreach (string dir in path.Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Join(dir, name);
            if (File.Exists(candidate) && IsExecutable(candidate)) return Path.GetFullPath(candidate);
        }
        return null;
    }

    private static bool IsExecutable(string path) =>
        StatOwnerMode(path) is (_, uint mode) && (mode & 0xF000) == 0x8000 && (mode & 0x49) != 0; // regular, some x bit

    private static bool SameFile(string a, string b)
    {
        try
        {
            string ra = new FileInfo(a).ResolveLinkTarget(true)?.FullName ?? a;
            string rb = new FileInfo(b).ResolveLinkTarget(true)?.FullName ?? b;
            return ra == rb;
        }
        catch (IOException) { return a == b; }
    }

    // ------------------------------------------------------------------ unmount

    internal static void UnmountMount(FuseMountHandle h)
    {
        string target = h.MountPoint;
        MountInfoEntry? top = MountInfo.Find(target);
        bool ours = h.MountId >= 0
            ? MountInfo.Read().Any(e => e.MountId == h.MountId)
            : top is not null && top.IsFuse;
        if (!ours) return; // already gone (unmounted by someone else, or by the auto_unmount helper)
        if (top is not null && h.MountId >= 0 && top.MountId != h.MountId)
            throw new FuseMountException(
                $"Cannot unmount {target}: another filesystem ({top.FsType}, source '{top.Source}') is mounted on top of ours. Unmount it first.",
                Libc.EBUSY);

        if (h.HelperPath is null)
        {
            UnmountDirect(target);
        }
        else
        {
            string? error = UnmountWithHelper(h.HelperPath, target);
            if (error is not null && StillMounted(h))
            {
                // As root, umount2 works even where the helper refused.
                if (IsPrivileged() && Libc.Umount2(target, Libc.MNT_DETACH) == 0) return;
                throw new FuseMountException($"Could not unmount {target}: {error}", 0);
            }
        }
    }

    private static bool StillMounted(FuseMountHandle h) =>
        h.MountId >= 0 ? MountInfo.Read().Any(e => e.MountId == h.MountId) : IsMounted(h.MountPoint);

    private static void UnmountDirect(string target)
    {
        if (Libc.Umount2(target, Libc.UMOUNT_NOFOLLOW) == 0) return;
        int errno = Marshal.GetLastPInvokeError();
        if (errno == Libc.EBUSY)
        {
            if (Libc.Umount2(target, Libc.MNT_DETACH | Libc.UMOUNT_NOFOLLOW) == 0) return;
            errno = Marshal.GetLastPInvokeError();
            throw new FuseMountException($"umount2({target}) failed: busy, and the lazy unmount failed too: {Strerror(errno)}.", errno);
        }
        if (errno == Libc.EINVAL && !IsMounted(target)) return; // not a mount point any more
        if (errno == Libc.ENOENT) return;
        string hint = errno is Libc.EPERM ? " Hint: a direct mount can only be unmounted by root." : "";
        throw new FuseMountException($"umount2({target}) failed: {Strerror(errno)}.{hint}", errno);
    }

    /// <summary>Runs <c>helper -u -z target</c>; returns null on success, else what went wrong.</summary>
    private static string? UnmountWithHelper(string helper, string target)
    {
        try
        {
            var psi = new ProcessStartInfo(helper)
            {
                UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true,
            };
            foreach (string a in new[] { "-u", "-z", "--", target }) psi.ArgumentList.Add(a);
            using Process p = Process.Start(psi)!;
            Task<string> stdout = p.StandardOutput.ReadToEndAsync();
            Task<string> stderr = p.StandardError.ReadToEndAsync();
            if (!p.WaitForExit((int)HelperTimeout.TotalMilliseconds))
            {
                try { p.Kill(); } catch (InvalidOperationException) { }
                return $"{helper} -u -z did not finish within {HelperTimeout.TotalSeconds:0} s";
            }
            if (p.ExitCode == 0) return null;
            return $"{helper} -u -z {target} exited with {p.ExitCode}: {(stdout.Result + stderr.Result).Trim()}";
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            return $"could not run {helper}: {e.Message}";
        }
    }

    // ------------------------------------------------------------------ queries

    /// <summary>Whether something is mounted exactly on <paramref name="mountPoint"/>, from /proc/self/mountinfo (never touches the mount).</summary>
    public static bool IsMounted(string mountPoint)
    {
        ArgumentNullException.ThrowIfNull(mountPoint);
        return MountInfo.Find(Canonicalize(mountPoint)) is not null;
    }

    /// <summary>
    /// If a FUSE mount on <paramref name="mountPoint"/> is stale (stat gives ENOTCONN: its daemon is
    /// gone), unmounts it lazily: umount2(MNT_DETACH) when privileged, else <c>fusermount3 -u -z</c>
    /// (or <c>fusermount -u -z</c>). Live, hung or non-FUSE mounts are left alone, and the message says so.
    /// </summary>
    public static StaleMountCleanup CleanUpStale(string mountPoint)
    {
        ArgumentNullException.ThrowIfNull(mountPoint);
        string target = Canonicalize(mountPoint);
        var done = new List<string>();

        // Stale mounts can be stacked (a daemon that crashed twice): clean them one by one.
        for (int round = 0; round < 16; round++)
        {
            MountInfoEntry? e = MountInfo.Find(target);
            string cleaned = done.Count == 0 ? "" : $" (after cleaning up {done.Count} stale mount(s) there)";
            if (e is null)
                return done.Count > 0
                    ? new StaleMountCleanup(true, true, string.Join(" ", done))
                    : new StaleMountCleanup(false, false, $"Nothing is mounted on {target}.");
            if (!e.IsFuse)
                return Result(done, false, $"{target} is a {e.FsType} mount, not FUSE; left alone{cleaned}.");

            (ProbeOutcome outcome, int errno) = ProbeMountPoint(target, e);
            string what = $"{target} ({e.FsType}, source '{e.Source}')";
            switch (outcome)
            {
                case ProbeOutcome.Alive:
                    return Result(done, false, $"{what} is a live FUSE mount: its daemon answers; left alone{cleaned}.");
                case ProbeOutcome.TimedOut:
                    return Result(done, false,
                        $"{what} is a FUSE mount whose daemon does not answer within {ProbeTimeout.TotalSeconds:0} s " +
                        $"(hung, or not yet initialised); left alone{cleaned}. If its daemon is gone for good: fusermount3 -u -z {target}");
                case ProbeOutcome.Error:
                    return Result(done, false, $"Could not check {what}: stat: {Strerror(errno)}; left alone{cleaned}.");
            }

            // Stale.
            string? how = LazyUnmount(target, e, out string? failure);
            if (how is null)
                return new StaleMountCleanup(true, false,
                    string.Join(" ", done.Append(
                        $"{what} is a stale FUSE mount ({Strerror(errno)}: its daemon is gone), " +
                        $"but unmounting it failed: {failure}. Try: fusermount3 -u -z {target} (or umount -l {target} as root).")));
            done.Add($"{what} was a stale FUSE mount ({Strerror(errno)}: its daemon is gone); lazily unmounted it with {how}.");
        }
        return new StaleMountCleanup(true, true, string.Join(" ", done));
    }

    private static StaleMountCleanup Result(List<string> done, bool wasStale, string message) =>
        done.Count > 0
            ? new StaleMountCleanup(true, true, string.Join(" ", done) + " " + message)
            : new StaleMountCleanup(wasStale, false, message);

    /// <summary>Lazy unmount of a stale mount; returns how it was done, or null (and why) on failure.</summary>
    private static string? LazyUnmount(string target, MountInfoEntry e, out string? failure)
    {
        failure = null;
        var errors = new List<string>();
        if (IsPrivileged())
        {
            if (Libc.Umount2(target, Libc.MNT_DETACH | Libc.UMOUNT_NOFOLLOW) == 0 || !SameMountStillThere(e))
                return "umount2(MNT_DETACH)";
            errors.Add("umount2(MNT_DETACH): " + Strerror(Marshal.GetLastPInvokeError()));
        }
        foreach (string name in new[] { "fusermount3", "fusermount" })
        {
            string? helper = FindInPath(name);
            if (helper is null) continue;
            string? error = UnmountWithHelper(helper, target);
            if (error is null || !SameMountStillThere(e)) return $"{name} -u -z";
            errors.Add(error);
        }
        if (errors.Count == 0) errors.Add("no fusermount3/fusermount in PATH and not privileged (install fuse3)");
        failure = string.Join("; ", errors);
        return null;
    }

    private static bool SameMountStillThere(MountInfoEntry e) => MountInfo.Read().Any(x => x.MountId == e.MountId);

    internal enum ProbeOutcome { Alive, NotConnected, TimedOut, Error }

    /// <summary>
    /// stat()s a FUSE mount point on a throw-away thread, forcing a GETATTR to the daemon, and waits
    /// at most <see cref="ProbeTimeout"/>: a mount whose daemon never answers blocks the caller forever,
    /// so the thread is abandoned then (it returns once the connection is aborted or answered).
    /// The kernel refuses other users' FUSE mounts even to root (EACCES without asking the daemon), so
    /// when privileged the thread first takes the mount owner's uid/gid (credentials are per thread in Linux).
    /// </summary>
    internal static (ProbeOutcome, int) ProbeMountPoint(string target, MountInfoEntry e)
    {
        uint? ownerUid = uint.TryParse(e.SuperOption("user_id"), out uint u) ? u : null;
        uint? ownerGid = uint.TryParse(e.SuperOption("group_id"), out uint g) ? g : null;
        bool becomeOwner = ownerUid is not null && ownerGid is not null && ownerUid != Libc.GetEuid()
                           && !e.HasOption("allow_other") && Libc.GetEuid() == 0;

        var result = new TaskCompletionSource<(int rc, int errno)>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                if (becomeOwner && !ThreadBecome(ownerUid!.Value, ownerGid!.Value, out int err))
                {
                    result.TrySetResult((-2, err));
                    return;
                }
                result.TrySetResult(StatForced(target));
            }
            catch (Exception ex)
            {
                result.TrySetException(ex);
            }
        })
        {
            IsBackground = true,
            Name = "fuse-mount-probe",
        };
        thread.Start();
        if (!result.Task.Wait(ProbeTimeout)) return (ProbeOutcome.TimedOut, 0);
        (int rc, int errno) = result.Task.Result;
        if (rc == 0) return (ProbeOutcome.Alive, 0);
        // ENOTCONN: the daemon closed /dev/fuse. ECONNABORTED: the same for a daemon that served through
        // io_uring (its ring was torn down with it).
        return errno is Libc.ENOTCONN or Libc.ECONNABORTED ? (ProbeOutcome.NotConnected, errno) : (ProbeOutcome.Error, errno);
    }

    private static unsafe (int, int) StatForced(string target)
    {
        StatxBuf buf;
        int rc = Libc.Statx(Libc.AT_FDCWD, target, Libc.AT_STATX_FORCE_SYNC, Libc.STATX_BASIC_STATS, &buf);
        return (rc, rc == 0 ? 0 : Marshal.GetLastPInvokeError());
    }

    /// <summary>
    /// Changes the credentials of the calling thread only (raw setresgid/setresuid system calls; glibc's
    /// wrappers would change every thread of the process). The thread must be thrown away afterwards.
    /// </summary>
    private static bool ThreadBecome(uint uid, uint gid, out int errno)
    {
        (long setresuid, long setresgid) = RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.X64 => (117L, 119L),
            Architecture.Arm64 => (147L, 149L),
            _ => (-1L, -1L),
        };
        errno = Libc.EPERM;
        if (setresuid < 0) return false;
        if (Libc.Syscall3(setresgid, gid, gid, gid) != 0 || Libc.Syscall3(setresuid, uid, uid, uid) != 0)
        {
            errno = Marshal.GetLastPInvokeError();
            return false;
        }
        return true;
    }

    // ------------------------------------------------------------------ helpers

    /// <summary>euid 0, or CAP_SYS_ADMIN in the effective set.</summary>
    internal static bool IsPrivileged()
    {
        if (Libc.GetEuid() == 0) return true;
        try
        {
            foreach (string line in File.ReadLines("/proc/self/status"))
            {
                if (!line.StartsWith("CapEff:", StringComparison.Ordinal)) continue;
                ulong caps = ulong.Parse(line[7..].Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                return (caps & (1UL << 21)) != 0; // CAP_SYS_ADMIN
            }
        }
        catch (IOException) { }
        catch (FormatException) { }
        return false;
    }

    /// <summary>
    /// Absolute path with the parent's symlinks resolved, WITHOUT touching the last component: it may
    /// be a FUSE mount whose daemon does not answer yet, and stat() on it would block.
    /// </summary>
    internal static string Canonicalize(string mountPoint)
    {
        string full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(mountPoint));
        if (full == "/" || full.Length == 0) return "/";
        string parent = Path.GetDirectoryName(full) ?? "/";
        string name = Path.GetFileName(full);
        nint p = Libc.RealPath(parent, 0);
        if (p == 0) return full;
        try
        {
            string real = Marshal.PtrToStringUTF8(p) ?? parent;
            return real == "/" ? "/" + name : real + "/" + name;
        }
        finally
        {
            Libc.Free(p);
        }
    }

    private static int FindOurMountId(string target)
    {
        // The top-most mount there, right after mounting, is ours (the source check is only a sanity check:
        // a helper may have rewritten it).
        MountInfoEntry? e = MountInfo.Find(target);
        return e is not null && e.IsFuse ? e.MountId : -1;
    }

    internal static string Strerror(int errno) =>
        $"{Marshal.GetPInvokeErrorMessage(errno)} ({ErrnoName(errno)})";

    private static string ErrnoName(int errno) => errno switch
    {
        Libc.EPERM => "EPERM",
        Libc.ENOENT => "ENOENT",
        Libc.EINTR => "EINTR",
        Libc.EAGAIN => "EAGAIN",
        Libc.EACCES => "EACCES",
        Libc.EBUSY => "EBUSY",
        Libc.ENODEV => "ENODEV",
        Libc.ENOTDIR => "ENOTDIR",
        Libc.EINVAL => "EINVAL",
        Libc.ENOTCONN => "ENOTCONN",
        Libc.ECONNABORTED => "ECONNABORTED",
        _ => "errno " + errno.ToString(CultureInfo.InvariantCulture),
    };
}
