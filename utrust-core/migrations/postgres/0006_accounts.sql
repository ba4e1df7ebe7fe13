-- utrust PostgreSQL schema, version 6: head accounts (issue #8), as SQLite
-- version 7.
--
-- A head account is a document (`data`, authoritative) keyed by INN and KPP
-- (empty for persons and sole proprietors, or a legal entity without a known
-- KPP): UNIQUE (inn, kpp) makes find-or-create atomic across processes
-- (INSERT … ON CONFLICT DO NOTHING, then read). `version` is the optimistic
-- concurrency counter of edits.

CREATE TABLE head_accounts (
    id      TEXT PRIMARY KEY,
    inn     TEXT NOT NULL,
    kpp     TEXT NOT NULL DEFAULT '',
    version BIGINT NOT NULL,
    data    JSONB NOT NULL,
    UNIQUE (inn, kpp)
);
