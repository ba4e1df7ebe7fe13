-- utrust SQLite schema, version 5: hardware-token self-service (issue #6).
--
-- Device types, device policies and user profiles are documents keyed by name
-- or user. A policy is assigned per user or group (`target_kind` user|group).
-- Secret answers hold only argon2id hashes, replaced as a whole per user.
-- Devices are documents (`data`, authoritative) with the columns that
-- uniqueness, the optimistic version and the listings need; a serial number is
-- unique among live devices (not withdrawn or destroyed). The crypto-means
-- journal is append-only: triggers refuse every UPDATE and DELETE.

CREATE TABLE device_types (
    name TEXT PRIMARY KEY NOT NULL,
    data TEXT NOT NULL
);

CREATE TABLE device_policies (
    name TEXT PRIMARY KEY NOT NULL,
    data TEXT NOT NULL
);

CREATE TABLE device_policy_assignments (
    -- user | group
    target_kind TEXT NOT NULL,
    target      TEXT NOT NULL,
    policy      TEXT NOT NULL REFERENCES device_policies (name),
    PRIMARY KEY (target_kind, target)
);

CREATE TABLE user_profiles (
    user_id TEXT PRIMARY KEY NOT NULL,
    data    TEXT NOT NULL
);

CREATE TABLE secret_answers (
    user_id  TEXT NOT NULL,
    position INTEGER NOT NULL,
    data     TEXT NOT NULL,
    PRIMARY KEY (user_id, position)
);

CREATE TABLE devices (
    id            TEXT PRIMARY KEY NOT NULL,
    user_id       TEXT,
    serial        TEXT NOT NULL,
    status        TEXT NOT NULL,
    version       INTEGER NOT NULL,
    created_at_s  INTEGER NOT NULL,
    created_at_ns INTEGER NOT NULL,
    data          TEXT NOT NULL
);
CREATE UNIQUE INDEX devices_live_serial ON devices (serial)
    WHERE status NOT IN ('withdrawn', 'destroyed');
CREATE INDEX devices_user ON devices (user_id, created_at_s, created_at_ns);

CREATE TABLE device_journal (
    device_id TEXT NOT NULL REFERENCES devices (id),
    seq       INTEGER NOT NULL,
    kind      TEXT NOT NULL,
    data      TEXT NOT NULL,
    PRIMARY KEY (device_id, seq)
);

CREATE TRIGGER device_journal_no_update BEFORE UPDATE ON device_journal
BEGIN
    SELECT RAISE(ABORT, 'the crypto-means journal is append-only');
END;

CREATE TRIGGER device_journal_no_delete BEFORE DELETE ON device_journal
BEGIN
    SELECT RAISE(ABORT, 'the crypto-means journal is append-only');
END;
