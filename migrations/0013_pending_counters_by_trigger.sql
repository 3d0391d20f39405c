-- The per-user counters of pending upload sessions (0008) kept by triggers
-- instead of a second UPDATE in each transaction that opens or finishes a
-- session (issue #25: fewer statements per request). Opening counts the
-- session; ending it as done or failed uncounts it. Expiry (the sweeper's
-- bulk UPDATE, a late callback) still leaves them as an upper bound, as
-- before: a bulk expiry taking every user's row lock would wait on (and
-- deadlock with) the users' own transactions. `pendingLoad` recounts when
-- the bound is not enough.
CREATE TRIGGER upload_sessions_opened AFTER INSERT ON upload_sessions
BEGIN
    UPDATE users SET pending_uploads = pending_uploads + 1, pending_bytes = pending_bytes + COALESCE(NEW.declared_size, 0)
    WHERE id = NEW.user_id;
END;

CREATE TRIGGER upload_sessions_closed AFTER UPDATE OF state ON upload_sessions
WHEN OLD.state = 'pending' AND NEW.state IN ('done', 'failed')
BEGIN
    UPDATE users SET pending_uploads = pending_uploads - 1, pending_bytes = pending_bytes - COALESCE(OLD.declared_size, 0)
    WHERE id = OLD.user_id;
END;
