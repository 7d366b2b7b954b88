//! Ledgers for the audit tests: one built by a real run (a pool on the
//! simnet, simulated miners, payout runs paying through a wallet double),
//! and raw SQL to plant errors in it the way a bug or a hand would.

#![allow(dead_code)] // each test uses its own part

use super::e2e::{regtest_address, wait_until_async, TestPool};
use super::ledger_backend::{Backend, TestDb};
use bitcoin::Network;
use futures::future::BoxFuture;
use miner_sim::{Dialect, MinerConfig, Swarm};
use pool::config::{Config, PayoutMode};
use pool::ledger::accounts::PayoutLine;
use pool::ledger::Ledger;
use pool::payouts::{
    payout_run, CreditSettings, PaymentStatus, RunReport, RunSettings, SimnetChain, Wallet,
    WalletError,
};
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{Connection, FromRow, PgConnection, SqliteConnection};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// ~8.6 M hashes a block: one every few seconds at the miners' 3 MH/s.
const NETWORK_DIFFICULTY: f64 = 0.002;
const HASHRATE: f64 = 1e6;
const BLOCKS: u64 = 2;
const SHARES_EACH: u64 = 10;
const RUN_LIMIT: Duration = Duration::from_secs(120);

// ---- the wallet double -------------------------------------------------------

/// A wallet that keeps what it sent and says each payment is as deep as
/// [`MemoryWallet::bury`] made it (unconfirmed until then).
pub struct MemoryWallet {
    sent: Mutex<Vec<(String, String, Vec<PayoutLine>)>>,
    statuses: Mutex<BTreeMap<String, PaymentStatus>>,
}

impl MemoryWallet {
    pub fn new() -> Arc<MemoryWallet> {
        Arc::new(MemoryWallet {
            sent: Mutex::new(Vec::new()),
            statuses: Mutex::new(BTreeMap::new()),
        })
    }

    /// Every payment sent so far is `confirmations` deep.
    pub fn bury(&self, confirmations: i64) {
        let txids: Vec<String> = self
            .sent
            .lock()
            .unwrap()
            .iter()
            .map(|(_, txid, _)| txid.clone())
            .collect();
        let mut statuses = self.statuses.lock().unwrap();
        for txid in txids {
            statuses.insert(
                txid,
                PaymentStatus {
                    confirmations,
                    ..PaymentStatus::default()
                },
            );
        }
    }

    pub fn transactions(&self) -> usize {
        self.sent.lock().unwrap().len()
    }
}

impl Wallet for MemoryWallet {
    fn find_payments<'a>(
        &'a self,
        comment: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, WalletError>> {
        Box::pin(async move {
            Ok(self
                .sent
                .lock()
                .unwrap()
                .iter()
                .filter(|(sent_comment, _, _)| sent_comment == comment)
                .map(|(_, txid, _)| txid.clone())
                .collect())
        })
    }

    fn payment_status<'a>(
        &'a self,
        txid: &'a str,
    ) -> BoxFuture<'a, Result<Option<PaymentStatus>, WalletError>> {
        Box::pin(async move {
            if let Some(status) = self.statuses.lock().unwrap().get(txid) {
                return Ok(Some(status.clone()));
            }
            let sent = self
                .sent
                .lock()
                .unwrap()
                .iter()
                .any(|(_, id, _)| id == txid);
            Ok(sent.then(PaymentStatus::default))
        })
    }

    fn send_many<'a>(
        &'a self,
        lines: &'a [PayoutLine],
        comment: &'a str,
    ) -> BoxFuture<'a, Result<String, WalletError>> {
        Box::pin(async move {
            let txid = format!("{:064x}", self.transactions() + 1);
            self.sent
                .lock()
                .unwrap()
                .push((comment.to_string(), txid.clone(), lines.to_vec()));
            Ok(txid)
        })
    }
}

// ---- a real run --------------------------------------------------------------

/// What a real run left: its config, its ledger and what it paid.
pub struct RealRun {
    pub config: Config,
    pub ledger: Ledger,
    pub wallet: Arc<MemoryWallet>,
    /// The first payout run: credited, matured, settled and paid.
    pub first: RunReport,
}

/// A pool on the simnet in `mode` writing to `url`, three simulated
/// miners (three firmware dialects, three addresses) until the pool found
/// [`BLOCKS`] blocks; then a payout run credits the blocks, matures those
/// in the chain (maturity 1), settles share credits and pays everyone,
/// and a second run sees the payment buried and confirms it.
pub async fn real_run(url: &str, mode: PayoutMode, label: &str) -> RealRun {
    let pool = TestPool::start(label, |config| {
        config.database.url = url.to_string();
        config.pool.mode = mode;
        config.pool.fee_percent = 1.5;
        config.simnet.difficulty = NETWORK_DIFFICULTY;
        config.stratum.start_difficulty = 0.00003;
        config.stratum.min_difficulty = 0.00001;
        config.stratum.share_interval_secs = 2.0;
    })
    .await;
    let dialects = [Dialect::Cgminer, Dialect::Bitaxe, Dialect::Cpuminer];
    let swarm = Swarm::start(
        dialects
            .iter()
            .enumerate()
            .map(|(index, dialect)| {
                let address = regtest_address(40 + index as u8);
                let mut miner =
                    MinerConfig::new(pool.addr(), format!("{address}.rig{index}"), *dialect);
                miner.hashrate = HASHRATE;
                // ESP-Miner's habit of suggesting 1000 would make every share a block.
                miner.suggest_difficulty = Some(0.0);
                miner.reconnect = false;
                miner
            })
            .collect(),
    );
    wait_until_async(
        "blocks found and shares from every miner",
        RUN_LIMIT,
        || async {
            pool.stats().blocks_accepted >= BLOCKS
                && swarm
                    .counters()
                    .iter()
                    .all(|counters| counters.accepted.load(Ordering::Relaxed) >= SHARES_EACH)
        },
    )
    .await;
    let mined = swarm.stop().await;
    assert_eq!(mined.total.unexpected_rejections, 0, "{:?}", mined.total);
    wait_until_async(
        "every found block recorded",
        Duration::from_secs(10),
        || async {
            let recorded = pool.ledger().blocks().await.expect("read blocks").len() as u64;
            recorded == pool.stats().blocks_found
        },
    )
    .await;
    let source = Arc::clone(&pool.source);
    let config = pool.config.clone();
    pool.shutdown().await;

    let ledger = Ledger::open(url).await.expect("open the ledger");
    let chain = SimnetChain::new(source);
    let wallet = MemoryWallet::new();
    let settings = RunSettings {
        credit: CreditSettings::from_config(&config),
        threshold_sat: 1,
        maturity: 1,
        network: Network::Regtest,
        dry_run: false,
    };
    let first = payout_run(&ledger, &chain, &*wallet, &settings)
        .await
        .expect("the first payout run");
    assert!(
        !first.confirmed_blocks.is_empty(),
        "blocks matured: {}",
        first.summary()
    );
    assert!(first.batch.is_some(), "miners paid: {}", first.summary());
    wallet.bury(6);
    let second = payout_run(&ledger, &chain, &*wallet, &settings)
        .await
        .expect("the second payout run");
    assert_eq!(
        second.confirmed_batches.len(),
        1,
        "the payment is confirmed: {}",
        second.summary()
    );
    RealRun {
        config,
        ledger,
        wallet,
        first,
    }
}

// ---- raw SQL -------------------------------------------------------------------

/// Runs `sql` (one or more statements) on the test's database through a
/// connection of its own, as a hand at a SQL prompt would.
pub async fn execute(db: &TestDb, sql: &str) {
    match db.backend {
        Backend::Sqlite => {
            let mut conn = SqliteConnection::connect(&db.url).await.expect("connect");
            sqlx::raw_sql(sql)
                .execute(&mut conn)
                .await
                .unwrap_or_else(|error| panic!("{sql}: {error}"));
            let _ = conn.close().await;
        }
        Backend::Postgres => {
            let mut conn = PgConnection::connect(&db.url).await.expect("connect");
            sqlx::raw_sql(sql)
                .execute(&mut conn)
                .await
                .unwrap_or_else(|error| panic!("{sql}: {error}"));
            let _ = conn.close().await;
        }
    }
}

/// The rows `sql` returns, decoded alike from either backend.
pub async fn fetch<T>(db: &TestDb, sql: &str) -> Vec<T>
where
    T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin,
{
    match db.backend {
        Backend::Sqlite => {
            let mut conn = SqliteConnection::connect(&db.url).await.expect("connect");
            let rows = sqlx::query_as(sql)
                .fetch_all(&mut conn)
                .await
                .unwrap_or_else(|error| panic!("{sql}: {error}"));
            let _ = conn.close().await;
            rows
        }
        Backend::Postgres => {
            let mut conn = PgConnection::connect(&db.url).await.expect("connect");
            let rows = sqlx::query_as(sql)
                .fetch_all(&mut conn)
                .await
                .unwrap_or_else(|error| panic!("{sql}: {error}"));
            let _ = conn.close().await;
            rows
        }
    }
}

/// The milliseconds since 1970 SQL literals use.
pub fn now_ms() -> i64 {
    pool::clock::unix_millis()
}
