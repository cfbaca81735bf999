-- PostgreSQL mirror of migrations/sqlite/0006_flags.sql (BIGSERIAL ids; keep the two in step).
-- Feature flags changed at run time (environment variables give the starting values), and the
-- audit trail of every change: who, when, from what, to what.
CREATE TABLE feature_flags (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,            -- JSON
    updated_by BIGINT NOT NULL,     -- user id (token sub)
    updated_at BIGINT NOT NULL      -- unix ms
);

CREATE TABLE feature_flag_changes (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    old_value TEXT,                 -- JSON, NULL when the flag had no stored value
    new_value TEXT NOT NULL,        -- JSON
    changed_by BIGINT NOT NULL,
    changed_by_org BIGINT NOT NULL,
    changed_by_role TEXT NOT NULL,
    changed_at BIGINT NOT NULL
);
CREATE INDEX feature_flag_changes_at ON feature_flag_changes (changed_at);
