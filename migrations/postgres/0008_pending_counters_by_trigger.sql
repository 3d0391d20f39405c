-- As SQLite's 0013: the per-user pending-session counters kept by triggers
-- (one statement less in each transaction that opens or finishes a session).
-- Expiry leaves them as an upper bound, as before (UploadSessionRepository.pendingLoad).
-- Citus: like nodes_listing (0004), needs citus.enable_unsafe_triggers (README).
CREATE FUNCTION upload_sessions_count_pending() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE users SET pending_uploads = pending_uploads + 1, pending_bytes = pending_bytes + COALESCE(NEW.declared_size, 0)
        WHERE id = NEW.user_id;
    ELSE
        UPDATE users SET pending_uploads = pending_uploads - 1, pending_bytes = pending_bytes - COALESCE(OLD.declared_size, 0)
        WHERE id = OLD.user_id;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER upload_sessions_opened AFTER INSERT ON upload_sessions
FOR EACH ROW EXECUTE FUNCTION upload_sessions_count_pending();

CREATE TRIGGER upload_sessions_closed AFTER UPDATE OF state ON upload_sessions
FOR EACH ROW WHEN (OLD.state = 'pending' AND NEW.state IN ('done', 'failed'))
EXECUTE FUNCTION upload_sessions_count_pending();
