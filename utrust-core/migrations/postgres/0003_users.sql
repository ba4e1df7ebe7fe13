-- utrust PostgreSQL schema, version 3: user accounts, employees, sessions and
-- API tokens, as SQLite version 4.
--
-- Users and employees are documents (`data`, authoritative) with their unique
-- keys in columns: a login per user, one employee record per user. Sessions are
-- keyed by the SHA-256 of the token (never the token); `expires_at` (a
-- microsecond TIMESTAMPTZ) with `expires_at_ns` (the nanoseconds below it, 0–999),
-- both NULL for a token that never expires, serve the sweep of lapsed sessions;
-- the exact value is in `data`.

CREATE TABLE users (
    id       TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    data     JSONB NOT NULL
);

CREATE TABLE employees (
    id      TEXT PRIMARY KEY,
    user_id TEXT NOT NULL UNIQUE,
    data    JSONB NOT NULL
);

CREATE TABLE sessions (
    token_hash    TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL,
    -- session | api_token
    kind          TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    expires_at    TIMESTAMPTZ,
    expires_at_ns INTEGER CHECK (expires_at_ns BETWEEN 0 AND 999),
    data          JSONB NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at, expires_at_ns);
