-- Alerts sent to webhooks: every alert is recorded with each delivery
-- attempt's outcome, so an operator can see what was sent and what failed.
-- Same tables and columns as ../postgres/0003_alerts.sql.

CREATE TABLE alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    -- worker_offline, worker_online or block_found.
    kind TEXT NOT NULL,
    address TEXT NOT NULL,
    worker TEXT NOT NULL,
    url TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    delivered_ms INTEGER,
    last_error TEXT NOT NULL DEFAULT ''
) STRICT;

CREATE INDEX alerts_address ON alerts (address, created_ms);

-- The one webhook a miner set for their address on their page, with a
-- message signed by that address; never shown back on any page.
CREATE TABLE miner_webhooks (
    address TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    updated_ms INTEGER NOT NULL
) STRICT;
