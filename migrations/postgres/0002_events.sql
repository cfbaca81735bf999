-- PostgreSQL mirror of migrations/sqlite/0002_events.sql (BIGSERIAL ids; keep the two in step).
-- 0002_events: the realtime event history (see src/realtime/hub.h).
--
-- A stream is one (organisation, service). streams holds its epoch (changes only when history is
-- lost) and its head, the offset of the newest event ever appended: pruning deletes events but
-- never moves a head backwards, so offsets are never reused.
--
-- There is deliberately no foreign key to organisations: producers publish for an organisation by
-- id, and the history is a log, not part of the domain model.
-- "offset" is quoted everywhere because OFFSET is a reserved word in PostgreSQL.
-- json is TEXT, not a JSON type: it holds the exact bytes subscribers receive, and a JSON column
-- type could normalise them.

CREATE TABLE streams (
    org_id  BIGINT NOT NULL,
    service TEXT   NOT NULL,
    epoch   TEXT   NOT NULL,
    head    BIGINT NOT NULL CHECK (head >= 0),
    PRIMARY KEY (org_id, service)
);

CREATE TABLE events (
    org_id      BIGINT NOT NULL,
    service     TEXT   NOT NULL,
    "offset"    BIGINT NOT NULL CHECK ("offset" > 0),
    property_id BIGINT NULL,
    ts_ms       BIGINT NOT NULL,
    type        TEXT   NOT NULL,
    json        TEXT   NOT NULL,
    PRIMARY KEY (org_id, service, "offset")
);
-- Pruning by age.
CREATE INDEX events_ts_ms_idx ON events (ts_ms);
