-- A user's pending upload sessions, counted (and their declared sizes summed)
-- on every token request: the pending-session cap and quota reservation.
CREATE INDEX upload_sessions_user_pending ON upload_sessions (user_id, deadline) WHERE state = 'pending';
