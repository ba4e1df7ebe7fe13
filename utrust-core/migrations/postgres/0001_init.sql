-- utrust PostgreSQL schema, version 1.
--
-- Document style, as the SQLite schema: every entity keeps its serde
-- serialization in `data` (JSONB), plus the columns that queries, uniqueness and
-- atomic updates need. Quota counters, versions and statuses live in columns and
-- are authoritative on read (the JSON copies are overwritten). Ids are hyphenated
-- lowercase UUIDs as text.
--
-- Instants that queries compare are stored exactly: a TIMESTAMPTZ truncated to
-- the microsecond plus the nanoseconds below it (`*_ns`, 0..999), compared as a
-- row `(ts, ns)`. The exact value is also in `data`.
--
-- Tables are created in the current schema (the first entry of `search_path`).

CREATE TABLE object_identifiers (
    oid  TEXT PRIMARY KEY,
    data JSONB NOT NULL
);

CREATE TABLE products (
    id   TEXT PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    data JSONB NOT NULL
);

CREATE TABLE services (
    id   TEXT PRIMARY KEY,
    data JSONB NOT NULL
);

CREATE TABLE organizations (
    id   TEXT PRIMARY KEY,
    data JSONB NOT NULL
);

CREATE TABLE branches (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL,
    data            JSONB NOT NULL
);
CREATE INDEX branches_organization ON branches (organization_id);

CREATE TABLE points (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL,
    -- -1 = unlimited, else the number of certificates that may be issued.
    limit_allotment BIGINT NOT NULL CHECK (limit_allotment >= -1),
    limit_issued    BIGINT NOT NULL DEFAULT 0 CHECK (limit_issued >= 0),
    limit_reserved  BIGINT NOT NULL DEFAULT 0 CHECK (limit_reserved >= 0),
    data            JSONB NOT NULL
);
CREATE INDEX points_organization ON points (organization_id);

CREATE TABLE point_quantities (
    point_id   TEXT NOT NULL REFERENCES points (id) ON DELETE CASCADE,
    product_id TEXT NOT NULL,
    allotment  BIGINT NOT NULL CHECK (allotment >= -1),
    issued     BIGINT NOT NULL DEFAULT 0 CHECK (issued >= 0),
    reserved   BIGINT NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    PRIMARY KEY (point_id, product_id)
);

CREATE TABLE applications (
    id         TEXT PRIMARY KEY,
    version    BIGINT NOT NULL,
    status     TEXT NOT NULL,
    point_id   TEXT NOT NULL,
    service_id TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    -- The accepted request, kept out of the JSON.
    csr_der    BYTEA,
    data       JSONB NOT NULL
);
CREATE INDEX applications_point ON applications (point_id);
CREATE INDEX applications_status ON applications (status);

CREATE TABLE application_history (
    application_id TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    seq            BIGINT NOT NULL,
    at             TIMESTAMPTZ NOT NULL,
    from_status    TEXT NOT NULL,
    to_status      TEXT NOT NULL,
    event          TEXT NOT NULL,
    data           JSONB NOT NULL,
    PRIMARY KEY (application_id, seq)
);

CREATE TABLE reservations (
    id             TEXT PRIMARY KEY,
    application_id TEXT NOT NULL,
    point_id       TEXT NOT NULL,
    -- JSON array of product ids debited.
    products       JSONB NOT NULL,
    expires_at     TIMESTAMPTZ NOT NULL,
    expires_at_ns  INTEGER NOT NULL CHECK (expires_at_ns BETWEEN 0 AND 999),
    data           JSONB NOT NULL
);
CREATE INDEX reservations_expires ON reservations (expires_at, expires_at_ns);
CREATE INDEX reservations_application ON reservations (application_id);

CREATE TABLE certificates (
    serial         TEXT PRIMARY KEY,
    application_id TEXT NOT NULL,
    point_id       TEXT NOT NULL,
    -- JSON array of product ids.
    products       JSONB NOT NULL,
    applicant_kind TEXT NOT NULL,
    subject        TEXT NOT NULL,
    not_before     TIMESTAMPTZ NOT NULL,
    not_after      TIMESTAMPTZ NOT NULL,
    not_after_ns   INTEGER NOT NULL CHECK (not_after_ns BETWEEN 0 AND 999),
    -- valid | suspended | revoked | expired; the full status is in `data`.
    status         TEXT NOT NULL,
    version        BIGINT NOT NULL,
    der            BYTEA NOT NULL,
    -- The record without `der`.
    data           JSONB NOT NULL
);
CREATE INDEX certificates_point ON certificates (point_id);
CREATE INDEX certificates_application ON certificates (application_id);
CREATE INDEX certificates_status_not_after ON certificates (status, not_after, not_after_ns);

CREATE TABLE certificate_history (
    serial      TEXT NOT NULL REFERENCES certificates (serial) ON DELETE CASCADE,
    seq         BIGINT NOT NULL,
    at          TIMESTAMPTZ NOT NULL,
    from_status TEXT NOT NULL,
    to_status   TEXT NOT NULL,
    event       TEXT NOT NULL,
    data        JSONB NOT NULL,
    PRIMARY KEY (serial, seq)
);

-- One expiry reminder per certificate per window, across processes.
CREATE TABLE reminders (
    serial     TEXT NOT NULL,
    window_key TEXT NOT NULL,
    claimed_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (serial, window_key)
);

-- The CRL number counter: one row, advanced with UPDATE … RETURNING.
CREATE TABLE crl_counter (
    id   BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (id),
    last BIGINT NOT NULL CHECK (last >= 0)
);
INSERT INTO crl_counter (id, last) VALUES (TRUE, 0);

CREATE TABLE crls (
    number      BIGINT PRIMARY KEY CHECK (number > 0),
    this_update TIMESTAMPTZ NOT NULL,
    next_update TIMESTAMPTZ NOT NULL,
    -- Exact instants (RFC 3339 with nanoseconds).
    data        JSONB NOT NULL,
    der         BYTEA NOT NULL
);

CREATE TABLE ca_material (
    name            TEXT PRIMARY KEY,
    certificate_der BYTEA NOT NULL,
    encrypted_key   BYTEA NOT NULL,
    key_encryption  TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
