-- As SQLite's 0008: per-user counters of pending upload sessions and their
-- declared bytes, an upper bound kept by the transactions that open and
-- finish sessions (UploadSessionRepository.pendingLoad).
ALTER TABLE users ADD COLUMN pending_uploads BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN pending_bytes BIGINT NOT NULL DEFAULT 0;
UPDATE users SET
    pending_uploads = (SELECT COUNT(*) FROM upload_sessions s WHERE s.user_id = users.id AND s.state = 'pending'),
    pending_bytes = (SELECT COALESCE(SUM(s.declared_size), 0) FROM upload_sessions s WHERE s.user_id = users.id AND s.state = 'pending');
