using System.Diagnostics;
using System.Text;

namespace Lighthouse.Record.Tests.Support;

/// <summary>
/// This test assembly started again as a program of its own (<see cref="Program"/>), so a workload runs as a real
/// separate process with its own pid and command name, as an agent's tools would.
/// </summary>
public sealed class ChildProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new(), _stderr = new();

    private ChildProcess(Process process)
    {
        _process = process;
        _process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_stdout) _stdout.AppendLine(e.Data); };
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_stderr) _stderr.AppendLine(e.Data); };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>Starts `dotnet exec &lt;this assembly&gt; &lt;verb&gt; &lt;arguments&gt;`.</summary>
    public static ChildProcess Start(string verb, params string[] arguments)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = "/" };
        psi.ArgumentList.Add("exec");
        psi.ArgumentList.Add(typeof(ChildProcess).Assembly.Location);
        psi.ArgumentList.Add(verb);
        foreach (var argument in arguments) psi.ArgumentList.Add(argument);
        return new ChildProcess(Process.Start(psi)!);
    }

    public int Pid => _process.Id;
    public string Output { get { lock (_stdout) return _stdout.ToString(); } }
    public string Errors { get { lock (_stderr) return _stderr.ToString(); } }

    /// <summary>Waits for the exit and returns the exit code; kills the child if it takes longer than <paramref name="timeout"/>.</summary>
    public int Wait(TimeSpan timeout)
    {
        if (!_process.WaitForExit(timeout))
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
            throw new TimeoutException($"child {_process.Id} did not finish in {timeout.TotalSeconds:0} s; its output:\n{Output}{Errors}");
        }
        _process.WaitForExit(); // the output readers finish
        return _process.ExitCode;
    }

    /// <summary>Names the calling process (its command name, at most 15 bytes: what /proc/&lt;pid&gt;/stat shows and
    /// the mount names an agent after). Only from the main thread: the process's name is its main thread's.</summary>
    public static void NameThisProcess(string name) =>
        Libc.Prctl(Libc.PR_SET_NAME, Encoding.ASCII.GetBytes(name[..Math.Min(15, name.Length)] + "\0"), 0, 0, 0);

    public void Dispose()
    {
        if (!_process.HasExited) { _process.Kill(entireProcessTree: true); _process.WaitForExit(); }
        _process.Dispose();
    }
}
