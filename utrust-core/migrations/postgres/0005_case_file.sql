-- utrust PostgreSQL schema, version 5: the application's case file (issue #8).
--
-- One row per uploaded document. `data` holds the whole `CaseDocument`
-- (authoritative, incl. its signature); the columns beside it are kept in step
-- for the queries. The content itself is in the document store, keyed by
-- `sha256`. `seq` orders uploads (upload order, then id).

CREATE TABLE case_documents (
    id             TEXT PRIMARY KEY,
    application_id TEXT NOT NULL,
    seq            BIGSERIAL NOT NULL,
    -- passport | snils | power_of_attorney | application_form | signed_blank | additional
    kind           TEXT NOT NULL,
    sha256         TEXT NOT NULL CHECK (length(sha256) = 64),
    size           BIGINT NOT NULL CHECK (size >= 0),
    signed         BOOLEAN NOT NULL DEFAULT FALSE,
    data           JSONB NOT NULL
);
CREATE INDEX case_documents_application ON case_documents (application_id, seq);
