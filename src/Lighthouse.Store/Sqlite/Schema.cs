namespace Lighthouse.Store.Sqlite;

/// <summary>
/// The database layout. <c>events</c> is the append-only truth; <c>entries</c>, <c>versions</c> and
/// <c>snapshots</c> form the temporal index and are derived from it (see IndexApplier).
/// </summary>
internal static class Schema
{
    public const int Version = 1;

    public const string Create = """
        CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);

        CREATE TABLE IF NOT EXISTS events(
            seq            INTEGER PRIMARY KEY,
            time_ticks     INTEGER NOT NULL,
            agent          TEXT    NOT NULL,
            op             TEXT    NOT NULL,
            path           TEXT    NOT NULL,
            path2          TEXT,
            file_id        INTEGER NOT NULL,
            before_version INTEGER,
            after_version  INTEGER,
            other_file_id  INTEGER,
            kind           INTEGER,
            size           INTEGER,
            mode           INTEGER,
            mtime_ns       INTEGER,
            inode          INTEGER,
            content_state  INTEGER NOT NULL,
            content_hash   TEXT,
            point          INTEGER,
            prev_hash      BLOB    NOT NULL,
            hash           BLOB    NOT NULL);
        CREATE INDEX IF NOT EXISTS events_agent ON events(agent, seq);
        CREATE INDEX IF NOT EXISTS events_path  ON events(path, seq);
        CREATE INDEX IF NOT EXISTS events_path2 ON events(path2, seq) WHERE path2 IS NOT NULL;
        CREATE INDEX IF NOT EXISTS events_file  ON events(file_id, seq);
        -- Times never go backwards along seq: "as of time T" is a binary search over seq (ReadSession), so a
        -- time index would only cost every insert a B-tree update. Stores made before keep none either.
        DROP INDEX IF EXISTS events_time;

        -- A name in a directory, valid for events in [from_seq, to_seq); to_seq = max int64 while it lives.
        CREATE TABLE IF NOT EXISTS entries(
            parent_id INTEGER NOT NULL,
            name      TEXT    NOT NULL,
            from_seq  INTEGER NOT NULL,
            to_seq    INTEGER NOT NULL,
            file_id   INTEGER NOT NULL,
            kind      INTEGER NOT NULL,
            PRIMARY KEY(parent_id, name, from_seq)) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS entries_by_file ON entries(file_id, to_seq);
        CREATE INDEX IF NOT EXISTS entries_by_end   ON entries(parent_id, to_seq, from_seq);
        CREATE INDEX IF NOT EXISTS entries_by_start ON entries(parent_id, from_seq, to_seq);

        -- The attributes/content of a file, valid for [from_seq, to_seq); from_seq is the version id.
        CREATE TABLE IF NOT EXISTS versions(
            file_id       INTEGER NOT NULL,
            from_seq      INTEGER NOT NULL,
            to_seq        INTEGER NOT NULL,
            kind          INTEGER NOT NULL,
            size          INTEGER NOT NULL,
            mode          INTEGER NOT NULL,
            mtime_ns      INTEGER NOT NULL,
            inode         INTEGER NOT NULL,
            content_state INTEGER NOT NULL,
            content_hash  TEXT,
            captured_seq  INTEGER,
            PRIMARY KEY(file_id, from_seq)) WITHOUT ROWID;
        -- The current version of every file, for reconciliation's one-pass load of the live tree.
        CREATE INDEX IF NOT EXISTS versions_current ON versions(to_seq, file_id);

        CREATE TABLE IF NOT EXISTS snapshots(
            name        TEXT PRIMARY KEY,
            seq         INTEGER NOT NULL,
            created_seq INTEGER NOT NULL);
        """;

    public const string ClearIndex = "DELETE FROM entries; DELETE FROM versions; DELETE FROM snapshots;";
}
