-- As SQLite's 0019: share links, their download tickets, and users' display
-- names. Partitioned by user like the other per-user tables. The public
-- lookup by id crosses users (the link carries only the id), like download
-- links, so `shares_id` is an index over every partition, not unique (a
-- partitioned table's unique keys must hold user_id): 128 random bits keep
-- ids apart, and the insert checks. Under Citus that lookup is a fan-out
-- query to every shard (README, "Distributing with Citus").
CREATE TABLE shares (
    user_id        BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    id             TEXT    COLLATE "C" NOT NULL,
    node_id        BIGINT  NOT NULL,
    password_hash  TEXT,
    epoch          BIGINT  NOT NULL DEFAULT 0,
    expires_at     BIGINT,
    max_downloads  BIGINT,
    allow_download INTEGER NOT NULL DEFAULT 1,
    views          BIGINT  NOT NULL DEFAULT 0,
    downloads      BIGINT  NOT NULL DEFAULT 0,
    last_access_at BIGINT,
    created_at     BIGINT  NOT NULL,
    PRIMARY KEY (user_id, id)
) PARTITION BY HASH (user_id);
CREATE TABLE shares_p0 PARTITION OF shares FOR VALUES WITH (MODULUS 4, REMAINDER 0);
CREATE TABLE shares_p1 PARTITION OF shares FOR VALUES WITH (MODULUS 4, REMAINDER 1);
CREATE TABLE shares_p2 PARTITION OF shares FOR VALUES WITH (MODULUS 4, REMAINDER 2);
CREATE TABLE shares_p3 PARTITION OF shares FOR VALUES WITH (MODULUS 4, REMAINDER 3);
CREATE INDEX shares_id ON shares (id);
CREATE INDEX shares_node ON shares (user_id, node_id);
CREATE INDEX shares_created ON shares (user_id, created_at);

CREATE TABLE share_tickets (
    user_id    BIGINT NOT NULL,
    share_id   TEXT   COLLATE "C" NOT NULL,
    ticket     TEXT   COLLATE "C" NOT NULL,
    served     BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, share_id, ticket)
) PARTITION BY HASH (user_id);
CREATE TABLE share_tickets_p0 PARTITION OF share_tickets FOR VALUES WITH (MODULUS 4, REMAINDER 0);
CREATE TABLE share_tickets_p1 PARTITION OF share_tickets FOR VALUES WITH (MODULUS 4, REMAINDER 1);
CREATE TABLE share_tickets_p2 PARTITION OF share_tickets FOR VALUES WITH (MODULUS 4, REMAINDER 2);
CREATE TABLE share_tickets_p3 PARTITION OF share_tickets FOR VALUES WITH (MODULUS 4, REMAINDER 3);

ALTER TABLE users ADD COLUMN display_name TEXT;
