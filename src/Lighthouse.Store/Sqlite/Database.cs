using Microsoft.Data.Sqlite;

namespace Lighthouse.Store.Sqlite;

/// <summary>Connections to <c>lighthouse.db</c> and translation of SQLite failures into store errors.</summary>
internal sealed class Database
{
    public const int SqliteCorrupt = 11;
    public const int SqliteFull = 13;
    public const int SqliteNotADb = 26;
    public const int SqliteIoErr = 10;

    private readonly string _writerConnectionString;
    private readonly string _readerConnectionString;

    static Database()
    {
        // Before SQLite initializes (first open): no global memory statistics. With them, every malloc and free takes a
        // global mutex; the event writer spent 8% of its time in mutex calls. Refused (MISUSE) if SQLite was set up
        // already in this process: then it keeps its defaults.
        SQLitePCL.Batteries_V2.Init();
        SQLitePCL.raw.sqlite3_config(SqliteConfigMemStatus, 0);
    }

    private const int SqliteConfigMemStatus = 9;

    public Database(string path)
    {
        FilePath = path;
        _writerConnectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = false,
            DefaultTimeout = 30,
        }.ToString();
        // Readers come from a pool; the distinct "Application Name"-like knob keeps each store's pool separate.
        _readerConnectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWrite,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
        Prepared = new PreparedReaders(path);
    }

    /// <summary>Readers with prepared statements, for lookups made many times (see <see cref="PreparedReaders"/>).</summary>
    public PreparedReaders Prepared { get; }

    public string FilePath { get; }

    /// <summary>Who events recorded before schema 2 (no owner kept) read as: see <see cref="Schema.CreateOrUpgrade"/>.</summary>
    public (long Uid, long Gid) LegacyOwner { get; set; }

    public SqliteConnection OpenWriter(bool fullSync)
    {
        var c = new SqliteConnection(_writerConnectionString);
        c.Open();
        Exec(c, "PRAGMA journal_mode=WAL;");
        Exec(c, fullSync ? "PRAGMA synchronous=FULL;" : "PRAGMA synchronous=NORMAL;");
        // Checkpoints are left to SQLite's automatic one (1000 pages); large WALs are truncated back.
        Exec(c, "PRAGMA journal_size_limit=67108864;");
        Exec(c, "PRAGMA cache_size=-65536;");
        // Savepoint journals of big work items (baseline, reconcile) stay in memory.
        Exec(c, "PRAGMA temp_store=MEMORY;");
        return c;
    }

    public SqliteConnection OpenReader()
    {
        var c = new SqliteConnection(_readerConnectionString);
        c.Open();
        return c;
    }

    public void ClearReaderPool()
    {
        Prepared.Clear();
        using var c = new SqliteConnection(_readerConnectionString);
        SqliteConnection.ClearPool(c);
    }

    public static void Exec(SqliteConnection c, string sql)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    public static bool IsCorruption(SqliteException e) => e.SqliteErrorCode is SqliteCorrupt or SqliteNotADb;

    /// <summary>The highest event that can still be read in order from the start; 0 if none.</summary>
    public long FindLastGoodEvent()
    {
        long last = 0;
        try
        {
            using var c = new SqliteConnection(_writerConnectionString.Replace("ReadWriteCreate", "ReadOnly"));
            c.Open();
            // Lets SQLite read a file shorter than its header says (a truncated database) as far as it goes.
            Exec(c, "PRAGMA writable_schema=ON");
            using var cmd = c.CreateCommand();
            cmd.CommandText = "SELECT seq FROM events ORDER BY seq";
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                var seq = r.GetInt64(0);
                if (seq != last + 1) break;
                last = seq;
            }
        }
        catch (SqliteException)
        {
            // Reading stops at the first unreadable page: what was read so far is the answer.
        }
        return last;
    }

    /// <summary>Turns a SQLite failure into the store error a user should see.</summary>
    public Exception Translate(Exception e, string doing)
    {
        if (e is StoreException) return e;
        if (e is SqliteException s)
        {
            if (s.SqliteErrorCode == SqliteFull)
                return new StoreFullException(doing + $" (database {FilePath})", s);
            if (IsCorruption(s))
                return new StoreCorruptException(FilePath, FindLastGoodEvent(), s.Message, s);
            if (s.SqliteErrorCode == SqliteIoErr && s.SqliteExtendedErrorCode == (SqliteIoErr | (13 << 8)))
                return new StoreFullException(doing + $" (database {FilePath})", s);
            return new StoreException($"database error while {doing} ({FilePath}): {s.Message}", s);
        }
        if (e is IOException io && (io.HResult & 0xFFFF) == Lighthouse.Interop.Libc.ENOSPC)
            return new StoreFullException(doing, io);
        return e;
    }
}
