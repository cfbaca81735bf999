-- PostgreSQL mirror of migrations/sqlite/0003_domain.sql (BIGSERIAL ids; keep the two in step).
-- 0003_domain: the records behind the domain endpoints: revenues, expenses, guests, tasks.
--
-- Same conventions as 0001_init (PostgreSQL mirror of migrations/sqlite: BIGSERIAL ids; BIGINT for
-- every other integer; unix-ms timestamps). org_id is copied from the property so that every
-- org-scoped query is one indexed lookup; the store inserts by selecting from properties, so a
-- row's org_id always matches its property's.
--
-- created_by / decided_by hold the acting token's subject: a user id, or the id a service token
-- names. Service tokens have no users row, so these are not foreign keys. Optional timestamps
-- and references are NULL when unset. Enum CHECKs mirror the name lists in src/store/store.c.

CREATE TABLE revenues (
    id           BIGSERIAL PRIMARY KEY,
    org_id       BIGINT  NOT NULL REFERENCES organisations (id),
    property_id  BIGINT  NOT NULL REFERENCES properties (id),
    amount_cents BIGINT  NOT NULL CHECK (amount_cents > 0),
    currency     TEXT    NOT NULL CHECK (length(currency) = 3 AND currency = upper(currency)),
    source       TEXT    NOT NULL CHECK (source <> ''),
    description  TEXT    NOT NULL DEFAULT '',
    occurred_at  BIGINT  NOT NULL,
    created_by   BIGINT  NOT NULL,
    created_at   BIGINT  NOT NULL
);
CREATE INDEX revenues_org_property_idx ON revenues (org_id, property_id);

CREATE TABLE expenses (
    id           BIGSERIAL PRIMARY KEY,
    org_id       BIGINT  NOT NULL REFERENCES organisations (id),
    property_id  BIGINT  NOT NULL REFERENCES properties (id),
    amount_cents BIGINT  NOT NULL CHECK (amount_cents > 0),
    currency     TEXT    NOT NULL CHECK (length(currency) = 3 AND currency = upper(currency)),
    category     TEXT    NOT NULL CHECK (category <> ''),
    description  TEXT    NOT NULL DEFAULT '',
    status       TEXT    NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'approved', 'rejected')),
    note         TEXT    NOT NULL DEFAULT '',
    decided_by   BIGINT  NULL,
    decided_at   BIGINT  NULL,
    created_by   BIGINT  NOT NULL,
    created_at   BIGINT  NOT NULL,
    updated_at   BIGINT  NOT NULL,
    -- A decision is recorded exactly when the expense has left pending.
    CHECK ((status = 'pending') = (decided_at IS NULL))
);
CREATE INDEX expenses_org_property_idx ON expenses (org_id, property_id);

-- The uploads issue attaches documents to guests: keep this table's id stable and its name.
CREATE TABLE guests (
    id             BIGSERIAL PRIMARY KEY,
    org_id         BIGINT  NOT NULL REFERENCES organisations (id),
    property_id    BIGINT  NOT NULL REFERENCES properties (id),
    name           TEXT    NOT NULL CHECK (name <> ''),
    email          TEXT    NOT NULL DEFAULT '',
    phone          TEXT    NOT NULL DEFAULT '',
    room_number    TEXT    NOT NULL DEFAULT '',
    nights         BIGINT  NULL CHECK (nights BETWEEN 1 AND 365),
    status         TEXT    NOT NULL DEFAULT 'checked_in'
                   CHECK (status IN ('checked_in', 'checked_out')),
    checked_in_at  BIGINT  NOT NULL,
    checked_out_at BIGINT  NULL,
    created_by     BIGINT  NOT NULL,
    created_at     BIGINT  NOT NULL,
    updated_at     BIGINT  NOT NULL,
    CHECK ((status = 'checked_out') = (checked_out_at IS NOT NULL))
);
CREATE INDEX guests_org_property_idx ON guests (org_id, property_id);

CREATE TABLE tasks (
    id          BIGSERIAL PRIMARY KEY,
    org_id      BIGINT  NOT NULL REFERENCES organisations (id),
    property_id BIGINT  NOT NULL REFERENCES properties (id),
    title       TEXT    NOT NULL CHECK (title <> ''),
    description TEXT    NOT NULL DEFAULT '',
    assignee_id BIGINT  NULL REFERENCES users (id),
    priority    TEXT    NOT NULL DEFAULT 'normal'
                CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    status      TEXT    NOT NULL DEFAULT 'open'
                CHECK (status IN ('open', 'in_progress', 'done', 'cancelled')),
    due_at      BIGINT  NULL,
    created_by  BIGINT  NOT NULL,
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL
);
CREATE INDEX tasks_org_property_idx ON tasks (org_id, property_id);
-- Serves ?assigneeId= and the foreign key's parent-side check.
CREATE INDEX tasks_assignee_id_idx ON tasks (assignee_id);
