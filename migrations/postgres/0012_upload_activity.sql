-- As SQLite's 0016 (issue #26): the `cancelled` state (POST /v1/store/cancel),
-- uncounted from the user's pending counters like `done` and `failed`, and
-- `lapses_at`, when a pending session lapses unless bytes arrive for it
-- (PAN_UPLOAD_IDLE; the sweeper expires it). NULL: only the deadline ends it.
ALTER TABLE upload_sessions DROP CONSTRAINT upload_sessions_state_check;
ALTER TABLE upload_sessions ADD CONSTRAINT upload_sessions_state_check
    CHECK (state IN ('pending', 'done', 'failed', 'expired', 'cancelled'));
ALTER TABLE upload_sessions ADD COLUMN lapses_at BIGINT;
-- The sweeper's lapsed sessions.
CREATE INDEX upload_sessions_lapse ON upload_sessions (lapses_at) WHERE state = 'pending';

DROP TRIGGER upload_sessions_closed ON upload_sessions;
CREATE TRIGGER upload_sessions_closed AFTER UPDATE OF state ON upload_sessions
FOR EACH ROW WHEN (OLD.state = 'pending' AND NEW.state IN ('done', 'failed', 'cancelled'))
EXECUTE FUNCTION upload_sessions_count_pending();
