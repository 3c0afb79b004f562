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
            handle.DirBufferLength = handle.DirBufferPosition = 0; handle.DirNextOffset = -1;
            _spare.Push(handle);
        }
    }
}
