using System.CommandLine;
using Lighthouse.Fuse.Session;

namespace Lighthouse.Cli.Commands;

/// <summary>The options of the FUSE session that every mounting verb offers (passthrough, mount).</summary>
public sealed class SessionFlags
{
    private readonly Option<int> _threads = new("--threads")
    { Description = "Worker threads, each reading its own cloned /dev/fuse descriptor.", DefaultValueFactory = _ => Math.Max(2, Environment.ProcessorCount) };
    private readonly Option<bool> _noIoUring = new("--no-io-uring")
    { Description = "Serve every request through /dev/fuse, not through FUSE over io_uring (per-CPU queues; used where the kernel offers it)." };
    private readonly Option<bool> _noKeepCallerCpu = new("--no-keep-caller-cpu")
    {
        Description = "Send io_uring replies at normal priority. By default a queue thread sends them as SCHED_IDLE so the " +
                      "caller is woken on its own CPU instead of being moved to another on every request (much faster on an " +
                      "idle machine; skipped where idle priority would make a reply wait: load average above the CPU count, another task on " +
                      "the CPU, the mount's store catching up; and where not permitted or another policy was set with chrt).",
    };

    public void AddTo(Command command)
    {
        command.Options.Add(_threads);
        command.Options.Add(_noIoUring);
        command.Options.Add(_noKeepCallerCpu);
    }

    /// <summary>The error to print when the values are unusable, else null.</summary>
    public string? Validate(ParseResult parse) =>
        parse.GetValue(_threads) < 1 ? "--threads must be at least 1" : null;

    public SessionOptions Read(ParseResult parse, Action<string>? trace = null) => new()
    {
        Threads = parse.GetValue(_threads),
        IoUring = !parse.GetValue(_noIoUring),
        KeepCallerOnCpu = !parse.GetValue(_noKeepCallerCpu),
        Trace = trace,
    };
}
