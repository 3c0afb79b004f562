using System.Collections.Concurrent;
using Microsoft.Data.Sqlite;

namespace Lighthouse.Store.Sqlite;

/// <summary>
/// Read connections that keep their statements prepared, for the small lookups a capture and a history read make many
/// times (is this chunk stored, a chunk's bytes, a file's current version). A pooled Microsoft.Data.Sqlite connection
/// finalizes its statements when it goes back to the pool, so each lookup parsed its SQL again: under `tar x` that was
/// most of the recorder thread's SQLite time. Each reader serves one thread at a time; its statements run outside any
/// transaction (each sees the latest commit) and are reset after each use, so no reader holds a snapshot between uses.
/// </summary>
internal sealed class PreparedReaders : IDisposable
{
    private const int MaxIdle = 4;
    private readonly string _connectionString;
    private readonly ConcurrentBag<PreparedReader> _idle = [];
    private int _generation;

    public PreparedReaders(string path) =>
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWrite, // as the pooled readers: a WAL reader may need to create the -shm index
            Pooling = false,
            DefaultTimeout = 30,
        }.ToString();

    /// <summary>A reader for the calling thread's use; dispose it to give it back.</summary>
    public PreparedReader Rent()
    {
        while (_idle.TryTake(out var reader))
            if (reader.Generation == Volatile.Read(ref _generation)) return reader;
            else reader.Close();
        var c = new SqliteConnection(_connectionString);
        c.Open();
        return new PreparedReader(this, c, Volatile.Read(ref _generation));
    }

    internal void Return(PreparedReader reader)
    {
        if (reader.Generation != Volatile.Read(ref _generation) || _idle.Count >= MaxIdle) reader.Close();
        else _idle.Add(reader);
    }

    /// <summary>Closes the idle readers; those in use are closed when given back (the database file is being replaced or closed).</summary>
    public void Clear()
    {
        Interlocked.Increment(ref _generation);
        while (_idle.TryTake(out var reader)) reader.Close();
    }

    public void Dispose() => Clear();
}

/// <summary>One connection of <see cref="PreparedReaders"/> and its statements, by SQL text.</summary>
internal sealed class PreparedReader : IDisposable
{
    private readonly PreparedReaders _owner;
    private readonly SqliteConnection _connection;
    private readonly Dictionary<string, RawStatement> _statements = new(StringComparer.Ordinal);

    internal PreparedReader(PreparedReaders owner, SqliteConnection connection, int generation)
    {
        _owner = owner;
        _connection = connection;
        Generation = generation;
    }

    internal int Generation { get; }

    /// <summary>The statement for <paramref name="sql"/> (positional parameters ?1, ?2…), prepared on first use.
    /// Reset it after reading (<see cref="RawStatement.Reset"/>).</summary>
    public RawStatement Statement(string sql)
    {
        if (!_statements.TryGetValue(sql, out var statement))
            _statements[sql] = statement = new RawStatement(_connection, sql);
        return statement;
    }

    /// <summary>Runs a query and reads its first row with <paramref name="read"/> (default when there is none).</summary>
    public T? First<T>(string sql, Action<RawStatement> bind, Func<RawStatement, T> read)
    {
        var statement = Statement(sql);
        bind(statement);
        try
        {
            return statement.Read() ? read(statement) : default;
        }
        finally
        {
            statement.Reset();
        }
    }

    public void Dispose() => _owner.Return(this);

    internal void Close()
    {
        foreach (var s in _statements.Values) s.Dispose();
        _statements.Clear();
        _connection.Dispose();
    }
}
