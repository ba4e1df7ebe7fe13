-- utrust SQLite schema, version 7: head accounts (issue #8).
--
-- A head account is a document (`data`, authoritative) keyed by INN and KPP
-- (empty for persons and sole proprietors, or a legal entity without a known
-- KPP): UNIQUE (inn, kpp) makes find-or-create atomic. `version` is the optimistic
-- concurrency counter of edits.

CREATE TABLE head_accounts (
    id      TEXT PRIMARY KEY NOT NULL,
    inn     TEXT NOT NULL,
    kpp     TEXT NOT NULL DEFAULT '',
    version INTEGER NOT NULL,
    data    TEXT NOT NULL,
    UNIQUE (inn, kpp)
);
