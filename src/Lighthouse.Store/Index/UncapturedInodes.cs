using System.Collections.Concurrent;
using Lighthouse.Store.Sqlite;
using Microsoft.Data.Sqlite;

namespace Lighthouse.Store.Index;

/// <summary>
/// The inodes of current versions recorded by metadata only (<see cref="ContentState.NotCaptured"/>): the files
/// whose bytes a capture before modify must save. The mount asks before every change of a file it knows nothing
/// about (after the kernel forgot it, or from a previous session) and so needs no query and no wait for the writer
/// in the common case, where the answer is no. Kept by the writer as it applies events (in its transaction, so
/// it also answers for events not committed yet); reloaded from the index after a rollback.
/// </summary>
internal sealed class UncapturedInodes
{
    // inode -> how many current versions with that inode are not captured (hard links share one version; another
    // file may reuse an inode number only after the first is gone, but counting costs nothing).
    // Replaced whole by Load, so that a reader never sees it half filled.
    private volatile ConcurrentDictionary<long, int> _counts = new();

    public bool Contains(long inode) => _counts.ContainsKey(inode);

    public int Count => _counts.Count;

    public void Add(long inode) => Add(_counts, inode);

    private static void Add(ConcurrentDictionary<long, int> counts, long inode) => counts.AddOrUpdate(inode, 1, (_, n) => n + 1);

    public void Remove(long inode)
    {
        if (_counts.AddOrUpdate(inode, 0, (_, n) => n - 1) <= 0) _counts.TryRemove(new KeyValuePair<long, int>(inode, 0));
    }

    /// <summary>Reads them from the index as the connection sees it (one pass over the current versions).</summary>
    public void Load(SqliteConnection c)
    {
        var counts = new ConcurrentDictionary<long, int>();
        using var select = new RawStatement(c, "SELECT inode FROM versions WHERE to_seq = ?1 AND content_state = ?2");
        select.Bind(1, StoreConstants.Open).Bind(2, (long)ContentState.NotCaptured);
        try
        {
            while (select.Read()) Add(counts, select.Int64(0));
        }
        finally { select.Reset(); }
        _counts = counts;
    }
}
