using Lighthouse.Store.Index;
using Lighthouse.Store.Sqlite;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using SQLitePCL;

namespace Lighthouse.Store.Events;

/// <summary>What a write work item may do: read the current index and append events.</summary>
internal sealed record EventDraft(
    Actor Agent,
    EventOp Op,
    string Path,
    string? Path2 = null,
    long? FileId = null,           // null: a new file whose id is this event's seq
    long? BeforeVersion = null,
    bool NewVersion = false,       // after_version = this event's seq
    long? AfterVersion = null,
    long? OtherFileId = null,
    NodeAttributes? Attributes = null,
    ContentState ContentState = ContentState.None,
    string? ContentHash = null,
    long? Point = null,
    long? DirMtimeNs = null,       // see StoreEvent: the changed directories' mtimes
    long? Dir2MtimeNs = null,
    string? Detail = null);        // see StoreEvent

internal sealed class WriteContext
{
    private readonly RawStatement _insert;

    public WriteContext(SqliteConnection connection, IndexApplier index, RawStatement insert)
    {
        Connection = connection;
        Index = index;
        _insert = insert;
    }

    public SqliteConnection Connection { get; }
    public IndexApplier Index { get; }
    public long LastSeq { get; set; }
    public byte[] LastHash { get; set; } = EventCodec.GenesisHash;
    public long LastTicks { get; set; }
    public List<StoreEvent> Appended { get; } = [];

    /// <summary>Assigns seq, time and chain hash, inserts the event and applies it to the index.</summary>
    public StoreEvent Append(EventDraft d)
    {
        var seq = LastSeq + 1;
        // Times never go backwards along the log, so "as of time T" is a single index seek.
        var ticks = Math.Max(DateTime.UtcNow.Ticks, LastTicks);
        var e = new StoreEvent(seq, new DateTime(ticks, DateTimeKind.Utc), d.Agent.Name, d.Op, d.Path, d.Path2,
            d.FileId ?? seq, d.BeforeVersion, d.NewVersion ? seq : d.AfterVersion, d.OtherFileId, d.Attributes,
            d.ContentState, d.ContentHash, d.Point, LastHash, [], DirMtimeNs: d.DirMtimeNs, Dir2MtimeNs: d.Dir2MtimeNs, AgentVia: d.Agent.Via, Detail: d.Detail);
        e = e with { Hash = EventCodec.ComputeHash(e) };
        EventCodec.Insert(_insert, e);
        Index.Apply(e);
        LastSeq = seq;
        LastHash = e.Hash;
        LastTicks = ticks;
        Appended.Add(e);
        return e;
    }
}

/// <summary>
/// The single writer: callers enqueue work, one thread drains the queue and runs everything
/// queued so far in one transaction (group commit); a failing item does not undo the others.
/// Callers are released only after the commit.
/// </summary>
internal sealed class EventWriter : IDisposable
{
    private abstract class WorkItem
    {
        /// <summary>Runs under a savepoint of its own. False for items that check before they write, so that
        /// they fail before changing anything (see <see cref="RunItems"/>).</summary>
        public bool Savepoint = true;
        public abstract int SubmitterThread { get; }
        public abstract void Run(WriteContext ctx);
        public abstract void Succeed();
        public abstract void Fail(Exception e);
        public Exception? Error;
        /// <summary>Runs on the writer's thread once the item committed or failed, before its task completes.</summary>
        public Action? Settled;
    }

    private sealed class WorkItem<T>(Func<WriteContext, T> work) : WorkItem
    {
        public readonly int Thread = Environment.CurrentManagedThreadId;
        private readonly TaskCompletionSource<T> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private T _result = default!;
        public Task<T> Task => _done.Task;
        public override int SubmitterThread => Thread;
        public override void Run(WriteContext ctx) => _result = work(ctx);
        public override void Succeed()
        {
            Settled?.Invoke();
            _done.TrySetResult(_result);
        }

        public override void Fail(Exception e)
        {
            Settled?.Invoke();
            _done.TrySetException(e);
        }
    }

    private readonly BackgroundQueue<WorkItem> _queue = new();
    private readonly SqliteConnection _connection;
    private readonly sqlite3 _db;
    private readonly Database _database;
    private readonly IndexApplier _index;
    private readonly RawStatement _insert;
    private readonly WriteContext _ctx;
    private readonly Thread _thread;
    private readonly int _maxBatch;
    private readonly ILogger _logger;
    private readonly Dictionary<string, SqliteCommand> _control = [];
    // Batch window: after the first item of an idle period, wait this long (unless someone waits
    // for a commit) so a burst of asynchronous records shares one transaction and one wake-up.
    private readonly TimeSpan _batchWindow;
    private readonly ManualResetEventSlim _expedite = new(false, 0);

    // BEGIN/SAVEPOINT/RELEASE/COMMIT run for every item: prepare them once.
    private void Control(string sql)
    {
        if (!_control.TryGetValue(sql, out var cmd))
        {
            cmd = _connection.CreateCommand();
            cmd.CommandText = sql;
            _control[sql] = cmd;
        }
        cmd.ExecuteNonQuery();
    }
    private long _batches, _events;

    // Commit delay (as PostgreSQL's commit_delay/commit_siblings): when several threads have been
    // submitting lately, wait this long for their next item before paying for an fsync, so they
    // share it instead of alternating one commit each.
    private readonly TimeSpan _commitDelay;
    private readonly Dictionary<int, long> _recentSubmitters = [];
    private static readonly long RecentWindow = System.Diagnostics.Stopwatch.Frequency / 50; // 20 ms

    private readonly Action? _beforeCommit;

    public EventWriter(Database database, SqliteConnection connection, long lastSeq, byte[] lastHash, long lastTicks, int maxBatch, ILogger logger, TimeSpan commitDelay, TimeSpan batchWindow, Action? beforeCommit = null)
    {
        _beforeCommit = beforeCommit;
        _batchWindow = batchWindow;
        _logger = logger;
        _commitDelay = commitDelay;
        _database = database;
        _connection = connection;
        _db = connection.Handle!;
        _maxBatch = maxBatch;
        _index = new IndexApplier(connection);
        _insert = EventCodec.PrepareInsert(connection);
        _ctx = new WriteContext(connection, _index, _insert) { LastSeq = lastSeq, LastHash = lastHash, LastTicks = lastTicks };
        _lastCommittedSeq = lastSeq;
        _thread = new Thread(Loop) { IsBackground = true, Name = "lighthouse-store-writer" };
        _thread.Start();
    }

    /// <summary>Raised on the writer thread after each commit with the events it made durable.</summary>
    public event Action<IReadOnlyList<StoreEvent>>? Committed;

    public long LastSeq => Volatile.Read(ref _lastCommittedSeq);
    private long _lastCommittedSeq;

    /// <summary>Inodes of current versions not captured, as the writer has applied the events so far.</summary>
    public UncapturedInodes Uncaptured => _index.Uncaptured;

    public (long Batches, long Events) Stats => (Interlocked.Read(ref _batches), Interlocked.Read(ref _events));

    /// <summary>Queues work; the task completes at its commit, which may wait for the batch window
    /// (see <see cref="Expedite"/>). <paramref name="savepoint"/> false: the work checks everything it may throw
    /// for before it changes the database (a failure after a change still works, at the cost of running the
    /// batch again), so it needs no savepoint of its own. <paramref name="settled"/> runs on the writer's thread once the
    /// work committed or failed (or at once, if the writer is closed): a continuation on the task would cost a
    /// thread-pool wake-up per item.</summary>
    public Task<T> SubmitAsync<T>(Func<WriteContext, T> work, bool savepoint = true, Action? settled = null)
    {
        var item = new WorkItem<T>(work) { Savepoint = savepoint, Settled = settled };
        try
        {
            _queue.Add(item);
        }
        catch (InvalidOperationException)
        {
            settled?.Invoke();
            throw new StoreClosedException();
        }
        return item.Task;
    }

    public T Submit<T>(Func<WriteContext, T> work, bool savepoint = true)
    {
        var done = SubmitAsync(work, savepoint);
        Expedite();
        return done.GetAwaiter().GetResult();
    }

    /// <summary>Someone is about to wait for what is queued: commit it without waiting out the batch window.</summary>
    public void Expedite() => _expedite.Set();

    private void Loop()
    {
        BackgroundThread.LowerPriority();
        var batch = new List<WorkItem>(_maxBatch);
        using var activity = new BackgroundThread.Activity();
        while (_queue.TryTake(out var first) || activity.Take(_queue, out first))
        {
            batch.Clear();
            batch.Add(first);
            if (_batchWindow > TimeSpan.Zero) activity.Pause(() => _expedite.Wait(_batchWindow)); // returns at once when someone waits
            _expedite.Reset();
            while (batch.Count < _maxBatch && _queue.TryTake(out var next))
                batch.Add(next);
            WaitForSiblings(batch);
            RunBatch(batch);
        }
    }

    private void WaitForSiblings(List<WorkItem> batch)
    {
        var now = System.Diagnostics.Stopwatch.GetTimestamp();
        foreach (var item in batch) _recentSubmitters[item.SubmitterThread] = now;
        if (_commitDelay <= TimeSpan.Zero) return;
        foreach (var (thread, seen) in _recentSubmitters.ToList())
            if (now - seen > RecentWindow) _recentSubmitters.Remove(thread);
        var siblings = _recentSubmitters.Count;
        if (siblings <= 1) return;
        var inBatch = batch.Select(i => i.SubmitterThread).Distinct().Count();
        // Never wait longer than a commit costs: waiting only pays when it saves an fsync.
        var delay = Math.Min((long)(_commitDelay.TotalSeconds * System.Diagnostics.Stopwatch.Frequency), _lastCommitTicks);
        var deadline = now + delay;
        while (inBatch < siblings && batch.Count < _maxBatch)
        {
            var left = deadline - System.Diagnostics.Stopwatch.GetTimestamp();
            if (left <= 0 || !_queue.TryTake(out var next, TimeSpan.FromSeconds((double)left / System.Diagnostics.Stopwatch.Frequency)))
                break;
            batch.Add(next);
            _recentSubmitters[next.SubmitterThread] = System.Diagnostics.Stopwatch.GetTimestamp();
            inBatch = batch.Select(i => i.SubmitterThread).Distinct().Count();
        }
    }

    private long _lastCommitTicks;

    private bool Begin(List<WorkItem> batch)
    {
        try
        {
            Control("BEGIN IMMEDIATE");
            return true;
        }
        catch (Exception e)
        {
            var error = _database.Translate(e, "starting a transaction");
            foreach (var item in batch) item.Fail(error);
            return false;
        }
    }

    /// <summary>
    /// Runs the items in the open transaction. An item under a savepoint that fails is rolled back alone. One
    /// without (SAVEPOINT and RELEASE are a third of the statements of a simple event) that fails before it
    /// changed a row needs no rollback; false if one failed after changing rows (only the batch can be undone)
    /// or SQLite ended the transaction itself (it does on a full disk or an I/O error).
    /// </summary>
    private bool RunItems(List<WorkItem> batch, bool savepointEach)
    {
        foreach (var item in batch)
        {
            var (seq, hash, ticks, appended) = (_ctx.LastSeq, _ctx.LastHash, _ctx.LastTicks, _ctx.Appended.Count);
            bool savepoint = savepointEach || item.Savepoint;
            int changes = savepoint ? 0 : raw.sqlite3_total_changes(_db);
            item.Error = null;
            try
            {
                if (savepoint) Control("SAVEPOINT item");
                item.Run(_ctx);
                if (savepoint) Control("RELEASE item");
            }
            catch (Exception e)
            {
                if (!savepoint && raw.sqlite3_total_changes(_db) != changes || raw.sqlite3_get_autocommit(_db) != 0)
                {
                    item.Error = _database.Translate(e, "recording a change");
                    return false;
                }
                item.Error = _database.Translate(e, "recording a change");
                if (savepoint)
                {
                    try
                    {
                        Control("ROLLBACK TO item");
                        Control("RELEASE item");
                    }
                    catch (SqliteException rollbackError)
                    {
                        item.Error.Data["rollback"] = rollbackError.Message;
                    }
                }
                (_ctx.LastSeq, _ctx.LastHash, _ctx.LastTicks) = (seq, hash, ticks);
                _ctx.Appended.RemoveRange(appended, _ctx.Appended.Count - appended);
                if (savepoint) _index.ClearCaches(); // else nothing was written: what the index remembers holds
            }
        }
        return true;
    }

    private void RunBatch(List<WorkItem> batch)
    {
        var (seq0, hash0, ticks0) = (_ctx.LastSeq, _ctx.LastHash, _ctx.LastTicks);
        _ctx.Appended.Clear();
        if (!Begin(batch)) return;
        if (!RunItems(batch, savepointEach: false))
        {
            // An item without a savepoint failed after changing the database: start the batch over, each item
            // under its own savepoint (the work items are functions of the index, so they do the same again).
            try { Control("ROLLBACK"); } catch (SqliteException) { } // SQLite may have rolled back already
            (_ctx.LastSeq, _ctx.LastHash, _ctx.LastTicks) = (seq0, hash0, ticks0);
            _ctx.Appended.Clear();
            _index.ClearCaches();
            if (!Begin(batch)) return;
            if (!RunItems(batch, savepointEach: true))
            {
                // The transaction itself failed: nothing of the batch is kept.
                try { Control("ROLLBACK"); } catch (SqliteException) { }
                (_ctx.LastSeq, _ctx.LastHash, _ctx.LastTicks) = (seq0, hash0, ticks0);
                _index.ClearCaches();
                var error = batch.First(i => i.Error is not null).Error!;
                foreach (var item in batch) item.Fail(item.Error ?? error);
                return;
            }
        }

        try
        {
            var commitStart = System.Diagnostics.Stopwatch.GetTimestamp();
            _beforeCommit?.Invoke(); // the objects the batch's events name are durable before the events are
            Control("COMMIT");
            _lastCommitTicks = System.Diagnostics.Stopwatch.GetTimestamp() - commitStart;
        }
        catch (Exception e)
        {
            var error = _database.Translate(e, "committing changes");
            try
            {
                Control("ROLLBACK");
            }
            catch (SqliteException)
            {
                // SQLite may already have rolled back on its own (e.g. SQLITE_FULL); the commit error is what matters.
            }
            (_ctx.LastSeq, _ctx.LastHash, _ctx.LastTicks) = (seq0, hash0, ticks0);
            _index.ClearCaches();
            foreach (var item in batch) item.Fail(item.Error ?? error);
            return;
        }

        Volatile.Write(ref _lastCommittedSeq, _ctx.LastSeq);
        Interlocked.Increment(ref _batches);
        Interlocked.Add(ref _events, _ctx.Appended.Count);
        foreach (var item in batch)
        {
            if (item.Error is null) item.Succeed();
            else item.Fail(item.Error);
        }
        if (_ctx.Appended.Count > 0 && Committed is { } handlers)
        {
            var events = _ctx.Appended.ToArray();
            foreach (var handler in handlers.GetInvocationList().Cast<Action<IReadOnlyList<StoreEvent>>>())
            {
                try
                {
                    handler(events);
                }
                catch (Exception e)
                {
                    // A subscriber's bug must not stop the writer; the events are committed regardless.
                    _logger.LogError(e, "a Committed handler failed for events @{First}..@{Last}", events[0].Seq, events[^1].Seq);
                }
            }
        }
    }

    public void Dispose()
    {
        _queue.CompleteAdding();
        _thread.Join();
        _insert.Dispose();
        foreach (var cmd in _control.Values) cmd.Dispose();
        _index.Dispose();
        _connection.Dispose();
        _expedite.Dispose();
    }
}
