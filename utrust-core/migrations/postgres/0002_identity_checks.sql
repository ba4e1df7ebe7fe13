-- utrust PostgreSQL schema, version 2: durable SMEV identity checks and indexes
-- for the keyset listing of applications.
--
-- A check is keyed by (application, round, kind). `data` holds the whole
-- `IdentityCheck` (authoritative); `state`, the instants and `version` are kept
-- in step with it for the claim query and the version check. Compared instants
-- are a microsecond TIMESTAMPTZ plus the nanoseconds below it (`*_ns`, 0–999),
-- compared as row values, as in version 1.

CREATE TABLE identity_checks (
    application_id     TEXT NOT NULL,
    round              BIGINT NOT NULL CHECK (round >= 0),
    -- passport | snils | inn
    kind               TEXT NOT NULL,
    -- pending | valid | invalid | not_found | error | timeout
    state              TEXT NOT NULL,
    next_attempt_at    TIMESTAMPTZ NOT NULL,
    next_attempt_at_ns INTEGER NOT NULL CHECK (next_attempt_at_ns BETWEEN 0 AND 999),
    -- Both NULL when not leased.
    lease_until        TIMESTAMPTZ,
    lease_until_ns     INTEGER CHECK (lease_until_ns BETWEEN 0 AND 999),
    version            BIGINT NOT NULL CHECK (version >= 0),
    data               JSONB NOT NULL,
    PRIMARY KEY (application_id, round, kind)
);
CREATE INDEX identity_checks_due ON identity_checks (state, next_attempt_at, next_attempt_at_ns);

-- Keyset pagination of applications (`WHERE id > $n ORDER BY id`), optionally
-- filtered by status, point or service.
DROP INDEX applications_point;
DROP INDEX applications_status;
CREATE INDEX applications_point ON applications (point_id, id);
CREATE INDEX applications_status ON applications (status, id);
CREATE INDEX applications_service ON applications (service_id, id);
