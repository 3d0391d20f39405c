-- Each user's pending upload sessions and the bytes they declared, kept as
-- counters in the transactions that open and finish sessions, so a token
-- request need not count every pending session of its user (issue #18: the
-- count and sum grew with the sessions, ~0.5 ms a token). The counters are an
-- upper bound: the sweeper expires sessions without touching them, and the
-- exact count is taken (and the counters set to it) whenever the bound is
-- not enough to decide (UploadSessionRepository.pendingLoad).
ALTER TABLE users ADD COLUMN pending_uploads INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN pending_bytes INTEGER NOT NULL DEFAULT 0;
UPDATE users SET
    pending_uploads = (SELECT COUNT(*) FROM upload_sessions s WHERE s.user_id = users.id AND s.state = 'pending'),
    pending_bytes = (SELECT COALESCE(SUM(s.declared_size), 0) FROM upload_sessions s WHERE s.user_id = users.id AND s.state = 'pending');
