-- Payouts: PPS/FPPS credits carried by each share, PPLNS and SOLO credits
-- per block, the balance journal and the payout batches.
-- Same tables and columns as ../sqlite/0002_payouts.sql.
-- Scores are the payout crate's fixed-point u128, stored as decimal text.

-- PPS/FPPS: what the share earned when it was accepted (0 in PPLNS and
-- SOLO); `settled` once a payout run moved it to the balance journal.
ALTER TABLE shares ADD COLUMN credit_sat BIGINT NOT NULL DEFAULT 0;
ALTER TABLE shares ADD COLUMN settled BOOLEAN NOT NULL DEFAULT FALSE;

CREATE INDEX shares_unsettled ON shares (id) WHERE credit_sat > 0 AND NOT settled;

-- The payout mode of the node that found the block, and its lifecycle:
-- status submitted, then confirmed (coinbase maturity) or orphaned.
ALTER TABLE blocks ADD COLUMN mode TEXT NOT NULL DEFAULT 'pplns';
ALTER TABLE blocks ADD COLUMN confirmations BIGINT NOT NULL DEFAULT 0;
ALTER TABLE blocks ADD COLUMN status_ms BIGINT NOT NULL DEFAULT 0;
-- PPLNS window and split, filled once by whichever process credits it.
ALTER TABLE blocks ADD COLUMN credited BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE blocks ADD COLUMN pool_fee_sat BIGINT NOT NULL DEFAULT 0;
ALTER TABLE blocks ADD COLUMN fee_basis_points INTEGER NOT NULL DEFAULT 0;
ALTER TABLE blocks ADD COLUMN window_target TEXT NOT NULL DEFAULT '0';
ALTER TABLE blocks ADD COLUMN window_score TEXT NOT NULL DEFAULT '0';
ALTER TABLE blocks ADD COLUMN window_shares BIGINT NOT NULL DEFAULT 0;
ALTER TABLE blocks ADD COLUMN full_window BOOLEAN NOT NULL DEFAULT FALSE;

CREATE INDEX blocks_status ON blocks (status);

-- One row per miner per block (PPLNS; SOLO records the coinbase payment).
-- state: immature until the block matures, then matured (in the balance
-- journal); reversed if the block is orphaned; coinbase for SOLO.
CREATE TABLE block_credits (
    block_id BIGINT NOT NULL REFERENCES blocks (id),
    address TEXT NOT NULL,
    amount_sat BIGINT NOT NULL CHECK (amount_sat >= 0),
    shares BIGINT NOT NULL CHECK (shares >= 0),
    score TEXT NOT NULL,
    state TEXT NOT NULL,
    PRIMARY KEY (block_id, address)
);

CREATE INDEX block_credits_address ON block_credits (address);

-- Every change of a balance: a balance is the sum of its moves. The unique
-- key makes each move happen once however often a run is repeated.
-- kind: pps (settled share credits), block (a matured block credit),
-- payout (negative, a batch), payout_cancelled (gives a batch back).
CREATE TABLE balance_moves (
    id BIGSERIAL PRIMARY KEY,
    address TEXT NOT NULL,
    amount_sat BIGINT NOT NULL,
    kind TEXT NOT NULL,
    reference TEXT NOT NULL,
    time_ms BIGINT NOT NULL,
    UNIQUE (kind, reference, address)
);

CREATE INDEX balance_moves_address ON balance_moves (address);

-- A payout batch is recorded (and its balances debited) before the wallet
-- is asked to send; its id goes into the wallet transaction's comment.
-- state: pending, then sent (txid known) or cancelled (balances given back).
CREATE TABLE payout_batches (
    id TEXT PRIMARY KEY,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    state TEXT NOT NULL,
    total_sat BIGINT NOT NULL CHECK (total_sat >= 0),
    txid TEXT,
    note TEXT NOT NULL
);

CREATE TABLE payouts (
    batch_id TEXT NOT NULL REFERENCES payout_batches (id),
    address TEXT NOT NULL,
    amount_sat BIGINT NOT NULL CHECK (amount_sat > 0),
    PRIMARY KEY (batch_id, address)
);

CREATE INDEX payouts_address ON payouts (address);
