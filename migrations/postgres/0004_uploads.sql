-- PostgreSQL mirror of migrations/sqlite/0004_uploads.sql (BIGSERIAL ids; keep the two in step).
-- 0004_uploads: resumable guest document uploads and the documents they become.
--
-- Same conventions as 0001/0003 (PostgreSQL mirror of migrations/sqlite: BIGSERIAL ids; BIGINT
-- elsewhere; unix-ms timestamps). An upload's id is 32 random hex characters: it names the
-- partial file (<data_dir>/uploads/partial/<id>) and, once complete, the stored document
-- (<data_dir>/documents/<org_id>/<id>). No column ever holds a path. document_number is only
-- ever the masked form (every character but the last four replaced by X).

CREATE TABLE uploads (
    id              TEXT    PRIMARY KEY CHECK (length(id) = 32),
    org_id          BIGINT  NOT NULL REFERENCES organisations (id),
    property_id     BIGINT  NOT NULL REFERENCES properties (id),
    guest_id        BIGINT  NOT NULL REFERENCES guests (id),
    document_type   TEXT    NOT NULL CHECK (document_type IN ('aadhaar', 'passport',
                        'driving_license', 'pan_card', 'election_card', 'visa', 'image', 'csv',
                        'excel')),
    file_name       TEXT    NOT NULL CHECK (file_name <> ''),
    mime_type       TEXT    NOT NULL,
    size            BIGINT  NOT NULL CHECK (size >= 0),
    sha256          TEXT    NOT NULL DEFAULT '', -- declared by the client, '' when not
    document_number TEXT    NOT NULL DEFAULT '',
    protocol        TEXT    NOT NULL CHECK (protocol IN ('ws', 'tus')),
    status          TEXT    NOT NULL DEFAULT 'uploading'
                    CHECK (status IN ('uploading', 'completed')),
    document_id     BIGINT  NULL,
    created_by      BIGINT  NOT NULL,
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL,
    expires_at      BIGINT  NOT NULL
);
-- The expiry sweep, and the per-user count of uploads in progress.
CREATE INDEX uploads_expires_idx ON uploads (expires_at);
CREATE INDEX uploads_creator_idx ON uploads (org_id, created_by, status);

CREATE TABLE guest_documents (
    id              BIGSERIAL PRIMARY KEY,
    org_id          BIGINT  NOT NULL REFERENCES organisations (id),
    property_id     BIGINT  NOT NULL REFERENCES properties (id),
    guest_id        BIGINT  NOT NULL REFERENCES guests (id),
    document_type   TEXT    NOT NULL,
    file_name       TEXT    NOT NULL,
    mime_type       TEXT    NOT NULL, -- detected from the bytes, not declared
    size            BIGINT  NOT NULL,
    sha256          TEXT    NOT NULL CHECK (length(sha256) = 64),
    document_number TEXT    NOT NULL DEFAULT '',
    storage_key     TEXT    NOT NULL UNIQUE, -- the upload id
    created_by      BIGINT  NOT NULL,
    created_at      BIGINT  NOT NULL
);
CREATE INDEX guest_documents_org_guest_idx ON guest_documents (org_id, guest_id);
