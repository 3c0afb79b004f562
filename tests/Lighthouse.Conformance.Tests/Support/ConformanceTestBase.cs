using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace Lighthouse.Conformance.Tests.Support;

/// <summary>
/// Base of the conformance test classes. A test class is abstract and generic over its target
/// (<typeparamref name="TTarget"/>, the class fixture: one mount per concrete class); thin sealed
/// subclasses bind it to each target (`FileOperationTests_Passthrough : FileOperationTests&lt;PassthroughDefault&gt;`,
/// `FileOperationTests_Mount : FileOperationTests&lt;RecordedMount&gt;`), so every test runs against each
/// and the test name shows which. Gives each test its <see cref="Twin"/> directories and runs the body
/// under a watchdog. A test whose system calls hang (a daemon that stopped answering) is failed after
/// its timeout: the daemon is killed, which releases the stuck calls, and the next test mounts afresh.
/// </summary>
public abstract class ConformanceTestBase<TTarget> : IClassFixture<TTarget> where TTarget : MountTarget
{
    protected TTarget Fx { get; }
    protected ITestOutputHelper Out { get; }

    protected ConformanceTestBase(TTarget fx, ITestOutputHelper output)
    {
        Fx = fx;
        Out = output;
    }

    protected Twin NewTwin(string name)
    {
        string n = Fx.NextName(name);
        var t = new Twin(Path.Join(Fx.Mnt, n), Path.Join(Fx.Native, n), Path.Join(Fx.Src, n));
        Sys.Mkdir(t.M);
        Sys.Mkdir(t.N);
        Sys.Check(Sys.chmod(t.M, 0x1ed), "chmod");
        Sys.Check(Sys.chmod(t.N, 0x1ed), "chmod");
        return t;
    }

    /// <summary>Runs a phase of a test and writes its duration to the test output.</summary>
    protected T Timed<T>(string what, Func<T> phase)
    {
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var r = phase();
        Out.WriteLine($"{what}: {sw.ElapsedMilliseconds} ms");
        return r;
    }

    protected void Timed(string what, Action phase) => Timed(what, () => { phase(); return 0; });

    protected void Run(Action<Twin> body, int timeoutSeconds = 90, [CallerMemberName] string test = "")
    {
        Fx.EnsureHealthy();
        Out.WriteLine($"mount: {Fx.Describe()} at {Fx.Mnt}");
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try { body(NewTwin(test)); }
            catch (Exception e) { error = e; }
        }) { IsBackground = true, Name = $"test {test}" };
        thread.Start();
        timeoutSeconds = (int)Math.Ceiling(timeoutSeconds * Fx.TimeoutScale);
        if (!thread.Join(TimeSpan.FromSeconds(timeoutSeconds)))
        {
            string status = Fx.DaemonStatus();
            Fx.Abort($"{test} timed out after {timeoutSeconds}s");
            thread.Join(TimeSpan.FromSeconds(15));
            throw new XunitException(
                $"{test} did not finish within {timeoutSeconds}s (a system call on the mount hung?); the daemon was " +
                $"killed to release it. Before that: {status}" + (error != null ? $"\nthe test then failed with: {error}" : ""));
        }
        if (error == null) return;
        if (!Fx.DaemonAlive)
            throw new XunitException($"{error.Message}\n--- and the mount is gone: {Fx.DaemonStatus()}", error);
        ExceptionDispatchInfo.Throw(error);
    }
}
