-- Patchwarden SQLite schema, version 4: endpoint agents, their enrolment tokens, the
-- server's job-signing key and the signed jobs queued for agents with their reports.
-- Forward-only: never edit after it lands. Timestamps are INTEGER microseconds.

-- Keys the server creates once and every replica shares (the Ed25519 job-signing
-- seed). The secret is needed to sign, so it cannot be stored as a hash: protect
-- the database (and its backups) accordingly.
CREATE TABLE server_keys (
    name       TEXT    PRIMARY KEY,
    secret     TEXT    NOT NULL,
    public     TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);

-- Enrolment tokens (`pwe_...`): only the SHA-256 of the secret is stored. A one-time
-- token is consumed by the enrolment that uses it (used_count 0 -> 1).
CREATE TABLE enrollment_tokens (
    id           INTEGER PRIMARY KEY,
    name         TEXT    NOT NULL,
    prefix       TEXT    NOT NULL,
    token_hash   TEXT    NOT NULL UNIQUE,
    reusable     INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    revoked_at   INTEGER,
    used_count   INTEGER NOT NULL DEFAULT 0,
    last_used_at INTEGER
);

-- Enrolled agents: each reports for one asset and signs its requests with its key.
CREATE TABLE agents (
    id                  INTEGER PRIMARY KEY,
    asset_id            INTEGER NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    enrollment_token_id INTEGER NOT NULL REFERENCES enrollment_tokens (id),
    public_key          TEXT    NOT NULL,
    agent_version       TEXT    NOT NULL,
    enrolled_at         INTEGER NOT NULL,
    last_seen_at        INTEGER,
    revoked_at          INTEGER,
    kernel_running      TEXT,
    reboot_required     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX agents_asset ON agents (asset_id);

-- Signed jobs for agents: the exact JSON text that was signed and its signature.
CREATE TABLE agent_jobs (
    id           TEXT    PRIMARY KEY,
    agent_id     INTEGER NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    job_json     TEXT    NOT NULL,
    signature    TEXT    NOT NULL,
    issued_at    INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    delivered_at INTEGER,
    status       TEXT,
    finished_at  INTEGER
);
CREATE INDEX agent_jobs_agent ON agent_jobs (agent_id, finished_at, issued_at);

-- What agents reported about their jobs (the wire JobReport as JSON), in order.
CREATE TABLE agent_job_reports (
    id          INTEGER PRIMARY KEY,
    job_id      TEXT    NOT NULL REFERENCES agent_jobs (id) ON DELETE CASCADE,
    status      TEXT    NOT NULL,
    report_json TEXT    NOT NULL,
    received_at INTEGER NOT NULL
);
CREATE INDEX agent_job_reports_job ON agent_job_reports (job_id, id);
