-- The share ledger and the blocks found: one row per accepted share.
-- Same tables and columns as ../sqlite/0001_shares_and_blocks.sql.
-- Several pool nodes write here at once: ids come from the database.
-- job_id keeps its 64 bits as their two's-complement BIGINT.

CREATE TABLE shares (
    id BIGSERIAL PRIMARY KEY,
    node INTEGER NOT NULL CHECK (node BETWEEN 0 AND 255),
    address TEXT NOT NULL,
    worker TEXT NOT NULL,
    job_id BIGINT NOT NULL,
    difficulty DOUBLE PRECISION NOT NULL,
    network_difficulty DOUBLE PRECISION NOT NULL,
    time_ms BIGINT NOT NULL,
    is_block BOOLEAN NOT NULL,
    hash BYTEA NOT NULL CHECK (length(hash) = 32)
);

CREATE INDEX shares_time_ms ON shares (time_ms);
CREATE INDEX shares_address_time_ms ON shares (address, time_ms);

CREATE TABLE blocks (
    id BIGSERIAL PRIMARY KEY,
    node INTEGER NOT NULL CHECK (node BETWEEN 0 AND 255),
    height BIGINT NOT NULL CHECK (height >= 0),
    hash TEXT NOT NULL UNIQUE,
    address TEXT NOT NULL,
    worker TEXT NOT NULL,
    coinbase_value_sat BIGINT NOT NULL CHECK (coinbase_value_sat >= 0),
    time_ms BIGINT NOT NULL,
    raw_hex TEXT NOT NULL,
    answers TEXT NOT NULL,
    accepted BOOLEAN NOT NULL,
    -- The payout lifecycle: submitted, then confirmed or orphaned.
    status TEXT NOT NULL DEFAULT 'submitted'
);

CREATE INDEX blocks_time_ms ON blocks (time_ms);
