-- Patchwarden SQLite schema, version 2: advisories, CVE enrichment, findings.
-- Forward-only: never edit after it lands. Timestamps are INTEGER microseconds.

-- One row per advisory id. body is the canonical JSON of the whole advisory (keys
-- sorted), content_hash its SHA-256: an import with the same hash changes nothing.
CREATE TABLE advisories (
    id             TEXT    PRIMARY KEY,
    source         TEXT    NOT NULL,
    aliases        TEXT    NOT NULL,  -- comma-separated, for display and search
    published      INTEGER,
    modified       INTEGER,
    title          TEXT,
    severity_level TEXT,
    content_hash   TEXT    NOT NULL,
    body           TEXT    NOT NULL,
    imported_at    INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);
CREATE INDEX advisories_source ON advisories (source, id);

-- The CVE ids among each advisory's id and aliases, for the CVE filter.
CREATE TABLE advisory_cves (
    advisory_id TEXT NOT NULL REFERENCES advisories (id) ON DELETE CASCADE,
    cve         TEXT NOT NULL,
    PRIMARY KEY (advisory_id, cve)
) WITHOUT ROWID;
CREATE INDEX advisory_cves_cve ON advisory_cves (cve, advisory_id);

-- Threat and scoring data per CVE (CISA KEV, EPSS, CVE 5 / NVD CVSS).
CREATE TABLE cve_enrichment (
    cve              TEXT    PRIMARY KEY,
    kev              TEXT,              -- JSON of the KEV entry
    epss_probability REAL,
    epss_percentile  REAL,
    epss_date        TEXT,              -- YYYY-MM-DD
    cvss             TEXT    NOT NULL,  -- JSON list
    updated_at       INTEGER NOT NULL
);

-- One package of one asset affected by one advisory. At most one open row per
-- (asset, package, arch, advisory); a closed finding that reappears opens a new row.
CREATE TABLE findings (
    id            INTEGER PRIMARY KEY,
    asset_id      INTEGER NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    package       TEXT    NOT NULL,
    arch          TEXT    NOT NULL,
    advisory_id   TEXT    NOT NULL,
    installed     TEXT    NOT NULL,
    fixed         TEXT,
    status        TEXT    NOT NULL,
    source        TEXT    NOT NULL,
    cves          TEXT    NOT NULL,  -- comma-separated
    distro        TEXT    NOT NULL,
    evidence      TEXT    NOT NULL,
    suppressed    TEXT,
    level         TEXT    NOT NULL,
    first_seen_at INTEGER NOT NULL,
    deadline_at   INTEGER NOT NULL,
    closed_at     INTEGER
);
CREATE UNIQUE INDEX findings_open_key ON findings (asset_id, package, arch, advisory_id)
    WHERE closed_at IS NULL;
CREATE INDEX findings_asset ON findings (asset_id, id);
CREATE INDEX findings_advisory ON findings (advisory_id, id);
CREATE INDEX findings_open_level ON findings (level, deadline_at) WHERE closed_at IS NULL;
CREATE INDEX findings_open_deadline ON findings (deadline_at) WHERE closed_at IS NULL;

-- assets_with_packages looks packages up by source name too (name already leads
-- inventory_name).
CREATE INDEX inventory_source_name ON inventory (source_name, asset_id);
