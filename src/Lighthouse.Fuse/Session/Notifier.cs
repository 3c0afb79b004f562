using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Lighthouse.Fuse.LowLevel;
using Lighthouse.Interop;
using Lighthouse.Fuse.Protocol;

namespace Lighthouse.Fuse.Session;

/// <summary>
/// Sends notifications (cache invalidations, poll wake-ups) to the kernel from a thread of its own.
/// Never from a worker in the middle of a request: the kernel may need that worker to answer a
/// FORGET before the notification's write returns, and the two would then wait on each other.
/// Created before INIT is answered (the filesystem receives it in Init); what is queued before
/// <see cref="Start"/> waits, since the kernel takes no notification before INIT's reply.
/// </summary>
public sealed unsafe class Notifier : IFuseNotifier, IDisposable
{
    private readonly BlockingCollection<byte[]> _queue = new(new ConcurrentQueue<byte[]>());
    private readonly int _fd;
    private readonly Thread _thread;
    private long _sent, _failed;

    internal Notifier(int fd)
    {
        _fd = fd;
        _thread = new Thread(Run) { IsBackground = true, Name = "fuse-notify" };
    }

    private int _started;

    /// <summary>Starts sending (once INIT's reply is written).</summary>
    internal void Start()
    {
        if (Interlocked.Exchange(ref _started, 1) == 0) _thread.Start();
    }

    public long Sent => Interlocked.Read(ref _sent);
    /// <summary>Notifications the kernel refused (ENOENT: it no longer knows the inode — harmless).</summary>
    public long Failed => Interlocked.Read(ref _failed);

    /// <inheritdoc/>
    public void InvalidateInode(ulong node, long offset = 0, long length = 0) =>
        Enqueue(NotifyCode.InvalInode, new NotifyInvalInodeOut { Ino = node, Off = offset, Len = length }, default);

    /// <inheritdoc/>
    public void InvalidateEntry(ulong parent, ReadOnlySpan<byte> name) =>
        Enqueue(NotifyCode.InvalEntry, new NotifyInvalEntryOut { Parent = parent, NameLen = (uint)name.Length }, name);

    /// <inheritdoc/>
    public void Delete(ulong parent, ulong child, ReadOnlySpan<byte> name) =>
        Enqueue(NotifyCode.Delete, new NotifyDeleteOut { Parent = parent, Child = child, NameLen = (uint)name.Length }, name);

    /// <inheritdoc/>
    public void PollWakeup(ulong kh) => Enqueue(NotifyCode.Poll, new NotifyPollWakeupOut { Kh = kh }, default);

    private void Enqueue<T>(NotifyCode code, T body, ReadOnlySpan<byte> name) where T : unmanaged
    {
        int bodySize = sizeof(T);
        int nameSize = name.IsEmpty && code is not (NotifyCode.InvalEntry or NotifyCode.Delete) ? 0 : name.Length + 1;
        var message = new byte[sizeof(OutHeader) + bodySize + nameSize];
        var header = new OutHeader { Len = (uint)message.Length, Error = (int)code, Unique = 0 };
        MemoryMarshal.Write(message, in header);
        MemoryMarshal.Write(message.AsSpan(sizeof(OutHeader)), in body);
        name.CopyTo(message.AsSpan(sizeof(OutHeader) + bodySize));
        try { _queue.Add(message); } catch (InvalidOperationException) { /* shutting down */ }
    }

    private void Run()
    {
        foreach (var message in _queue.GetConsumingEnumerable())
        {
            fixed (byte* p = message)
            {
                if (Libc.Write(_fd, p, (nuint)message.Length) < 0) Interlocked.Increment(ref _failed);
                else Interlocked.Increment(ref _sent);
            }
        }
    }

    public void Dispose()
    {
        _queue.CompleteAdding();
        if (Volatile.Read(ref _started) != 0) _thread.Join(TimeSpan.FromSeconds(2));
    }
}
