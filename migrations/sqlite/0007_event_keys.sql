-- 0007_event_keys: the producer's Idempotency-Key of an event (NULL: none), kept with the event
-- so that a publish retried after its answer was lost (even across a restart) is recognised
-- within the history window instead of being stored twice (see docs/PROTOCOL.md, publishing).
ALTER TABLE events ADD COLUMN idem_key TEXT NULL;
