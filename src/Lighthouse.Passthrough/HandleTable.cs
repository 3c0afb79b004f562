namespace Lighthouse.Passthrough;

/// <summary>An open file or directory: its descriptor and, for directories, the listing in progress.</summary>
public sealed class OpenHandle
{
    public int Fd = -1;
    public Node? Node;
    public bool Passthrough;
    /// <summary>Opened for writing (or truncation): closing it makes a new version.</summary>
    public bool Writable;
    /// <summary>What the observer remembered about the opener.</summary>
    public object? OpenedBy;
    /// <summary>Who opened it (the caller's thread-group id; 0: the kernel) and with which open(2) flags, and when.</summary>
    public uint Pid;
    public int Flags;
    public long OpenedUtcTicks;
    /// <summary>Bytes read and written through this handle by the daemon (none when the kernel passes data through).</summary>
    public long BytesRead, BytesWritten;
    // Directory listing state: a getdents64 buffer and where in it we are.
    public byte[]? DirBuffer;
    public int DirBufferLength, DirBufferPosition;
    public long DirNextOffset = -1; // the offset the next buffered entry starts at; -1: buffer not valid
}

/// <summary>File handle numbers (fh) ↔ open handles. Slots and handle objects are reused.</summary>
public sealed class HandleTable
{
    private OpenHandle?[] _slots = new OpenHandle?[256];
    private readonly Stack<int> _free = new();
    private readonly Stack<OpenHandle> _spare = new();
    private int _used;
    private readonly object _lock = new();

    public int Count { get { lock (_lock) return _used - _free.Count; } }

    /// <summary>When a handle was last allocated or freed (UTC ticks; 0: never).</summary>
    public long LastChangeUtcTicks { get { lock (_lock) return _lastChange; } }
    private long _lastChange;

    /// <summary>The handles open now, copied (their objects are reused once freed).</summary>
    public IReadOnlyList<OpenHandleInfo> Snapshot()
    {
        var result = new List<OpenHandleInfo>();
        lock (_lock)
            for (int i = 0; i < _used; i++)
                if (_slots[i] is { Node: { } node } h)
                    result.Add(new OpenHandleInfo((ulong)i + 1, node, h.Pid, h.Flags, h.Writable, h.Passthrough, h.OpenedBy,
                        new DateTime(h.OpenedUtcTicks, DateTimeKind.Utc), Interlocked.Read(ref h.BytesRead), Interlocked.Read(ref h.BytesWritten),
                        node.FileType == 0x4000));
        return result;
    }
    public (ulong Fh, OpenHandle Handle) Allocate()
    {
        lock (_lock)
        {
            int index;
            if (_free.Count > 0) index = _free.Pop();
            else
            {
                if (_used == _slots.Length) Array.Resize(ref _slots, _slots.Length * 2);
                index = _used++;
            }
            var handle = _spare.Count > 0 ? _spare.Pop() : new OpenHandle();
            handle.OpenedUtcTicks = _lastChange = DateTime.UtcNow.Ticks;
            Volatile.Write(ref _slots[index], handle);
            return ((ulong)index + 1, handle);
        }
    }

    public OpenHandle? Get(ulong fh)
    {
        var slots = Volatile.Read(ref _slots);
        ulong index = fh - 1;
        return index < (ulong)slots.Length ? Volatile.Read(ref slots[index]) : null;
    }

    public void Free(ulong fh)
    {
        lock (_lock)
        {
            int index = (int)(fh - 1);
            var handle = _slots[index];
            if (handle is null) return;
            _slots[index] = null;
            _free.Push(index);
            handle.Fd = -1; handle.Node = null; handle.Passthrough = false; handle.Writable = false; handle.OpenedBy = null;
            handle.Pid = 0; handle.Flags = 0; handle.BytesRead = handle.BytesWritten = 0;
            _lastChange = DateTime.UtcNow.Ticks;
            handle.DirBufferLength = handle.DirBufferPosition = 0; handle.DirNextOffset = -1;
            _spare.Push(handle);
        }
    }
}

/// <summary>An open handle as it was when asked (<see cref="HandleTable.Snapshot"/>).</summary>
public sealed record OpenHandleInfo(ulong Fh, Node Node, uint Pid, int Flags, bool Writable, bool KernelPassthrough, object? OpenedBy,
    DateTime OpenedUtc, long BytesRead, long BytesWritten, bool Directory);
