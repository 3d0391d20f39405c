-- The deployment's identity: one row, made by the first server that starts
-- with Pan's own upload endpoint, whose id is also written to the marker
-- file `storage/pan-deployment` of the object store. Every later start
-- compares the two and refuses a storage that is not this deployment's (a
-- server on another machine with a data directory of its own would
-- acknowledge uploads whose bytes the other servers cannot see).
-- `one` keeps it to one row: concurrent first starts insert with
-- ON CONFLICT DO NOTHING and all read the winner's id.
CREATE TABLE deployment (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    id TEXT NOT NULL
);
