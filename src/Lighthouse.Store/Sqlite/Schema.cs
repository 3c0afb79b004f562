using System.Globalization;
using Microsoft.Data.Sqlite;

namespace Lighthouse.Store.Sqlite;

/// <summary>
/// The database layout. <c>events</c> is the append-only truth; <c>entries</c>, <c>versions</c> and
/// <c>snapshots</c> form the temporal index and are derived from it (see IndexApplier).
/// </summary>
internal static class Schema
{
    /// <summary>2: owner, group and device number (uid, gid, rdev) on events and versions; the exact node kinds.
    /// 3: the modification times of the directories whose entries an event changed (dir_mtime_ns, dir2_mtime_ns).
    /// 4: file versions kept as compressed, de-duplicated chunks (chunks, blobs); versions thinned by retention (pruned).</summary>
    public const int Version = 5;

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
            hash           BLOB    NOT NULL,
            uid            INTEGER,
            gid            INTEGER,
            rdev           INTEGER,
            dir_mtime_ns   INTEGER,
            dir2_mtime_ns  INTEGER,
            agent_via      TEXT,
            detail         TEXT);
        CREATE INDEX IF NOT EXISTS events_agent ON events(agent, seq);
        CREATE INDEX IF NOT EXISTS events_path  ON events(path, seq);
        CREATE INDEX IF NOT EXISTS events_path2 ON events(path2, seq) WHERE path2 IS NOT NULL;
        -- The second file of an exchange (or the file a rename replaced): a name's history follows both.
        CREATE INDEX IF NOT EXISTS events_other ON events(other_file_id, seq) WHERE other_file_id IS NOT NULL;
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
            uid           INTEGER,
            gid           INTEGER,
            rdev          INTEGER,
            PRIMARY KEY(file_id, from_seq)) WITHOUT ROWID;
        -- The current version of every file, for reconciliation's one-pass load of the live tree.
        CREATE INDEX IF NOT EXISTS versions_current ON versions(to_seq, file_id);

        CREATE TABLE IF NOT EXISTS snapshots(
            name        TEXT PRIMARY KEY,
            seq         INTEGER NOT NULL,
            created_seq INTEGER NOT NULL);

        -- Content (schema 4): a chunk's bytes (codec 0 raw, 1 zstd) under the BLAKE3-256 hash of its raw bytes; a blob (a
        -- version's bytes) under the SHA-256 of the whole file, as the list of its chunks (recipe: 32-byte hash and
        -- 4-byte little-endian size per chunk; a zero hash is a run of zeros). Versions captured before schema 4 are
        -- whole files under objects/.
        CREATE TABLE IF NOT EXISTS chunks(
            hash  BLOB PRIMARY KEY,
            size  INTEGER NOT NULL,
            codec INTEGER NOT NULL,
            data  BLOB NOT NULL);
        CREATE TABLE IF NOT EXISTS blobs(
            hash   TEXT PRIMARY KEY,
            size   INTEGER NOT NULL,
            recipe BLOB NOT NULL);
        -- A chunk stored as its difference from another (codec 2: zstd with the base's bytes as dictionary); depth: how
        -- many bases its chain has (at most ChunkStore.MaxDeltaDepth).
        CREATE TABLE IF NOT EXISTS chunk_bases(
            hash  BLOB PRIMARY KEY,
            base  BLOB NOT NULL,
            depth INTEGER NOT NULL) WITHOUT ROWID;
        -- Versions whose content the retention policy no longer keeps: their events stay, and say what was there.
        -- The version of each file each agent last read (through a server): not events (a read changes nothing), the
        -- ground for "changed since you last read it". One row per agent and file.
        CREATE TABLE IF NOT EXISTS reads(
            agent       TEXT    NOT NULL,
            file_id     INTEGER NOT NULL,
            version_seq INTEGER NOT NULL,
            time_ticks  INTEGER NOT NULL,
            PRIMARY KEY(agent, file_id)) WITHOUT ROWID;

        CREATE TABLE IF NOT EXISTS pruned(
            version_seq INTEGER PRIMARY KEY,
            time_ticks  INTEGER NOT NULL);
        """;

    public const string ClearIndex = "DELETE FROM entries; DELETE FROM versions; DELETE FROM snapshots;";

    /// <summary>Reads attributes from a row: kind, size, mode, mtime_ns, inode from <paramref name="kindAt"/> on, and
    /// uid, gid, rdev from <paramref name="ownerAt"/> on (events written before schema 2: <paramref name="legacyOwner"/>, rdev 0).</summary>
    public static NodeAttributes ReadAttributes(SqliteDataReader r, int kindAt, int ownerAt, (long Uid, long Gid) legacyOwner = default)
    {
        var legacy = r.IsDBNull(ownerAt);
        return new NodeAttributes((FileKind)r.GetInt32(kindAt), r.GetInt64(kindAt + 1), r.GetInt32(kindAt + 2), r.GetInt64(kindAt + 3),
            r.GetInt64(kindAt + 4), legacy ? legacyOwner.Uid : r.GetInt64(ownerAt), legacy ? legacyOwner.Gid : r.GetInt64(ownerAt + 1),
            legacy ? 0 : r.GetInt64(ownerAt + 2));
    }

    /// <summary>
    /// Creates the layout in a new database, or brings one of schema 1 or 2 to <see cref="Version"/> in place, in one
    /// transaction. From 1: events and versions gain uid, gid and rdev. The old events keep NULL there (their hashes cover
    /// no owner), and read as the owner of the project directory at the upgrade (kept in meta as legacy_uid, legacy_gid);
    /// the versions built from them get those values, as a rebuild of the index gives them. From 1 or 2: events gain
    /// dir_mtime_ns and dir2_mtime_ns, NULL for the old ones (history then shows a directory's mtime from its own versions,
    /// as before). From 1 to 4: events gain agent_via (how the agent was identified) and detail (what a denial refused), NULL for the old ones. A database of
    /// a newer schema is refused, untouched.
    /// </summary>
    public static void CreateOrUpgrade(SqliteConnection c, string path, string projectDir)
    {
        var version = StoredVersion(c);
        if (version is not (null or 1 or 2 or 3 or 4 or Version)) throw new StoreException(Unreadable(path, version.Value));
        // Freed pages (chunks the garbage collector removed) can be given back to the filesystem: only settable while empty.
        if (version is null) Exec(c, null, "PRAGMA auto_vacuum=INCREMENTAL");
        if (version is 1 or 2 or 3 or 4)
        {
            using var t = c.BeginTransaction();
            if (version == 1)
            {
                var owner = Native.FileStat.Lstat(projectDir) ?? throw new StoreException($"project directory {projectDir} does not exist");
                foreach (var table in new[] { "events", "versions" })
                    foreach (var column in new[] { "uid", "gid", "rdev" })
                        Exec(c, t, $"ALTER TABLE {table} ADD COLUMN {column} INTEGER");
                Exec(c, t, "INSERT INTO meta(key, value) VALUES('legacy_uid', $a), ('legacy_gid', $b)", owner.Uid, owner.Gid);
                Exec(c, t, "UPDATE versions SET uid = $a, gid = $b, rdev = 0", owner.Uid, owner.Gid);
            }
            if (version is 1 or 2)
                foreach (var column in new[] { "dir_mtime_ns", "dir2_mtime_ns" })
                    Exec(c, t, $"ALTER TABLE events ADD COLUMN {column} INTEGER");
            // From 3, the chunk store's tables are new (created below); whole-file objects of earlier versions stay readable.
            Exec(c, t, "ALTER TABLE events ADD COLUMN agent_via TEXT");
            Exec(c, t, "ALTER TABLE events ADD COLUMN detail TEXT");
            Exec(c, t, "UPDATE meta SET value = $a WHERE key = 'schema_version'", Version.ToString(CultureInfo.InvariantCulture));
            t.Commit();
        }
        Database.Exec(c, Create);
        if (version is null) Exec(c, null, "INSERT INTO meta(key, value) VALUES('schema_version', $a)", Version.ToString(CultureInfo.InvariantCulture));
    }

    /// <summary>Refuses a database this code cannot read as it is (any version but <see cref="Version"/>), saying what to do.</summary>
    public static void CheckReadable(SqliteConnection c, string path)
    {
        var version = StoredVersion(c);
        if (version == Version) return;
        throw new StoreException(version switch
        {
            null => $"database {path} has no schema version; it is not a Lighthouse store",
            1 or 2 or 3 or 4 => $"database {path} has schema version {version}, older than this Lighthouse's {Version}: open the project for writing once (lighthouse mount) to upgrade it in place",
            _ => Unreadable(path, version.Value),
        });
    }

    private static string Unreadable(string path, int version) => version > Version
        ? $"database {path} has schema version {version}, written by a newer Lighthouse; this one reads versions up to {Version}: use a newer Lighthouse"
        : $"database {path} has schema version {version}, which no Lighthouse wrote";

    /// <summary>Who the events written before schema 2 read as (see <see cref="CreateOrUpgrade"/>); root for a store that has none.</summary>
    public static (long Uid, long Gid) LegacyOwner(SqliteConnection c)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT (SELECT value FROM meta WHERE key='legacy_uid'), (SELECT value FROM meta WHERE key='legacy_gid')";
        using var r = cmd.ExecuteReader();
        r.Read();
        return (r.IsDBNull(0) ? 0 : long.Parse(r.GetString(0), CultureInfo.InvariantCulture), r.IsDBNull(1) ? 0 : long.Parse(r.GetString(1), CultureInfo.InvariantCulture));
    }

    /// <summary>The schema version stored in meta; null for a new (empty) database.</summary>
    private static int? StoredVersion(SqliteConnection c)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='meta'";
        if ((long)cmd.ExecuteScalar()! == 0) return null;
        cmd.CommandText = "SELECT value FROM meta WHERE key='schema_version'";
        return cmd.ExecuteScalar() switch
        {
            null => null,
            string text when int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var v) => v,
            var other => throw new StoreException($"database has an unreadable schema version '{other}'"),
        };
    }

    private static void Exec(SqliteConnection c, SqliteTransaction? t, string sql, params object[] args)
    {
        using var cmd = c.CreateCommand();
        cmd.Transaction = t;
        cmd.CommandText = sql;
        for (var i = 0; i < args.Length; i++) cmd.Parameters.AddWithValue("$" + (char)('a' + i), args[i]);
        cmd.ExecuteNonQuery();
    }
}
