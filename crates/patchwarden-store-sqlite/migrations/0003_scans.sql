-- Patchwarden SQLite schema, version 3: scanner imports and the addresses of assets.
-- Forward-only: never edit after it lands. Timestamps are INTEGER microseconds.

-- IP addresses an asset was seen at (scanner reports name hosts by address), so a
-- later report that gives only the address attaches to the same asset.
CREATE TABLE asset_addresses (
    asset_id      INTEGER NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    ip            TEXT    NOT NULL,
    source        TEXT    NOT NULL,  -- e.g. scan:nessus
    first_seen_at INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL,
    PRIMARY KEY (asset_id, ip)
) WITHOUT ROWID;
CREATE INDEX asset_addresses_ip ON asset_addresses (ip, last_seen_at);

-- One imported scanner report (Nessus, OpenVAS) and its counts.
CREATE TABLE scan_imports (
    id           INTEGER PRIMARY KEY,
    scanner      TEXT    NOT NULL,
    format       TEXT    NOT NULL,
    file_name    TEXT    NOT NULL,
    report_name  TEXT    NOT NULL,
    started_at   INTEGER,
    finished_at  INTEGER,
    imported_at  INTEGER NOT NULL,
    hosts        INTEGER NOT NULL,
    findings     INTEGER NOT NULL,
    rejected     INTEGER NOT NULL,
    confirmed    INTEGER NOT NULL,
    contradicted INTEGER NOT NULL,
    unverified   INTEGER NOT NULL,
    superseded   INTEGER NOT NULL
);

-- The current scanner findings of each asset: a newer import of the same scanner
-- replaces an asset's rows. One row per (finding, package) of a local check, one row
-- per remote finding (package NULL).
CREATE TABLE scan_findings (
    id             INTEGER PRIMARY KEY,
    asset_id       INTEGER NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    scan_import_id INTEGER NOT NULL REFERENCES scan_imports (id),
    scanner        TEXT    NOT NULL,
    plugin_id      TEXT    NOT NULL,
    name           TEXT    NOT NULL,
    severity       TEXT    NOT NULL,
    cvss           REAL,
    cves           TEXT    NOT NULL,  -- comma-separated
    port           INTEGER,
    protocol       TEXT,
    package        TEXT,
    installed      TEXT,
    fixed          TEXT,
    verdict        TEXT    NOT NULL,
    evidence       TEXT    NOT NULL
);
CREATE INDEX scan_findings_asset ON scan_findings (asset_id, scanner, id);
CREATE INDEX scan_findings_import ON scan_findings (scan_import_id, id);
CREATE INDEX scan_findings_verdict ON scan_findings (verdict, id);
