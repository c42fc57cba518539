-- Patchwarden SQLite schema, version 1. Forward-only: never edit after it lands.
-- Timestamps are INTEGER microseconds since the Unix epoch (domain clock::to_micros).

CREATE TABLE assets (
    id              INTEGER PRIMARY KEY,
    hostname        TEXT    NOT NULL UNIQUE,
    kind            TEXT    NOT NULL,
    os_family       TEXT    NOT NULL,
    os_distribution TEXT    NOT NULL,
    os_release      TEXT    NOT NULL,
    os_arch         TEXT    NOT NULL,
    environment     TEXT    NOT NULL,
    criticality     TEXT    NOT NULL,
    owner           TEXT,
    protected_data  INTEGER NOT NULL DEFAULT 0,
    package_format  TEXT,
    package_count   INTEGER NOT NULL DEFAULT 0,
    inventory_hash  TEXT,
    last_seen_at    INTEGER,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX assets_environment ON assets (environment, id);
CREATE INDEX assets_criticality ON assets (criticality, id);

CREATE TABLE asset_groups (
    asset_id INTEGER NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    label    TEXT    NOT NULL,
    PRIMARY KEY (asset_id, label)
) WITHOUT ROWID;
CREATE INDEX asset_groups_label ON asset_groups (label, asset_id);

CREATE TABLE inventory (
    asset_id       INTEGER NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    name           TEXT    NOT NULL,
    arch           TEXT    NOT NULL,
    version        TEXT    NOT NULL,
    source_name    TEXT,
    source_version TEXT,
    PRIMARY KEY (asset_id, name, arch, version)
) WITHOUT ROWID;
CREATE INDEX inventory_name ON inventory (name, asset_id);

CREATE TABLE users (
    id                   INTEGER PRIMARY KEY,
    username             TEXT    NOT NULL UNIQUE,
    display_name         TEXT    NOT NULL,
    email                TEXT,
    password_hash        TEXT    NOT NULL,
    roles                TEXT    NOT NULL,
    disabled             INTEGER NOT NULL DEFAULT 0,
    must_change_password INTEGER NOT NULL DEFAULT 0,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    last_login_at        INTEGER
);

CREATE TABLE sessions (
    token_hash TEXT    PRIMARY KEY,
    csrf_token TEXT    NOT NULL,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    source_ip  TEXT,
    user_agent TEXT
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    prefix       TEXT    NOT NULL,
    token_hash   TEXT    NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    last_used_at INTEGER,
    revoked_at   INTEGER
);
CREATE INDEX api_tokens_user ON api_tokens (user_id, created_at);

CREATE TABLE login_failures (
    id  INTEGER PRIMARY KEY,
    key TEXT    NOT NULL,
    at  INTEGER NOT NULL
);
CREATE INDEX login_failures_key_at ON login_failures (key, at);

-- The tamper-evident audit chain. before/after are TEXT so their bytes round-trip
-- exactly (the hash covers them).
CREATE TABLE audit_events (
    seq         INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    actor_kind  TEXT    NOT NULL,
    actor_id    INTEGER,
    actor_name  TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    target_type TEXT    NOT NULL,
    target_id   TEXT,
    before_json TEXT,
    after_json  TEXT,
    source_ip   TEXT,
    request_id  TEXT,
    prev_hash   TEXT    NOT NULL,
    hash        TEXT    NOT NULL
);
CREATE INDEX audit_events_target ON audit_events (target_type, target_id, seq);

-- The newest event's (seq, hash), kept apart from the events so that deleting the
-- newest rows is detected too. Exactly one row; seq 0 means the log is empty.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT    NOT NULL
);
INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
