using Lighthouse.Fuse.Protocol;

namespace Lighthouse.Fuse.Session;

// FUSE over io_uring: one queue per possible CPU, started once INIT's reply is written.
public sealed unsafe partial class FuseSession
{
    private readonly List<UringQueue> _rings = [];

    /// <summary>io_uring queues serving requests now (0: everything goes through /dev/fuse).</summary>
    public int RingQueues { get { lock (_rings) return _rings.Count(q => q.Registered > 0); } }

    /// <summary>Why io_uring is not in use, when it was negotiated but could not be set up.</summary>
    public string? RingFailure { get; private set; }

    private void StartRingQueues()
    {
        if ((Connection?.Negotiated & InitFlags.OverIoUring) == 0) return;
        int cpus = UringQueue.PossibleCpus();
        if (cpus > 64)
        {
            // One thread and a few MiB per possible CPU, most of them maybe offline: not worth it.
            RingFailure = $"{cpus} possible CPUs: serving through /dev/fuse";
            return;
        }
        lock (_rings)
        {
            for (int cpu = 0; cpu < cpus; cpu++)
            {
                var queue = new UringQueue(this, _masterFd, cpu, Math.Max(1, _options.RingEntries), _options);
                _rings.Add(queue);
                _running.AddCount();
                queue.Start();
            }
        }
        // The kernel switches to the rings once every queue has an entry; report a queue that could not.
        ThreadPool.QueueUserWorkItem(_ =>
        {
            List<UringQueue> queues;
            lock (_rings) queues = [.. _rings];
            foreach (var q in queues)
            {
                q.Started.Wait(TimeSpan.FromSeconds(10));
                if (q.Failure is { } failure && RingFailure is null)
                {
                    RingFailure = $"queue {q.Cpu}: {failure}";
                    Console.Error.WriteLine($"lighthouse: FUSE over io_uring not in use ({RingFailure}); serving through /dev/fuse");
                }
            }
        });
    }

    /// <summary>Requests that came through io_uring queues (each queue counts its own: no shared counter per request).</summary>
    public long RingRequests { get { lock (_rings) return _rings.Sum(q => q.Served); } }

    /// <summary>Reply submissions made at idle priority to keep the caller on its CPU (see <see cref="SessionOptions.KeepCallerOnCpu"/>).</summary>
    public long RingIdleSubmits { get { lock (_rings) return _rings.Sum(q => q.IdleSubmits); } }

    /// <summary>Times a queue went back to normal-priority replies for a second, having waited behind another task.</summary>
    public long RingKeepPauses { get { lock (_rings) return _rings.Sum(q => q.KeepPauses); } }

    private void StopRingQueues()
    {
        lock (_rings) foreach (var q in _rings) q.Stop();
    }

    internal void RingQueueStopped() => _running.Signal();

    /// <summary>A reply that added a lookup was not accepted: the kernel does not know the node through it.</summary>
    internal void UndoLookup(ulong node) => _fs.Forget(node, 1);
}
