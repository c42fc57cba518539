-- Patchwarden PostgreSQL schema, version 4: endpoint agents, their enrolment tokens, the
-- server's job-signing key and the signed jobs queued for agents with their reports.
-- Forward-only: never edit after it lands. Timestamps are BIGINT microseconds.
-- Job ids use COLLATE "C", so every backend compares them by bytes.

-- Keys the server creates once and every replica shares (the Ed25519 job-signing
-- seed). The secret is needed to sign, so it cannot be stored as a hash: protect
-- the database (and its backups) accordingly.
CREATE TABLE server_keys (
    name       TEXT    PRIMARY KEY,
    secret     TEXT    NOT NULL,
    public     TEXT    NOT NULL,
    created_at BIGINT  NOT NULL
);

-- Enrolment tokens (`pwe_...`): only the SHA-256 of the secret is stored. A one-time
-- token is consumed by the enrolment that uses it (used_count 0 -> 1).
CREATE TABLE enrollment_tokens (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         TEXT    NOT NULL,
    prefix       TEXT    NOT NULL,
    token_hash   TEXT    NOT NULL UNIQUE,
    reusable     BOOLEAN NOT NULL,
    created_at   BIGINT  NOT NULL,
    expires_at   BIGINT  NOT NULL,
    revoked_at   BIGINT,
    used_count   BIGINT  NOT NULL DEFAULT 0,
    last_used_at BIGINT
);

-- Enrolled agents: each reports for one asset and signs its requests with its key.
CREATE TABLE agents (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    asset_id            BIGINT  NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    enrollment_token_id BIGINT  NOT NULL REFERENCES enrollment_tokens (id),
    public_key          TEXT    NOT NULL,
    agent_version       TEXT    NOT NULL,
    enrolled_at         BIGINT  NOT NULL,
    last_seen_at        BIGINT,
    revoked_at          BIGINT,
    kernel_running      TEXT,
    reboot_required     BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX agents_asset ON agents (asset_id);

-- Signed jobs for agents: the exact JSON text that was signed and its signature.
CREATE TABLE agent_jobs (
    id           TEXT COLLATE "C" PRIMARY KEY,
    agent_id     BIGINT  NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    job_json     TEXT    NOT NULL,
    signature    TEXT    NOT NULL,
    issued_at    BIGINT  NOT NULL,
    expires_at   BIGINT  NOT NULL,
    created_at   BIGINT  NOT NULL,
    delivered_at BIGINT,
    status       TEXT,
    finished_at  BIGINT
);
CREATE INDEX agent_jobs_agent ON agent_jobs (agent_id, finished_at, issued_at);

-- What agents reported about their jobs (the wire JobReport as JSON), in order.
CREATE TABLE agent_job_reports (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id      TEXT COLLATE "C" NOT NULL REFERENCES agent_jobs (id) ON DELETE CASCADE,
    status      TEXT    NOT NULL,
    report_json TEXT    NOT NULL,
    received_at BIGINT  NOT NULL
);
CREATE INDEX agent_job_reports_job ON agent_job_reports (job_id, id);
