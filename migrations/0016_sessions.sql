-- Sign-in sessions (issue #26): every login starts one, its session token
-- carries the id (`sid`), and logout ends only it. Every authenticated
-- request checks its session in the statement that reads the user row, so
-- an ended session's tokens are refused at once, by every server.
-- `id` is 32 hex characters from the system CSPRNG. Times are Unix
-- milliseconds. `last_seen_at` is written at most once per few minutes per
-- session, in batches, off the requests (`UserSessionActivity`).
CREATE TABLE sessions (
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    id           TEXT    NOT NULL,
    device       TEXT    NOT NULL,
    address      TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, id)
);
-- A user's sessions by last seen: the list, and the cap's least recently seen.
CREATE INDEX sessions_user_seen ON sessions (user_id, last_seen_at);
-- Across users: the sweeper's sessions not seen for a token lifetime.
CREATE INDEX sessions_seen ON sessions (last_seen_at);
