-- Sources mirrored from other TAXII 2.1 servers (collections/mirror): the
-- declaration, the cursor, counters and health, and the lease of the
-- process pulling it, in one row so that a page's record is one update.
-- Times are microseconds since the Unix epoch (0: never).
CREATE TABLE mirror_sources (
    name              TEXT PRIMARY KEY,
    url               TEXT NOT NULL,
    username          TEXT NOT NULL DEFAULT '',
    sealed            BLOB,
    cert_file         TEXT NOT NULL DEFAULT '',
    key_file          TEXT NOT NULL DEFAULT '',
    ca_file           TEXT NOT NULL DEFAULT '',
    allow_http        INTEGER NOT NULL DEFAULT 0,
    api_root          TEXT NOT NULL,
    collection        TEXT NOT NULL,
    direction         TEXT NOT NULL DEFAULT 'pull',
    max_tlp           INTEGER NOT NULL DEFAULT 0,
    interval_us       INTEGER NOT NULL,
    created           INTEGER NOT NULL,
    cursor_after      TEXT NOT NULL DEFAULT '',
    cursor_next       TEXT NOT NULL DEFAULT '',
    cursor_walk_after TEXT NOT NULL DEFAULT '',
    pages             INTEGER NOT NULL DEFAULT 0,
    objects           INTEGER NOT NULL DEFAULT 0,
    added             INTEGER NOT NULL DEFAULT 0,
    unchanged         INTEGER NOT NULL DEFAULT 0,
    rejected          INTEGER NOT NULL DEFAULT 0,
    last_success      INTEGER NOT NULL DEFAULT 0,
    last_page         INTEGER NOT NULL DEFAULT 0,
    last_error        TEXT NOT NULL DEFAULT '',
    last_error_at     INTEGER NOT NULL DEFAULT 0,
    holder            TEXT NOT NULL DEFAULT '',
    lease_until       INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- The newest rejected objects of each source (bounded by the writer).
CREATE TABLE mirror_rejections (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    source    TEXT NOT NULL REFERENCES mirror_sources (name) ON DELETE CASCADE,
    at        INTEGER NOT NULL,
    object_id TEXT NOT NULL,
    version   TEXT NOT NULL,
    reason    TEXT NOT NULL,
    message   TEXT NOT NULL
);
CREATE INDEX mirror_rejections_source ON mirror_rejections (source, seq);

-- Provenance: one row per page stored from a source (bounded by the writer).
CREATE TABLE mirror_batches (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    source    TEXT NOT NULL REFERENCES mirror_sources (name) ON DELETE CASCADE,
    at        INTEGER NOT NULL,
    first     TEXT NOT NULL,
    last      TEXT NOT NULL,
    objects   INTEGER NOT NULL,
    added     INTEGER NOT NULL,
    unchanged INTEGER NOT NULL,
    rejected  INTEGER NOT NULL
);
CREATE INDEX mirror_batches_source ON mirror_batches (source, seq);
