-- utrust SQLite schema, version 4: user accounts, employees, sessions and API
-- tokens, and the keyset listing of the catalog and the agent network.
--
-- Users and employees are documents (`data`, the serde serialization,
-- authoritative) with their unique keys in columns: a login per user, one
-- employee record per user. Sessions are keyed by the SHA-256 of the token (the
-- token itself is never stored); `expires_at_s` / `expires_at_ns` (Unix seconds
-- and nanoseconds, both NULL for a token that never expires) serve the sweep of
-- lapsed sessions, compared as row values as in version 2.

CREATE TABLE users (
    id       TEXT PRIMARY KEY NOT NULL,
    username TEXT NOT NULL UNIQUE,
    data     TEXT NOT NULL
);

CREATE TABLE employees (
    id      TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL UNIQUE,
    data    TEXT NOT NULL
);

CREATE TABLE sessions (
    token_hash    TEXT PRIMARY KEY NOT NULL,
    user_id       TEXT NOT NULL,
    -- session | api_token
    kind          TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    expires_at_s  INTEGER,
    expires_at_ns INTEGER,
    data          TEXT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at_s, expires_at_ns);
