-- utrust SQLite schema, version 1.
--
-- Document style: every entity keeps its serde serialization in `data` (JSON),
-- plus the columns that queries, uniqueness and atomic updates need. Quota
-- counters live only in columns (authoritative; the JSON copies are overwritten
-- on read). Timestamps are RFC 3339 text. Ids are hyphenated lowercase UUIDs.

CREATE TABLE object_identifiers (
    oid  TEXT PRIMARY KEY NOT NULL,
    data TEXT NOT NULL
);

CREATE TABLE products (
    id   TEXT PRIMARY KEY NOT NULL,
    code TEXT NOT NULL UNIQUE,
    data TEXT NOT NULL
);

CREATE TABLE services (
    id   TEXT PRIMARY KEY NOT NULL,
    data TEXT NOT NULL
);

CREATE TABLE organizations (
    id   TEXT PRIMARY KEY NOT NULL,
    data TEXT NOT NULL
);

CREATE TABLE branches (
    id              TEXT PRIMARY KEY NOT NULL,
    organization_id TEXT NOT NULL,
    data            TEXT NOT NULL
);
CREATE INDEX branches_organization ON branches (organization_id);

CREATE TABLE points (
    id              TEXT PRIMARY KEY NOT NULL,
    organization_id TEXT NOT NULL,
    -- -1 = unlimited, else the number of certificates that may be issued.
    limit_allotment INTEGER NOT NULL CHECK (limit_allotment >= -1),
    limit_issued    INTEGER NOT NULL DEFAULT 0 CHECK (limit_issued >= 0),
    limit_reserved  INTEGER NOT NULL DEFAULT 0 CHECK (limit_reserved >= 0),
    data            TEXT NOT NULL
);
CREATE INDEX points_organization ON points (organization_id);

CREATE TABLE point_quantities (
    point_id   TEXT NOT NULL REFERENCES points (id) ON DELETE CASCADE,
    product_id TEXT NOT NULL,
    allotment  INTEGER NOT NULL CHECK (allotment >= -1),
    issued     INTEGER NOT NULL DEFAULT 0 CHECK (issued >= 0),
    reserved   INTEGER NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    PRIMARY KEY (point_id, product_id)
);

CREATE TABLE applications (
    id         TEXT PRIMARY KEY NOT NULL,
    version    INTEGER NOT NULL,
    status     TEXT NOT NULL,
    point_id   TEXT NOT NULL,
    service_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    -- The accepted request, kept out of the JSON.
    csr_der    BLOB,
    data       TEXT NOT NULL
);
CREATE INDEX applications_point ON applications (point_id);
CREATE INDEX applications_status ON applications (status);

CREATE TABLE application_history (
    application_id TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    seq            INTEGER NOT NULL,
    at             TEXT NOT NULL,
    from_status    TEXT NOT NULL,
    to_status      TEXT NOT NULL,
    event          TEXT NOT NULL,
    data           TEXT NOT NULL,
    PRIMARY KEY (application_id, seq)
);

CREATE TABLE reservations (
    id             TEXT PRIMARY KEY NOT NULL,
    application_id TEXT NOT NULL,
    point_id       TEXT NOT NULL,
    -- JSON array of product ids debited.
    products       TEXT NOT NULL,
    expires_at     TEXT NOT NULL
);
CREATE INDEX reservations_expires ON reservations (expires_at);

CREATE TABLE certificates (
    serial         TEXT PRIMARY KEY NOT NULL,
    application_id TEXT NOT NULL,
    point_id       TEXT NOT NULL,
    -- JSON array of product ids.
    products       TEXT NOT NULL,
    applicant_kind TEXT NOT NULL,
    subject        TEXT NOT NULL,
    not_before     TEXT NOT NULL,
    not_after      TEXT NOT NULL,
    status         TEXT NOT NULL,
    der            BLOB NOT NULL
);
CREATE INDEX certificates_point ON certificates (point_id);
CREATE INDEX certificates_application ON certificates (application_id);
