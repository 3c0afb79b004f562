using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Lighthouse.Store.Sqlite;

/// <summary>
/// A statement prepared once on the writer's connection and bound by position through SQLitePCL.
/// Microsoft.Data.Sqlite looks every parameter up by name on each execution (~1 µs per parameter);
/// the event insert has 20, so the hot write path binds directly.
/// </summary>
internal sealed class RawStatement : IDisposable
{
    private readonly sqlite3 _db;
    private readonly sqlite3_stmt _stmt;

    public RawStatement(SqliteConnection connection, string sql)
    {
        _db = connection.Handle ?? throw new InvalidOperationException("the connection is not open");
        Check(raw.sqlite3_prepare_v2(_db, sql, out _stmt));
    }

    public RawStatement Bind(int index, long value)
    {
        Check(raw.sqlite3_bind_int64(_stmt, index, value));
        return this;
    }

    public RawStatement Bind(int index, long? value) =>
        value is { } v ? Bind(index, v) : BindNull(index);

    public RawStatement Bind(int index, string? value)
    {
        Check(value is null ? raw.sqlite3_bind_null(_stmt, index) : raw.sqlite3_bind_text(_stmt, index, value));
        return this;
    }

    public RawStatement Bind(int index, byte[] value)
    {
        Check(raw.sqlite3_bind_blob(_stmt, index, value));
        return this;
    }

    public RawStatement BindNull(int index)
    {
        Check(raw.sqlite3_bind_null(_stmt, index));
        return this;
    }

    /// <summary>Runs a statement that returns no rows; returns the number of rows changed.</summary>
    public int Execute()
    {
        try
        {
            var rc = raw.sqlite3_step(_stmt);
            if (rc != raw.SQLITE_DONE && rc != raw.SQLITE_ROW) throw Error(rc);
            return raw.sqlite3_changes(_db);
        }
        finally
        {
            raw.sqlite3_reset(_stmt);
        }
    }

    /// <summary>Steps a query; false when there are no (more) rows. Call <see cref="Reset"/> when done.</summary>
    public bool Read()
    {
        var rc = raw.sqlite3_step(_stmt);
        if (rc == raw.SQLITE_ROW) return true;
        if (rc == raw.SQLITE_DONE) return false;
        var error = Error(rc);
        raw.sqlite3_reset(_stmt);
        throw error;
    }

    public void Reset() => raw.sqlite3_reset(_stmt);

    public long Int64(int column) => raw.sqlite3_column_int64(_stmt, column);

    public bool IsNull(int column) => raw.sqlite3_column_type(_stmt, column) == raw.SQLITE_NULL;

    /// <summary>A column's bytes (a copy: the statement's own buffer is valid only until the next step).</summary>
    public byte[] Blob(int column) => raw.sqlite3_column_blob(_stmt, column).ToArray();

    public string? Text(int column) => IsNull(column) ? null : raw.sqlite3_column_text(_stmt, column).utf8_to_string();

    private void Check(int rc)
    {
        if (rc != raw.SQLITE_OK) throw Error(rc);
    }

    private SqliteException Error(int rc) =>
        new(raw.sqlite3_errmsg(_db).utf8_to_string() ?? $"SQLite error {rc}", rc, raw.sqlite3_extended_errcode(_db));

    public void Dispose() => _stmt.Dispose();
}
