using System.Collections;
using System.CommandLine;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using Lighthouse.Cli.Control;
using Lighthouse.Project.Agents;

namespace Lighthouse.Cli.Commands;

/// <summary>`lighthouse run --agent NAME -- COMMAND…`: a command, and everything it starts, as a named agent of the mount.</summary>
public static class RunCommand
{
    public const string AgentVariable = "LIGHTHOUSE_AGENT";

    public static Command Create()
    {
        var project = ProjectLocator.ProjectOption();
        var agent = new Option<string>("--agent") { Description = "The agent's name (the owner's run adds it if it is new).", Required = true };
        var role = new Option<string?>("--role") { Description = "Its role for this run (policy rules match on it); default: the agent's own. Only the owner may choose another." };
        var token = new Option<string?>("--token") { Description = "The agent's token (default: $LIGHTHOUSE_TOKEN): how users other than the mount's owner prove they may run it." };
        var argv = new Argument<string[]>("command") { Description = "The command and its arguments (after --).", Arity = ArgumentArity.OneOrMore };
        var c = new Command("run",
            "Run a command as a named agent of the mounted project: every change it, or any process it starts, makes through the " +
            "mount is credited to the agent (identified by ancestry: this process registers itself with the mount, then becomes " +
            "the command, so its pid is the registered one). The command gets LIGHTHOUSE_AGENT and LIGHTHOUSE_TOKEN in its " +
            "environment: a descendant that leaves the process tree (a daemon) is still identified by the token.\n\n" +
            "The project must be mounted. The mount's owner (and root) may run any agent; other users need the agent's token " +
            "(`lighthouse agent token`).\n\n" +
            "Examples:\n  lighthouse run --agent builder --role builder -- claude\n" +
            "  lighthouse run --agent reviewer -C ~/src/app -- bash -c 'git log; make test'")
        {
            agent, role, token, project, argv,
        };
        c.SetAction(parse => CliRunner.Run(parse, ctx => Run(ctx, parse.GetValue(project), parse.GetValue(agent)!, parse.GetValue(role),
            parse.GetValue(token) ?? Environment.GetEnvironmentVariable(ProcessAgentResolver.TokenVariable), parse.GetValue(argv)!)));
        return c;
    }

    private static int Run(CliContext ctx, string? projectOpt, string agent, string? role, string? token, string[] argv)
    {
        AgentRegistry.CheckName(agent);
        var projectDir = ProjectLocator.Find(projectOpt);
        var route = HistoryRoute.Of(projectDir);
        var mount = (route.Direct ? MountState.ReadLive(projectDir) : MountRegistry.Find(projectDir))
            ?? throw new CliException($"{projectDir} is not mounted: `lighthouse run` names the agent to the running mount; start it first (lighthouse mount {projectDir})", ExitCodes.Failure);
        // Look the command up before registering: a typo should not leave a registration behind.
        var program = FindProgram(argv[0]) ?? throw new CliException($"{argv[0]}: command not found", 127);
        var answer = ControlClient.Call(mount, new JsonObject { ["op"] = "agent-register", ["agent"] = agent, ["role"] = role, ["token"] = token });
        var environment = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (DictionaryEntry e in Environment.GetEnvironmentVariables()) environment[(string)e.Key] = (string?)e.Value ?? "";
        environment[AgentVariable] = agent;
        if (answer["token"]?.GetValue<string>() is { } issued) environment[ProcessAgentResolver.TokenVariable] = issued;
        environment["LIGHTHOUSE_PROJECT"] = projectDir;
        environment["LIGHTHOUSE_MOUNT"] = mount.MountPoint;
        ctx.Err.Flush();
        ctx.Out.Flush();
        var errno = Exec(program, argv, [.. environment.Select(e => $"{e.Key}={e.Value}")]);
        throw new CliException($"{argv[0]}: cannot run it: {Native.ErrorText(errno)}", 126);
    }

    /// <summary>The file execve would run for <paramref name="name"/>: as given when it has a '/', else the first
    /// executable of that name on PATH.</summary>
    private static string? FindProgram(string name)
    {
        if (name.Contains('/')) return File.Exists(name) ? name : null;
        var path = Environment.GetEnvironmentVariable("PATH") ?? "/usr/local/bin:/usr/bin:/bin";
        foreach (var dir in path.Split(':'))
        {
            var candidate = Path.Combine(dir.Length == 0 ? "." : dir, name);
            if (File.Exists(candidate) && access(candidate, 1 /* X_OK */) == 0) return candidate;
        }
        return null;
    }

    /// <summary>
    /// Replaces this process with the program (same pid and start time, so the registration holds). The runtime
    /// ignores SIGPIPE and may block signals: both would pass to the program, so they are reset first. Returns only
    /// on failure, with the errno.
    /// </summary>
    private static unsafe int Exec(string program, string[] argv, string[] environment)
    {
        var allocated = new List<IntPtr>();
        IntPtr Utf8(string s) { var p = Marshal.StringToCoTaskMemUTF8(s); allocated.Add(p); return p; }
        try
        {
            var args = argv.Select(Utf8).Append(IntPtr.Zero).ToArray();
            var env = environment.Select(Utf8).Append(IntPtr.Zero).ToArray();
            var path = Utf8(program);
            for (int sig = 1; sig < 32; sig++)
                if (sig is not (9 or 19)) signal(sig, IntPtr.Zero /* SIG_DFL */);
            var none = stackalloc byte[128]; // sigset_t, empty
            new Span<byte>(none, 128).Clear();
            pthread_sigmask(2 /* SIG_SETMASK */, none, null);
            fixed (IntPtr* a = args)
            fixed (IntPtr* e = env)
                execve(path, a, e);
            return Marshal.GetLastPInvokeError();
        }
        finally
        {
            foreach (var p in allocated) Marshal.FreeCoTaskMem(p);
        }
    }

    [DllImport("libc", SetLastError = true)]
    private static extern unsafe int execve(IntPtr path, IntPtr* argv, IntPtr* envp);

    [DllImport("libc")]
    private static extern IntPtr signal(int signum, IntPtr handler);

    [DllImport("libc")]
    private static extern unsafe int pthread_sigmask(int how, byte* set, byte* oldset);

    [DllImport("libc", SetLastError = true)]
    private static extern int access([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int mode);
}
