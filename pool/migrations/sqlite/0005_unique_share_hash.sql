-- Every share is counted once: a share is the work its header commits to,
-- so its header hash is unique in the ledger, whichever node or connection
-- submitted it. Older pools credited a share again when a miner replayed it
-- under a reissued job id; this migration moves those later copies to
-- `duplicate_shares` (the first of each stays), takes them out of the
-- per-minute sums, reverses the PPS/FPPS credit of copies already settled
-- into balances (balance move `duplicate_share`, reference `share:<id>`),
-- and adds the unique index. `pool check` shows what it will remove before
-- it runs; `pool audit` accounts for what it did.
-- Same tables and columns as ../postgres/0005_unique_share_hash.sql.

CREATE TABLE duplicate_shares (
    -- The removed row's id in `shares`.
    id INTEGER PRIMARY KEY,
    -- The row with the same hash that stayed (the first recorded).
    kept_id INTEGER NOT NULL,
    node INTEGER NOT NULL,
    address TEXT NOT NULL,
    worker TEXT NOT NULL,
    job_id INTEGER NOT NULL,
    difficulty REAL NOT NULL,
    network_difficulty REAL NOT NULL,
    time_ms INTEGER NOT NULL,
    is_block INTEGER NOT NULL,
    hash BLOB NOT NULL,
    credit_sat INTEGER NOT NULL,
    settled INTEGER NOT NULL,
    removed_ms INTEGER NOT NULL
) STRICT;

CREATE INDEX duplicate_shares_address ON duplicate_shares (address, worker, time_ms);

INSERT INTO duplicate_shares
    (id, kept_id, node, address, worker, job_id, difficulty, network_difficulty, time_ms,
     is_block, hash, credit_sat, settled, removed_ms)
SELECT s.id, k.kept_id, s.node, s.address, s.worker, s.job_id, s.difficulty,
       s.network_difficulty, s.time_ms, s.is_block, s.hash, s.credit_sat, s.settled,
       CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)
FROM shares s
JOIN (SELECT hash, MIN(id) AS kept_id FROM shares GROUP BY hash HAVING COUNT(*) > 1) k
  ON k.hash = s.hash
WHERE s.id <> k.kept_id;

-- The per-minute sums lose the removed copies: rows made only of copies
-- go, the others are reduced and their newest time read again.
DELETE FROM share_minutes
WHERE shares = (
    SELECT COUNT(*) FROM duplicate_shares d
    WHERE d.address = share_minutes.address AND d.worker = share_minutes.worker
      AND d.time_ms >= share_minutes.minute * 60000
      AND d.time_ms < (share_minutes.minute + 1) * 60000);

UPDATE share_minutes SET
    shares = shares - (
        SELECT COUNT(*) FROM duplicate_shares d
        WHERE d.address = share_minutes.address AND d.worker = share_minutes.worker
          AND d.time_ms >= share_minutes.minute * 60000
          AND d.time_ms < (share_minutes.minute + 1) * 60000),
    difficulty = difficulty - (
        SELECT COALESCE(SUM(d.difficulty), 0) FROM duplicate_shares d
        WHERE d.address = share_minutes.address AND d.worker = share_minutes.worker
          AND d.time_ms >= share_minutes.minute * 60000
          AND d.time_ms < (share_minutes.minute + 1) * 60000),
    blocks = blocks - (
        SELECT COALESCE(SUM(d.difficulty / NULLIF(d.network_difficulty, 0)), 0)
        FROM duplicate_shares d
        WHERE d.address = share_minutes.address AND d.worker = share_minutes.worker
          AND d.time_ms >= share_minutes.minute * 60000
          AND d.time_ms < (share_minutes.minute + 1) * 60000),
    last_ms = (
        SELECT MAX(s.time_ms) FROM shares s
        WHERE s.address = share_minutes.address AND s.worker = share_minutes.worker
          AND s.time_ms >= share_minutes.minute * 60000
          AND s.time_ms < (share_minutes.minute + 1) * 60000
          AND s.id NOT IN (SELECT id FROM duplicate_shares))
WHERE EXISTS (
    SELECT 1 FROM duplicate_shares d
    WHERE d.address = share_minutes.address AND d.worker = share_minutes.worker
      AND d.time_ms >= share_minutes.minute * 60000
      AND d.time_ms < (share_minutes.minute + 1) * 60000);

DELETE FROM pool_minutes
WHERE shares = (
    SELECT COUNT(*) FROM duplicate_shares d
    WHERE d.time_ms >= pool_minutes.minute * 60000
      AND d.time_ms < (pool_minutes.minute + 1) * 60000);

UPDATE pool_minutes SET
    shares = shares - (
        SELECT COUNT(*) FROM duplicate_shares d
        WHERE d.time_ms >= pool_minutes.minute * 60000
          AND d.time_ms < (pool_minutes.minute + 1) * 60000),
    difficulty = difficulty - (
        SELECT COALESCE(SUM(d.difficulty), 0) FROM duplicate_shares d
        WHERE d.time_ms >= pool_minutes.minute * 60000
          AND d.time_ms < (pool_minutes.minute + 1) * 60000),
    blocks = blocks - (
        SELECT COALESCE(SUM(d.difficulty / NULLIF(d.network_difficulty, 0)), 0)
        FROM duplicate_shares d
        WHERE d.time_ms >= pool_minutes.minute * 60000
          AND d.time_ms < (pool_minutes.minute + 1) * 60000)
WHERE EXISTS (
    SELECT 1 FROM duplicate_shares d
    WHERE d.time_ms >= pool_minutes.minute * 60000
      AND d.time_ms < (pool_minutes.minute + 1) * 60000);

-- A copy whose credit is already in a balance: take it back out.
INSERT INTO balance_moves (address, amount_sat, kind, reference, time_ms)
SELECT address, -credit_sat, 'duplicate_share', 'share:' || id, removed_ms
FROM duplicate_shares
WHERE settled = 1 AND credit_sat > 0;

DELETE FROM shares WHERE id IN (SELECT id FROM duplicate_shares);

CREATE UNIQUE INDEX shares_hash ON shares (hash);
