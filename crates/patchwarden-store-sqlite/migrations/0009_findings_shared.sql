-- Patchwarden SQLite schema, version 9: findings stored once per distinct content and,
-- per asset, as a compact list (patchwarden_store::findings). Forward-only: never edit
-- after it lands. Timestamps are INTEGER microseconds.

-- What a finding says, once per distinct content (hash: SHA-256 of the fields); rows
-- never change. The one process that owns the file keeps every hash in memory and
-- alone inserts (patchwarden_store::findings::detail::DetailCache), so the column
-- needs no index: a fleet re-match writes a few hundred thousand rows, and indexes on
-- random keys made that four times slower.
CREATE TABLE finding_details (
    id          INTEGER PRIMARY KEY,
    hash        BLOB    NOT NULL,
    package     TEXT    NOT NULL,
    arch        TEXT    NOT NULL,
    installed   TEXT    NOT NULL,
    fixed       TEXT,
    status      TEXT    NOT NULL,
    advisory_id TEXT    NOT NULL,
    source      TEXT    NOT NULL,
    cves        TEXT    NOT NULL,  -- comma-separated
    distro      TEXT    NOT NULL,
    evidence    TEXT    NOT NULL,
    suppressed  TEXT
);

-- The level of every open finding of an advisory, and the time allowed at that level.
CREATE TABLE advisory_levels (
    advisory_id TEXT    PRIMARY KEY,
    level       TEXT    NOT NULL,
    allowed     INTEGER NOT NULL  -- microseconds
) WITHOUT ROWID;
CREATE INDEX advisory_levels_level ON advisory_levels (level);

-- Per asset: its open findings (patchwarden_store::findings::open_set), the number the
-- next finding gets, and the digest of what its last sync wanted.
CREATE TABLE asset_findings (
    asset_id INTEGER PRIMARY KEY REFERENCES assets (id) ON DELETE CASCADE,
    next_seq INTEGER NOT NULL,
    digest   BLOB,
    open     BLOB    NOT NULL
);

-- Closed findings, as they were when they closed. id = asset_id * 2^24 + number.
CREATE TABLE closed_findings (
    id            INTEGER PRIMARY KEY,
    asset_id      INTEGER NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    detail_id     INTEGER NOT NULL REFERENCES finding_details (id),
    level         TEXT    NOT NULL,
    first_seen_at INTEGER NOT NULL,
    deadline_at   INTEGER NOT NULL,
    closed_at     INTEGER NOT NULL
);
CREATE INDEX closed_findings_asset ON closed_findings (asset_id);
CREATE INDEX closed_findings_detail ON closed_findings (detail_id);

-- The rows of the old layout are converted by the store when it opens the database
-- (patchwarden_store::findings::convert), which then drops this table.
ALTER TABLE findings RENAME TO findings_v1;
ALTER TABLE assets DROP COLUMN findings_digest;
