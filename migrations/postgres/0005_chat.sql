-- PostgreSQL mirror of migrations/sqlite/0005_chat.sql (BIGSERIAL ids; keep the two in step).
-- 0005_chat: collaboration chat: rooms, their messages, and each member's read position (see
-- src/store/chat.h and the "Collaboration" section of docs/PROTOCOL.md).
--
-- Same conventions as 0001_init (PostgreSQL mirror of migrations/sqlite: BIGSERIAL ids; BIGINT for
-- every other integer; unix-ms timestamps). The names carry a chat_ prefix because "rooms" are
-- the hotel's rooms (0001_init).
--
-- A room row is created when someone first joins it. key is the room's name within its
-- organisation ("org", "property-3", "task-12", "dm-2-9"); property_id is the property access a
-- property or task room needs (for a task, its property when the room was created).
CREATE TABLE chat_rooms (
    id          BIGSERIAL PRIMARY KEY,
    org_id      BIGINT  NOT NULL REFERENCES organisations (id),
    key         TEXT    NOT NULL CHECK (key <> ''),
    kind        TEXT    NOT NULL CHECK (kind IN ('org', 'property', 'task', 'dm')),
    property_id BIGINT  NULL,
    task_id     BIGINT  NULL,
    created_at  BIGINT  NOT NULL,
    UNIQUE (org_id, key)
);

-- Message ids order a room: the chat writer assigns them in commit order, one transaction at a
-- time, and messages are never deleted as rows (a delete blanks the text and sets deleted_at),
-- so ids are never reused. user_id is the token's subject; service tokens have no users row, so
-- it is not a foreign key, and user_name keeps the name the message was sent under.
-- A retried client_msg_id must find the original message: hence the UNIQUE constraint, whose
-- index also serves that lookup.
CREATE TABLE chat_messages (
    id            BIGSERIAL PRIMARY KEY,
    room_id       BIGINT  NOT NULL REFERENCES chat_rooms (id),
    user_id       BIGINT  NOT NULL,
    user_name     TEXT    NOT NULL DEFAULT '',
    client_msg_id TEXT    NOT NULL CHECK (client_msg_id <> ''),
    text          TEXT    NOT NULL,
    created_at    BIGINT  NOT NULL,
    edited_at     BIGINT  NULL,
    deleted_at    BIGINT  NULL,
    deleted_by    BIGINT  NULL,
    UNIQUE (room_id, user_id, client_msg_id),
    CHECK ((deleted_at IS NULL) = (deleted_by IS NULL))
);
-- History pages and unread counts walk a room's messages by id.
CREATE INDEX chat_messages_room_id_idx ON chat_messages (room_id, id);

-- One row per member of a room: a user becomes a member by joining (both parties of a direct
-- room at once). last_read_id only moves forwards.
CREATE TABLE chat_reads (
    room_id      BIGINT NOT NULL REFERENCES chat_rooms (id),
    user_id      BIGINT NOT NULL,
    last_read_id BIGINT NOT NULL DEFAULT 0 CHECK (last_read_id >= 0),
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (room_id, user_id)
);
-- A user's rooms (GET /v2/collaboration/rooms).
CREATE INDEX chat_reads_user_id_idx ON chat_reads (user_id);
