-- As SQLite's 0016: sign-in sessions, one per login; the session token
-- carries the id (`sid`) and every authenticated request checks the row in
-- the statement that reads (or locks) the user, so an ended session is
-- refused at once by every server. Partitioned by user like the other
-- per-user tables (Citus: distributed by user_id, co-located with users).
CREATE TABLE sessions (
    user_id      BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    id           TEXT    COLLATE "C" NOT NULL,
    device       TEXT    NOT NULL,
    address      TEXT    NOT NULL,
    created_at   BIGINT  NOT NULL,
    last_seen_at BIGINT  NOT NULL,
    PRIMARY KEY (user_id, id)
) PARTITION BY HASH (user_id);
CREATE TABLE sessions_p0 PARTITION OF sessions FOR VALUES WITH (MODULUS 4, REMAINDER 0);
CREATE TABLE sessions_p1 PARTITION OF sessions FOR VALUES WITH (MODULUS 4, REMAINDER 1);
CREATE TABLE sessions_p2 PARTITION OF sessions FOR VALUES WITH (MODULUS 4, REMAINDER 2);
CREATE TABLE sessions_p3 PARTITION OF sessions FOR VALUES WITH (MODULUS 4, REMAINDER 3);
-- A user's sessions by last seen: the list, and the cap's least recently seen.
CREATE INDEX sessions_user_seen ON sessions (user_id, last_seen_at);
-- Across users: the sweeper's sessions not seen for a token lifetime.
CREATE INDEX sessions_seen ON sessions (last_seen_at);
