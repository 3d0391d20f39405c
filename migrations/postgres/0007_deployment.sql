-- As SQLite's 0012: the deployment's identity, one row, whose id the object
-- store's marker file `storage/pan-deployment` must hold (a server whose
-- storage is not the deployment's shared storage refuses to start).
-- A small plain table: under Citus it stays on the coordinator.
CREATE TABLE deployment (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    id TEXT NOT NULL
);
