-- Share links (issue #27): a user's file or folder for people without an
-- account, at `/s/<id>`. `id`: 22 base64url characters, 16 random bytes of
-- the system CSPRNG — never derived from the node. A share names its node by
-- id, so it follows renames and moves; whether it is live (node live, owner
-- active, not expired, downloads left) is decided when it is read
-- (`ShareRepository`), so binning turns it off and restoring back on.
-- Deleting the node for good deletes its shares in the same transaction
-- (`TreeMutations.deleteRange`). `password_hash`: PBKDF2 like account
-- passwords, NULL = none; `epoch` goes up when the password changes, and
-- every grant and download link signs it, so old ones stop. Times are Unix ms.
CREATE TABLE shares (
    user_id        INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    id             TEXT    NOT NULL,
    node_id        INTEGER NOT NULL,
    password_hash  TEXT,
    epoch          INTEGER NOT NULL DEFAULT 0,
    expires_at     INTEGER,
    max_downloads  INTEGER,
    allow_download INTEGER NOT NULL DEFAULT 1,
    views          INTEGER NOT NULL DEFAULT 0,
    downloads      INTEGER NOT NULL DEFAULT 0,
    last_access_at INTEGER,
    created_at     INTEGER NOT NULL,
    PRIMARY KEY (user_id, id)
);
-- The public lookup crosses users: the link carries only the id.
CREATE UNIQUE INDEX shares_id ON shares (id);
-- A node's shares (the owner's dialog; deleting the node for good).
CREATE INDEX shares_node ON shares (user_id, node_id);
-- The owner's list, newest first.
CREATE INDEX shares_created ON shares (user_id, created_at);

-- One row per counted download of a share (`GET /s/<id>/f/…?m=d`): the
-- ticket `t` of the address that started it and the bytes served on it since,
-- so a Range continuation (a resume) is not counted again — up to an
-- allowance (`ShareLimits.continuationAllowance`). Rows past `expires_at`
-- (the address's own expiry) are deleted by the next download of the share.
CREATE TABLE share_tickets (
    user_id    INTEGER NOT NULL,
    share_id   TEXT    NOT NULL,
    ticket     TEXT    NOT NULL,
    served     INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, share_id, ticket)
);

-- The name a user shows on their share pages (not their login name, which
-- a public page must never show). NULL: none set.
ALTER TABLE users ADD COLUMN display_name TEXT;
