-- Patchwarden PostgreSQL schema, version 1. Forward-only: never edit after it lands.
-- Timestamps are BIGINT microseconds since the Unix epoch (domain clock::to_micros).

CREATE TABLE assets (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    hostname        TEXT    NOT NULL UNIQUE,
    kind            TEXT    NOT NULL,
    os_family       TEXT    NOT NULL,
    os_distribution TEXT    NOT NULL,
    os_release      TEXT    NOT NULL,
    os_arch         TEXT    NOT NULL,
    environment     TEXT    NOT NULL,
    criticality     TEXT    NOT NULL,
    owner           TEXT,
    protected_data  BOOLEAN NOT NULL DEFAULT FALSE,
    package_format  TEXT,
    package_count   BIGINT NOT NULL DEFAULT 0,
    inventory_hash  TEXT,
    last_seen_at    BIGINT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX assets_environment ON assets (environment, id);
CREATE INDEX assets_criticality ON assets (criticality, id);

CREATE TABLE asset_groups (
    asset_id BIGINT NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    label    TEXT    NOT NULL,
    PRIMARY KEY (asset_id, label)
);
CREATE INDEX asset_groups_label ON asset_groups (label, asset_id);

CREATE TABLE inventory (
    asset_id       BIGINT NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    name           TEXT    NOT NULL,
    arch           TEXT    NOT NULL,
    version        TEXT    NOT NULL,
    source_name    TEXT,
    source_version TEXT,
    PRIMARY KEY (asset_id, name, arch, version)
);
CREATE INDEX inventory_name ON inventory (name, asset_id);

CREATE TABLE users (
    id                   BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username             TEXT    NOT NULL UNIQUE,
    display_name         TEXT    NOT NULL,
    email                TEXT,
    password_hash        TEXT    NOT NULL,
    roles                TEXT    NOT NULL,
    disabled             BOOLEAN NOT NULL DEFAULT FALSE,
    must_change_password BOOLEAN NOT NULL DEFAULT FALSE,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL,
    last_login_at        BIGINT
);

CREATE TABLE sessions (
    token_hash TEXT    PRIMARY KEY,
    csrf_token TEXT    NOT NULL,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    source_ip  TEXT,
    user_agent TEXT
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE api_tokens (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    prefix       TEXT    NOT NULL,
    token_hash   TEXT    NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT,
    last_used_at BIGINT,
    revoked_at   BIGINT
);
CREATE INDEX api_tokens_user ON api_tokens (user_id, created_at);

CREATE TABLE login_failures (
    id  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key TEXT    NOT NULL,
    at  BIGINT NOT NULL
);
CREATE INDEX login_failures_key_at ON login_failures (key, at);

-- The tamper-evident audit chain. before/after are TEXT, never JSONB, so their bytes
-- round-trip exactly (the hash covers them). seq is assigned under the audit_head
-- row lock, so it is gap-free.
CREATE TABLE audit_events (
    seq         BIGINT PRIMARY KEY,
    at          BIGINT NOT NULL,
    actor_kind  TEXT    NOT NULL,
    actor_id    BIGINT,
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
    id   BIGINT PRIMARY KEY CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash TEXT    NOT NULL
);
INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
