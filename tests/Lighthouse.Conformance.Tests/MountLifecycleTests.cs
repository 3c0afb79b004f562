using Lighthouse.Conformance.Tests.Support;
using Xunit.Abstractions;
using static Lighthouse.Conformance.Tests.Support.Sys;

namespace Lighthouse.Conformance.Tests;

/// <summary>
/// The daemon's life cycle as the command line promises it: it mounts in the foreground with every
/// documented option, and on SIGTERM or SIGINT it unmounts and exits 0, leaving nothing mounted.
/// Each test mounts its own instance. About each command's own options, so each target lists them.
/// </summary>
public abstract class MountLifecycleTests
{
    private readonly ITestOutputHelper _out;

    protected MountLifecycleTests(ITestOutputHelper output) => _out = output;

    /// <summary>Mounts this target with <paramref name="options"/>.</summary>
    protected abstract MountTarget NewMount(params string[] options);

    /// <summary>Every option of the command that keeps it in the foreground, each with a non-default value.</summary>
    protected abstract string[] EveryDocumentedOption { get; }

    private void StopsCleanlyOn(int signal, params string[] options)
    {
        var mount = NewMount(options);
        Exception? error = null;
        var body = new Thread(() =>
        {
            try { Exercise(mount, signal); }
            catch (Exception e) { error = e; }
        }) { IsBackground = true };
        body.Start();
        if (!body.Join(TimeSpan.FromSeconds(60)))
        {
            string status = mount.DaemonStatus();
            mount.Abort("lifecycle test timed out");
            body.Join(TimeSpan.FromSeconds(15));
            mount.Dispose();
            throw new Xunit.Sdk.XunitException($"the lifecycle test hung for 60 s; {status}");
        }
        mount.Dispose();
        if (error != null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(error);
    }

    private void Exercise(MountTarget mount, int signal)
    {
        {
            _out.WriteLine($"mount: {mount.Describe()} at {mount.Mnt}");
            WriteFile($"{mount.Mnt}/hello", "hello");
            Assert.Equal("hello", ReadText($"{mount.Src}/hello"));
            var (code, stillMounted, output) = mount.StopWith(signal);
            Assert.True(code == 0 && !stillMounted,
                $"after signal {signal}: exit code {(code?.ToString() ?? "none (still running after 10 s)")}, " +
                $"still mounted: {stillMounted}; output:\n{output}");
            Assert.Equal("hello", ReadText($"{mount.Src}/hello"));
            Assert.False(File.Exists($"{mount.Mnt}/hello"), "the mountpoint still shows the mounted tree");
        }
    }

    [Fact]
    public void SigtermUnmountsAndExitsZero() => StopsCleanlyOn(SIGTERM);

    [Fact]
    public void SigintUnmountsAndExitsZero() => StopsCleanlyOn(SIGINT);

    [Fact]
    public void EveryDocumentedOptionIsAccepted() => StopsCleanlyOn(SIGTERM, EveryDocumentedOption);
}

public sealed class MountLifecycleTests_Passthrough(ITestOutputHelper output) : MountLifecycleTests(output)
{
    protected override MountTarget NewMount(params string[] options) => new CustomPassthrough(options);

    protected override string[] EveryDocumentedOption =>
    [
        "--no-kernel-passthrough", "--threads", "3", "--allow-other", "--default-permissions",
        "--attr-timeout", "0.5", "--entry-timeout", "2",
    ];
}

/// <summary>`lighthouse mount`: the same life cycle; --background is left out (it detaches, by design).</summary>
public sealed class MountLifecycleTests_Mount(ITestOutputHelper output) : MountLifecycleTests(output)
{
    protected override MountTarget NewMount(params string[] options) => new CustomRecordedMount(options);

    protected override string[] EveryDocumentedOption =>
    [
        "--no-kernel-passthrough", "--cache-timeout", "0.5", "--durability", "Full", "--no-watch",
        "--threads", "3", "--no-io-uring", "--no-keep-caller-cpu",
    ];
}
