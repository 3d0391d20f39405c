-- As SQLite's 0023: per-device WebDAV passwords, stored as the HMAC-SHA256
-- hex of the secret under a key derived from the server's secret, looked up
-- by (user, hash). Revoking deletes the row. Partitioned by user like the
-- other per-user tables (Citus: distributed by user_id, co-located with users).
CREATE TABLE app_passwords (
    user_id      BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    id           TEXT    COLLATE "C" NOT NULL,
    name         TEXT    NOT NULL,
    secret_hash  TEXT    COLLATE "C" NOT NULL,
    created_at   BIGINT  NOT NULL,
    last_used_at BIGINT,
    PRIMARY KEY (user_id, id)
) PARTITION BY HASH (user_id);
CREATE TABLE app_passwords_p0 PARTITION OF app_passwords FOR VALUES WITH (MODULUS 4, REMAINDER 0);
CREATE TABLE app_passwords_p1 PARTITION OF app_passwords FOR VALUES WITH (MODULUS 4, REMAINDER 1);
CREATE TABLE app_passwords_p2 PARTITION OF app_passwords FOR VALUES WITH (MODULUS 4, REMAINDER 2);
CREATE TABLE app_passwords_p3 PARTITION OF app_passwords FOR VALUES WITH (MODULUS 4, REMAINDER 3);
CREATE UNIQUE INDEX app_passwords_secret ON app_passwords (user_id, secret_hash);
