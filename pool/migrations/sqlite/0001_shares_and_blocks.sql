-- The share ledger and the blocks found: one row per accepted share.
-- Same tables and columns as ../postgres/0001_shares_and_blocks.sql.
-- Unsigned values (job_id, coinbase_value_sat) are stored as INTEGER (i64);
-- job_id keeps its 64 bits as their two's-complement i64.

CREATE TABLE shares (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    node INTEGER NOT NULL CHECK (node BETWEEN 0 AND 255),
    address TEXT NOT NULL,
    worker TEXT NOT NULL,
    job_id INTEGER NOT NULL,
    difficulty REAL NOT NULL,
    network_difficulty REAL NOT NULL,
    time_ms INTEGER NOT NULL,
    is_block INTEGER NOT NULL CHECK (is_block IN (0, 1)),
    hash BLOB NOT NULL CHECK (length(hash) = 32)
) STRICT;

CREATE INDEX shares_time_ms ON shares (time_ms);
CREATE INDEX shares_address_time_ms ON shares (address, time_ms);

CREATE TABLE blocks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    node INTEGER NOT NULL CHECK (node BETWEEN 0 AND 255),
    height INTEGER NOT NULL CHECK (height >= 0),
    hash TEXT NOT NULL UNIQUE,
    address TEXT NOT NULL,
    worker TEXT NOT NULL,
    coinbase_value_sat INTEGER NOT NULL CHECK (coinbase_value_sat >= 0),
    time_ms INTEGER NOT NULL,
    raw_hex TEXT NOT NULL,
    answers TEXT NOT NULL,
    accepted INTEGER NOT NULL CHECK (accepted IN (0, 1)),
    -- The payout lifecycle: submitted, then confirmed or orphaned.
    status TEXT NOT NULL DEFAULT 'submitted'
) STRICT;

CREATE INDEX blocks_time_ms ON blocks (time_ms);
