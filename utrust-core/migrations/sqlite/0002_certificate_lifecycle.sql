-- utrust SQLite schema, version 2: the certificate lifecycle after issuance
-- (status with its reason and time, an optimistic version, a status history),
-- expiry reminders, CRL numbers and published CRLs, shared CA material, and exact
-- instants for the time-range queries.
--
-- Instants that queries compare are kept as two integers, `*_s` (Unix seconds)
-- and `*_ns` (nanoseconds within the second), compared as row values
-- `(s, ns) <= (?, ?)`: exact whatever the offset or precision of the RFC 3339
-- text, which does not sort chronologically. The store fills them for rows
-- written by version 1 right after this script, in the same transaction
-- (`store/sqlite/migrate.rs`).

-- Certificates -----------------------------------------------------------------

-- `status` keeps its name (`valid`, `suspended`, `revoked`, `expired`); the hold
-- time or the revocation reason (RFC 5280 name) and time go alongside.
ALTER TABLE certificates ADD COLUMN status_reason TEXT;
ALTER TABLE certificates ADD COLUMN status_at TEXT;
ALTER TABLE certificates ADD COLUMN version INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1);
ALTER TABLE certificates ADD COLUMN not_after_s INTEGER;
ALTER TABLE certificates ADD COLUMN not_after_ns INTEGER;

-- Version 1 recorded no reason or time for a hold or a revocation: such rows
-- (if any) get `unspecified` and the time of this migration (the change
-- happened at or before it).
UPDATE certificates SET status_reason = 'unspecified'
    WHERE status = 'revoked' AND status_reason IS NULL;
UPDATE certificates SET status_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')
    WHERE status IN ('suspended', 'revoked') AND status_at IS NULL;

CREATE INDEX certificates_status_not_after ON certificates (status, not_after_s, not_after_ns);

CREATE TABLE certificate_history (
    serial      TEXT NOT NULL REFERENCES certificates (serial) ON DELETE CASCADE,
    seq         INTEGER NOT NULL,
    at          TEXT NOT NULL,
    from_status TEXT NOT NULL,
    to_status   TEXT NOT NULL,
    event       TEXT NOT NULL,
    data        TEXT NOT NULL,
    PRIMARY KEY (serial, seq)
);

-- Expiry reminders: one claim per certificate per window, across processes.
CREATE TABLE reminders (
    serial     TEXT NOT NULL,
    "window"   TEXT NOT NULL,
    claimed_at TEXT NOT NULL,
    PRIMARY KEY (serial, "window")
);

-- CRLs ---------------------------------------------------------------------------

-- Named counters, allocated with `UPDATE … SET value = value + 1 RETURNING value`.
CREATE TABLE counters (
    name  TEXT PRIMARY KEY NOT NULL,
    value INTEGER NOT NULL CHECK (value >= 0)
);
INSERT INTO counters (name, value) VALUES ('crl_number', 0);

CREATE TABLE crls (
    number      INTEGER PRIMARY KEY NOT NULL CHECK (number > 0),
    this_update TEXT NOT NULL,
    next_update TEXT NOT NULL,
    der         BLOB NOT NULL
);

-- CA material shared by the server processes (the key is stored encrypted).
CREATE TABLE ca_material (
    name            TEXT PRIMARY KEY NOT NULL,
    certificate_der BLOB NOT NULL,
    encrypted_key   BLOB NOT NULL,
    key_encryption  TEXT NOT NULL,
    created_at      TEXT NOT NULL
);

-- Reservations: the recovery sweep looks up lapsed ones by instant.
ALTER TABLE reservations ADD COLUMN expires_at_s INTEGER;
ALTER TABLE reservations ADD COLUMN expires_at_ns INTEGER;
CREATE INDEX reservations_expires_instant ON reservations (expires_at_s, expires_at_ns);
