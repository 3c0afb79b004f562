using System.Diagnostics;

namespace Lighthouse.Conformance.Tests.Support;

/// <summary>Runs real programs (git, tar, cp, rsync, setpriv …) as child processes.</summary>
public static class Shell
{
    public sealed record Result(int Code, string Stdout, string Stderr)
    {
        public override string ToString() => $"exit {Code}\n--- stdout\n{Stdout}\n--- stderr\n{Stderr}";
    }

    public static Result Run(string file, IEnumerable<string> args, string? cwd = null,
        IReadOnlyDictionary<string, string>? env = null, int timeoutSeconds = 120)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = cwd ?? "/",
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        if (env != null)
            foreach (var (k, v) in env) psi.Environment[k] = v;
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {file}");
        p.StandardInput.Close();
        var so = p.StandardOutput.ReadToEndAsync();
        var se = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeoutSeconds * 1000))
        {
            try { p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            p.WaitForExit(10_000);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish within {timeoutSeconds}s");
        }
        p.WaitForExit();
        return new Result(p.ExitCode, so.Result, se.Result);
    }

    public static Result Run(string file, params string[] args) => Run(file, (IEnumerable<string>)args);

    /// <summary>Runs and throws with the full output unless the exit code is 0.</summary>
    public static Result Ok(string file, IEnumerable<string> args, string? cwd = null,
        IReadOnlyDictionary<string, string>? env = null, int timeoutSeconds = 120)
    {
        var r = Run(file, args, cwd, env, timeoutSeconds);
        if (r.Code != 0)
            throw new InvalidOperationException($"`{file} {string.Join(' ', args)}` (cwd {cwd}) failed: {r}");
        return r;
    }

    public static Result Ok(string file, params string[] args) => Ok(file, (IEnumerable<string>)args);

    /// <summary>Runs a command as nobody (uid/gid 65534, no supplementary groups) through setpriv.</summary>
    public static Result AsNobody(string cwd, params string[] cmd)
    {
        var args = new List<string> { "--reuid=65534", "--regid=65534", "--clear-groups" };
        args.AddRange(cmd);
        return Run("setpriv", args, cwd);
    }

    /// <summary>Runs a /bin/sh script as nobody.</summary>
    public static Result ShAsNobody(string cwd, string script) => AsNobody(cwd, "/bin/sh", "-c", script);
}
