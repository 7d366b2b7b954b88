-- Accepted work per minute, of the whole pool and per address and worker:
-- what the stats pages and the API read for whole minutes, so a page view
-- costs the minutes of its span rather than every share in it (a young
-- pool's round is its whole history). Written in the same transaction as
-- the shares they sum.
-- Same tables and columns as ../sqlite/0004_share_minutes.sql.

CREATE TABLE share_minutes (
    -- time_ms / 60000 of the shares summed.
    minute BIGINT NOT NULL,
    address TEXT NOT NULL,
    worker TEXT NOT NULL,
    shares BIGINT NOT NULL CHECK (shares > 0),
    -- Sum of the shares' difficulties.
    difficulty DOUBLE PRECISION NOT NULL,
    -- Sum of difficulty / network_difficulty: blocks' worth of work.
    blocks DOUBLE PRECISION NOT NULL,
    -- The newest share's time_ms.
    last_ms BIGINT NOT NULL,
    PRIMARY KEY (minute, address, worker)
);

CREATE INDEX share_minutes_address ON share_minutes (address, minute);

INSERT INTO share_minutes (minute, address, worker, shares, difficulty, blocks, last_ms)
SELECT time_ms / 60000, address, worker, COUNT(*), SUM(difficulty),
       SUM(difficulty / network_difficulty), MAX(time_ms)
FROM shares
WHERE time_ms >= 0
GROUP BY time_ms / 60000, address, worker;

CREATE TABLE pool_minutes (
    minute BIGINT PRIMARY KEY,
    shares BIGINT NOT NULL CHECK (shares > 0),
    difficulty DOUBLE PRECISION NOT NULL,
    blocks DOUBLE PRECISION NOT NULL
);

INSERT INTO pool_minutes (minute, shares, difficulty, blocks)
SELECT minute, SUM(shares), SUM(difficulty), SUM(blocks)
FROM share_minutes
GROUP BY minute;
