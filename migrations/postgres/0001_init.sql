-- 0001_init: organisations, their properties (hotels), rooms, and users with property access.
--
-- PostgreSQL mirror of migrations/sqlite/0001_init.sql: the same tables, columns, constraints and
-- indexes, with one mechanical change, INTEGER PRIMARY KEY -> BIGSERIAL PRIMARY KEY (ids come
-- from sequences, so several bellhop nodes sharing the database never pick the same one). Every
-- other integer is BIGINT (unix-ms timestamps and ids overflow the 32-bit INTEGER). Booleans are
-- 0/1 integers with a CHECK, as in SQLite. Keep the two files in step.
-- Runs inside the migrator's transaction: no BEGIN/COMMIT here.

CREATE TABLE organisations (
    id         BIGSERIAL PRIMARY KEY,
    name       TEXT    NOT NULL,
    created_at BIGINT  NOT NULL
);

CREATE TABLE properties (
    id         BIGSERIAL PRIMARY KEY,
    org_id     BIGINT  NOT NULL REFERENCES organisations (id),
    name       TEXT    NOT NULL,
    address    TEXT    NOT NULL DEFAULT '',
    city       TEXT    NOT NULL DEFAULT '',
    country    TEXT    NOT NULL DEFAULT '',
    timezone   TEXT    NOT NULL DEFAULT '',
    created_at BIGINT  NOT NULL,
    updated_at BIGINT  NOT NULL
);
CREATE INDEX properties_org_id_idx ON properties (org_id);

-- org_id is copied from the property so that every org-scoped query is one indexed lookup.
CREATE TABLE rooms (
    id          BIGSERIAL PRIMARY KEY,
    org_id      BIGINT  NOT NULL REFERENCES organisations (id),
    property_id BIGINT  NOT NULL REFERENCES properties (id),
    number      TEXT    NOT NULL,
    type        TEXT    NOT NULL DEFAULT '',
    status      TEXT    NOT NULL DEFAULT 'available'
                CHECK (status IN ('available', 'occupied', 'cleaning', 'maintenance')),
    floor       BIGINT  NOT NULL DEFAULT 0,
    UNIQUE (property_id, number)
);
-- The UNIQUE constraint's index already serves lookups by property_id.
CREATE INDEX rooms_org_id_idx ON rooms (org_id);

-- role holds the names of auth_role_name() in src/auth/auth.c; keep the two lists in step.
-- all_properties = 1 grants every property of the organisation, and user_properties is unused.
CREATE TABLE users (
    id             BIGSERIAL PRIMARY KEY,
    org_id         BIGINT  NOT NULL REFERENCES organisations (id),
    email          TEXT    NOT NULL UNIQUE,
    name           TEXT    NOT NULL DEFAULT '',
    role           TEXT    NOT NULL
                   CHECK (role IN ('owner', 'admin', 'manager', 'finance', 'front_desk',
                                   'housekeeping', 'staff', 'service')),
    password_hash  TEXT    NOT NULL DEFAULT '',
    all_properties BIGINT  NOT NULL DEFAULT 0 CHECK (all_properties IN (0, 1)),
    created_at     BIGINT  NOT NULL,
    updated_at     BIGINT  NOT NULL
);
CREATE INDEX users_org_id_idx ON users (org_id);

CREATE TABLE user_properties (
    user_id     BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    property_id BIGINT NOT NULL REFERENCES properties (id),
    PRIMARY KEY (user_id, property_id)
);
-- Foreign keys are checked from the parent side too (deleting a property): index the child.
CREATE INDEX user_properties_property_id_idx ON user_properties (property_id);
