using Lighthouse.Fuse.Tests.Passthrough.Support;
using Xunit.Abstractions;
using static Lighthouse.Fuse.Tests.Passthrough.Support.Sys;

namespace Lighthouse.Fuse.Tests.Passthrough;

/// <summary>
/// The daemon's life cycle as the command line promises it: it mounts in the foreground with every
/// documented option, and on SIGTERM or SIGINT it unmounts and exits 0, leaving nothing mounted.
/// Each test mounts its own instance.
/// </summary>
public sealed class MountLifecycleTests
{
    private readonly ITestOutputHelper _out;

    public MountLifecycleTests(ITestOutputHelper output) => _out = output;

    private void StopsCleanlyOn(int signal, params string[] options)
    {
        var mount = new CustomMount(options);
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

    private void Exercise(CustomMount mount, int signal)
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
    public void EveryDocumentedOptionIsAccepted() => StopsCleanlyOn(SIGTERM,
        "--no-kernel-passthrough", "--threads", "3", "--allow-other", "--default-permissions",
        "--attr-timeout", "0.5", "--entry-timeout", "2");
}
