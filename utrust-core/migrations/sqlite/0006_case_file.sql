-- utrust SQLite schema, version 6: the application's case file (issue #8).
--
-- One row per uploaded document. `data` holds the whole `CaseDocument`
-- (authoritative, incl. its signature); the columns beside it are kept in step
-- for the queries. The content itself is in the document store, keyed by
-- `sha256`. `seq` orders uploads (upload order, then id).

CREATE TABLE case_documents (
    id             TEXT PRIMARY KEY NOT NULL,
    application_id TEXT NOT NULL,
    seq            INTEGER NOT NULL,
    -- passport | snils | power_of_attorney | application_form | signed_blank | additional
    kind           TEXT NOT NULL,
    sha256         TEXT NOT NULL CHECK (length(sha256) = 64),
    size           INTEGER NOT NULL CHECK (size >= 0),
    signed         INTEGER NOT NULL DEFAULT 0 CHECK (signed IN (0, 1)),
    data           TEXT NOT NULL
);
CREATE INDEX case_documents_application ON case_documents (application_id, seq);
