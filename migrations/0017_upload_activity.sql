-- Uploads that end when the user ends them, or when their bytes stop
-- arriving (issue #26).
--
-- `cancelled`: a state of its own (`POST /v1/store/cancel`). Leaving
-- `pending` for it uncounts the session from its user's pending counters, as
-- `done` and `failed` do (0013's trigger, recreated below with it).
--
-- `lapses_at` (ms): when the session lapses unless bytes arrive for it — the
-- grant plus PAN_UPLOAD_IDLE on the local endpoint, pushed forward (at most
-- every ~30 s) while mkblk/bput/form chunks arrive; with an external WCS, no
-- byte reaches Pan, so it is fixed at the grant (PAN_UPLOAD_IDLE_EXTERNAL plus
-- 1 s per 256 KiB declared). The sweeper expires pending sessions past it
-- (UploadSessionRepository.expire). NULL (sessions opened before this
-- migration): only the deadline ends them.
--
-- SQLite cannot change a CHECK constraint in place: the table is rebuilt
-- (https://sqlite.org/lang_altertable.html#otheralter). Nothing references
-- upload_sessions; dropping it drops its indexes and triggers, made again.
CREATE TABLE upload_sessions_rebuilt (
    id              TEXT    PRIMARY KEY,
    user_id         INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    dir_path        TEXT    NOT NULL,
    name            TEXT    NOT NULL,
    conflict        TEXT    NOT NULL CHECK (conflict IN ('fail', 'overwrite', 'rename')),
    declared_size   INTEGER,
    declared_hash   TEXT,
    size_limit      INTEGER NOT NULL,
    bucket          TEXT    NOT NULL,
    object_key      TEXT    NOT NULL UNIQUE,
    deadline        INTEGER NOT NULL,
    state           TEXT    NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'done', 'failed', 'expired', 'cancelled')),
    result_node_id  INTEGER REFERENCES nodes(id) ON DELETE SET NULL,
    result_json     TEXT,
    failure_code    TEXT,
    created         INTEGER NOT NULL,
    completed       INTEGER,
    failure_status  INTEGER,
    failure_message TEXT,
    proof_secret    TEXT,
    proof_ranges    TEXT,
    proof_expires   INTEGER,
    lapses_at       INTEGER
);
INSERT INTO upload_sessions_rebuilt (
    id, user_id, dir_path, name, conflict, declared_size, declared_hash, size_limit, bucket, object_key, deadline, state,
    result_node_id, result_json, failure_code, created, completed, failure_status, failure_message, proof_secret, proof_ranges,
    proof_expires
)
SELECT id, user_id, dir_path, name, conflict, declared_size, declared_hash, size_limit, bucket, object_key, deadline, state,
       result_node_id, result_json, failure_code, created, completed, failure_status, failure_message, proof_secret, proof_ranges,
       proof_expires
FROM upload_sessions;
DROP TABLE upload_sessions;
ALTER TABLE upload_sessions_rebuilt RENAME TO upload_sessions;

CREATE INDEX upload_sessions_state_deadline ON upload_sessions (state, deadline);
CREATE INDEX upload_sessions_user ON upload_sessions (user_id, created);
CREATE INDEX upload_sessions_user_pending ON upload_sessions (user_id, deadline) WHERE state = 'pending';
-- The sweeper's lapsed sessions.
CREATE INDEX upload_sessions_lapse ON upload_sessions (lapses_at) WHERE state = 'pending';

CREATE TRIGGER upload_sessions_opened AFTER INSERT ON upload_sessions
BEGIN
    UPDATE users SET pending_uploads = pending_uploads + 1, pending_bytes = pending_bytes + COALESCE(NEW.declared_size, 0)
    WHERE id = NEW.user_id;
END;

CREATE TRIGGER upload_sessions_closed AFTER UPDATE OF state ON upload_sessions
WHEN OLD.state = 'pending' AND NEW.state IN ('done', 'failed', 'cancelled')
BEGIN
    UPDATE users SET pending_uploads = pending_uploads - 1, pending_bytes = pending_bytes - COALESCE(OLD.declared_size, 0)
    WHERE id = OLD.user_id;
END;
