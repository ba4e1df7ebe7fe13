-- utrust PostgreSQL schema, version 4: hardware-token self-service (issue #6),
-- as SQLite version 5.
--
-- Device types, device policies and user profiles are documents keyed by name
-- or user. A policy is assigned per user or group (`target_kind` user|group).
-- Secret answers hold only argon2id hashes, replaced as a whole per user.
-- Devices are documents (`data`, authoritative) with the columns that
-- uniqueness, the optimistic version and the listings need; a serial number is
-- unique among live devices (not withdrawn or destroyed), decided by a partial
-- UNIQUE index across processes. The crypto-means journal is append-only: a
-- trigger refuses every UPDATE and DELETE.

CREATE TABLE device_types (
    name TEXT PRIMARY KEY,
    data JSONB NOT NULL
);

CREATE TABLE device_policies (
    name TEXT PRIMARY KEY,
    data JSONB NOT NULL
);

CREATE TABLE device_policy_assignments (
    -- user | group
    target_kind TEXT NOT NULL CHECK (target_kind IN ('user', 'group')),
    target      TEXT NOT NULL,
    policy      TEXT NOT NULL REFERENCES device_policies (name),
    PRIMARY KEY (target_kind, target)
);

CREATE TABLE user_profiles (
    user_id TEXT PRIMARY KEY,
    data    JSONB NOT NULL
);

CREATE TABLE secret_answers (
    user_id  TEXT NOT NULL,
    position INTEGER NOT NULL,
    data     JSONB NOT NULL,
    PRIMARY KEY (user_id, position)
);

CREATE TABLE devices (
    id         TEXT PRIMARY KEY,
    seq        BIGSERIAL NOT NULL,
    user_id    TEXT,
    serial     TEXT NOT NULL,
    status     TEXT NOT NULL,
    version    BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    data       JSONB NOT NULL
);
CREATE UNIQUE INDEX devices_live_serial ON devices (serial)
    WHERE status NOT IN ('withdrawn', 'destroyed');
CREATE INDEX devices_user ON devices (user_id, created_at, seq);

CREATE TABLE device_journal (
    device_id TEXT NOT NULL REFERENCES devices (id),
    seq       INTEGER NOT NULL,
    kind      TEXT NOT NULL,
    data      JSONB NOT NULL,
    PRIMARY KEY (device_id, seq)
);

CREATE FUNCTION device_journal_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the crypto-means journal is append-only';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER device_journal_append_only BEFORE UPDATE OR DELETE ON device_journal
    FOR EACH ROW EXECUTE FUNCTION device_journal_append_only();
