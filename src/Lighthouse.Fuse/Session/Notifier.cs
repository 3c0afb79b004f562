using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Lighthouse.Interop;
using Lighthouse.Fuse.Protocol;

namespace Lighthouse.Fuse.Session;

/// <summary>
/// Sends notifications (cache invalidations, poll wake-ups) to the kernel from a thread of its own.
/// Never from a worker in the middle of a request: the kernel may need that worker to answer a
/// FORGET before the notification's write returns, and the two would then wait on each other.
/// </summary>
public sealed unsafe class Notifier : IDisposable
{
    private readonly BlockingCollection<byte[]> _queue = new(new ConcurrentQueue<byte[]>());
    private readonly int _fd;
    private readonly Thread _thread;
    private long _sent, _failed;

    internal Notifier(int fd)
    {
        _fd = fd;
        _thread = new Thread(Run) { IsBackground = true, Name = "fuse-notify" };
        _thread.Start();
    }

    public long Sent => Interlocked.Read(ref _sent);
    /// <summary>Notifications the kernel refused (ENOENT: it no longer knows the inode — harmless).</summary>
    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>Drop cached data of <paramref name="node"/> in [offset, offset+length) (length 0: to the end; offset -1: attributes only).</summary>
    public void InvalidateInode(ulong node, long offset = 0, long length = 0) =>
        Enqueue(NotifyCode.InvalInode, new NotifyInvalInodeOut { Ino = node, Off = offset, Len = length }, default);

    /// <summary>Drop the kernel's cached entry <paramref name="name"/> in <paramref name="parent"/>.</summary>
    public void InvalidateEntry(ulong parent, ReadOnlySpan<byte> name) =>
        Enqueue(NotifyCode.InvalEntry, new NotifyInvalEntryOut { Parent = parent, NameLen = (uint)name.Length }, name);

    /// <summary>Tell the kernel <paramref name="name"/> in <paramref name="parent"/>, which was <paramref name="child"/>, is gone.</summary>
    public void Delete(ulong parent, ulong child, ReadOnlySpan<byte> name) =>
        Enqueue(NotifyCode.Delete, new NotifyDeleteOut { Parent = parent, Child = child, NameLen = (uint)name.Length }, name);

    /// <summary>Wake pollers waiting on the poll handle <paramref name="kh"/>.</summary>
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
        _thread.Join(TimeSpan.FromSeconds(2));
    }
}
