-- Payouts: PPS/FPPS credits carried by each share, PPLNS and SOLO credits
-- per block, the balance journal and the payout batches.
-- Same tables and columns as ../postgres/0002_payouts.sql.
-- Scores are the payout crate's fixed-point u128, stored as decimal text.

-- PPS/FPPS: what the share earned when it was accepted (0 in PPLNS and
-- SOLO); `settled` once a payout run moved it to the balance journal.
ALTER TABLE shares ADD COLUMN credit_sat INTEGER NOT NULL DEFAULT 0;
ALTER TABLE shares ADD COLUMN settled INTEGER NOT NULL DEFAULT 0 CHECK (settled IN (0, 1));

CREATE INDEX shares_unsettled ON shares (id) WHERE credit_sat > 0 AND settled = 0;

-- The payout mode of the node that found the block, and its lifecycle:
-- status submitted, then confirmed (coinbase maturity) or orphaned.
ALTER TABLE blocks ADD COLUMN mode TEXT NOT NULL DEFAULT 'pplns';
ALTER TABLE blocks ADD COLUMN confirmations INTEGER NOT NULL DEFAULT 0;
ALTER TABLE blocks ADD COLUMN status_ms INTEGER NOT NULL DEFAULT 0;
-- PPLNS window and split, filled once by whichever process credits it.
ALTER TABLE blocks ADD COLUMN credited INTEGER NOT NULL DEFAULT 0 CHECK (credited IN (0, 1));
ALTER TABLE blocks ADD COLUMN pool_fee_sat INTEGER NOT NULL DEFAULT 0;
ALTER TABLE blocks ADD COLUMN fee_basis_points INTEGER NOT NULL DEFAULT 0;
ALTER TABLE blocks ADD COLUMN window_target TEXT NOT NULL DEFAULT '0';
ALTER TABLE blocks ADD COLUMN window_score TEXT NOT NULL DEFAULT '0';
ALTER TABLE blocks ADD COLUMN window_shares INTEGER NOT NULL DEFAULT 0;
ALTER TABLE blocks ADD COLUMN full_window INTEGER NOT NULL DEFAULT 0 CHECK (full_window IN (0, 1));

CREATE INDEX blocks_status ON blocks (status);

-- One row per miner per block (PPLNS; SOLO records the coinbase payment).
-- state: immature until the block matures, then matured (in the balance
-- journal); reversed if the block is orphaned; coinbase for SOLO.
CREATE TABLE block_credits (
    block_id INTEGER NOT NULL REFERENCES blocks (id),
    address TEXT NOT NULL,
    amount_sat INTEGER NOT NULL CHECK (amount_sat >= 0),
    shares INTEGER NOT NULL CHECK (shares >= 0),
    score TEXT NOT NULL,
    state TEXT NOT NULL,
    PRIMARY KEY (block_id, address)
) STRICT;

CREATE INDEX block_credits_address ON block_credits (address);

-- Every change of a balance: a balance is the sum of its moves. The unique
-- key makes each move happen once however often a run is repeated.
-- kind: pps (settled share credits), block (a matured block credit),
-- payout (negative, a batch), payout_cancelled (gives a batch back).
CREATE TABLE balance_moves (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    address TEXT NOT NULL,
    amount_sat INTEGER NOT NULL,
    kind TEXT NOT NULL,
    reference TEXT NOT NULL,
    time_ms INTEGER NOT NULL,
    UNIQUE (kind, reference, address)
) STRICT;

CREATE INDEX balance_moves_address ON balance_moves (address);

-- A payout batch is recorded (and its balances debited) before the wallet
-- is asked to send; its id goes into the wallet transaction's comment.
-- state: pending, then sent (txid known) or cancelled (balances given back).
CREATE TABLE payout_batches (
    id TEXT PRIMARY KEY,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    state TEXT NOT NULL,
    total_sat INTEGER NOT NULL CHECK (total_sat >= 0),
    txid TEXT,
    note TEXT NOT NULL
) STRICT;

CREATE TABLE payouts (
    batch_id TEXT NOT NULL REFERENCES payout_batches (id),
    address TEXT NOT NULL,
    amount_sat INTEGER NOT NULL CHECK (amount_sat > 0),
    PRIMARY KEY (batch_id, address)
) STRICT;

CREATE INDEX payouts_address ON payouts (address);
