-- Invite codes for sign-up (issue #28, `PAN_REGISTRATION=invite`), made by
-- `pan user invite`. The code is shown once and never stored: `code_hash` is
-- the SHA-256 hex of the code (128 random bits, so a fast hash gives nothing
-- away). `uses` counts accounts made with it, never past `max_uses`: a
-- registration takes a use with one conditional UPDATE in the transaction
-- that creates the account, so a refused name gives it back. Times are Unix ms;
-- `expires_at` NULL: never. Not per user: like `logins`, keyed by what is typed.
CREATE TABLE invites (
    code_hash  TEXT    PRIMARY KEY,
    quota      INTEGER NOT NULL,
    max_uses   INTEGER NOT NULL CHECK (max_uses > 0),
    uses       INTEGER NOT NULL DEFAULT 0,
    expires_at INTEGER,
    created_at INTEGER NOT NULL,
    CHECK (uses <= max_uses)
) WITHOUT ROWID;
