-- App passwords (issue #29 §3): per-device passwords for WebDAV only, made
-- and revoked by their owner. The secret (150 random bits) is shown once and
-- never stored: `secret_hash` is its HMAC-SHA256 under a key derived from the
-- server's secret (hex), looked up by (user, hash) on every WebDAV request.
-- Revoking deletes the row. `last_used_at` (Unix ms, NULL: never) is written
-- at most once a minute per app password. At most 50 per user (checked in
-- the transaction that inserts).
CREATE TABLE app_passwords (
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    id           TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    secret_hash  TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    PRIMARY KEY (user_id, id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX app_passwords_secret ON app_passwords (user_id, secret_hash);
