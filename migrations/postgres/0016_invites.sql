-- As SQLite's 0021: invite codes for sign-up, stored as the SHA-256 hex of
-- the code. One table for every user, like `logins` (under Citus a reference
-- table: a registration reads and updates one row by its key). A use is taken
-- by one conditional UPDATE; under READ COMMITTED a concurrent one waits for
-- the row lock and re-checks `uses < max_uses` against the committed row, so
-- an invite is never used past `max_uses`.
CREATE TABLE invites (
    code_hash  TEXT    COLLATE "C" PRIMARY KEY,
    quota      BIGINT  NOT NULL,
    max_uses   BIGINT  NOT NULL CHECK (max_uses > 0),
    uses       BIGINT  NOT NULL DEFAULT 0,
    expires_at BIGINT,
    created_at BIGINT  NOT NULL,
    CHECK (uses <= max_uses)
);
