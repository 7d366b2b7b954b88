//! Crediting, the block lifecycle and the payout run, against real
//! databases (SQLite always, PostgreSQL when `POOL_TEST_POSTGRES_URL` is
//! set) and a real simulated chain. The wallet is a test double here (a
//! real wallet needs bitcoind: see `payout_bitcoind.rs`); it can stop a
//! run at the two dangerous moments, before and after sending.

#[allow(dead_code)] // its write-blocking helpers are the ledger tests'
#[path = "support/ledger_backend.rs"]
mod ledger_backend;

use bitcoin::{Address, Network, ScriptBuf};
use futures::future::BoxFuture;
use ledger_backend::TestDb;
use payout::{Fee, Score};
use pool::config::{PayoutMode, SimnetConfig};
use pool::ledger::accounts::{BatchState, CreditState, PayoutLine};
use pool::ledger::{BlockStatus, Ledger, NewBlock, NewShare};
use pool::payouts::{
    credit_block, payout_run, CreditSettings, PaymentStatus, RunError, RunReport, RunSettings,
    SimnetChain, Wallet, WalletError, PAYMENT_DEPTH,
};
use pool::template::simnet::{Simnet, SimnetSource};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

ledger_backend::on_both_backends!(
    pplns_block_is_split_over_both_nodes_shares_exactly,
    matured_block_releases_credits_and_orphaned_block_reverses_them,
    an_orphaned_block_back_in_the_best_chain_gets_its_credits_back,
    solo_and_pps_blocks_are_recorded_not_split,
    pps_credits_are_settled_and_paid_once,
    run_killed_after_recording_before_sending_pays_once,
    run_killed_after_sending_before_the_txid_pays_once,
    wallet_refusal_gives_the_balances_back,
    a_second_concurrent_run_is_refused,
    dry_run_changes_nothing,
    below_threshold_and_invalid_addresses_wait,
    explanation_says_how_a_credit_was_computed,
    operator_position_compares_credits_with_blocks,
    sent_batches_follow_fee_bumps_and_settle_or_reverse_once,
);

// ---- fixtures ----------------------------------------------------------------

fn address(tag: u8) -> String {
    let script = ScriptBuf::from_bytes(vec![0x01, tag, 0x75, 0x51]);
    Address::p2wsh(&script, Network::Regtest).to_string()
}

const T0: i64 = 1_750_000_000_000;

fn share(node: u8, n: u64, address: &str, difficulty: f64, network_difficulty: f64) -> NewShare {
    let mut hash = [0u8; 32];
    hash[..8].copy_from_slice(&n.to_le_bytes());
    hash[30] = node;
    hash[31] = 0xee;
    NewShare {
        node,
        address: address.to_string(),
        worker: "rig".to_string(),
        job_id: n,
        difficulty,
        network_difficulty,
        time_ms: T0 + n as i64,
        is_block: false,
        hash,
        credit_sat: 0,
    }
}

fn found_block(
    hash: String,
    height: u32,
    value: u64,
    mode: PayoutMode,
    finder: &str,
    time_ms: i64,
) -> NewBlock {
    NewBlock {
        node: 1,
        height,
        hash,
        address: finder.to_string(),
        worker: "rig".to_string(),
        coinbase_value_sat: value,
        time_ms,
        raw_hex: "00".to_string(),
        answers: "[]".to_string(),
        accepted: true,
        mode,
    }
}

fn credit_settings(mode: PayoutMode, fee_bp: u32, window_factor: f64) -> CreditSettings {
    CreditSettings {
        mode,
        fee: Fee::from_basis_points(fee_bp).unwrap(),
        window: Score::from_blocks(window_factor).unwrap(),
    }
}

fn run_settings(mode: PayoutMode, threshold_sat: u64) -> RunSettings {
    RunSettings {
        credit: credit_settings(mode, 100, 2.0),
        threshold_sat,
        maturity: 100,
        network: Network::Regtest,
        dry_run: false,
    }
}

/// A simulated regtest chain (real blocks, real reorgs), at regtest's own
/// difficulty so blocks are found in a few hashes.
fn chain() -> (Arc<SimnetSource>, SimnetChain) {
    let simnet = Simnet::new(&SimnetConfig {
        difficulty: 4.66e-10,
        transactions: 2,
    });
    let source = Arc::new(SimnetSource::from_simnet(simnet, None));
    let chain = SimnetChain::new(Arc::clone(&source));
    (source, chain)
}

fn pool_script() -> ScriptBuf {
    let script = ScriptBuf::from_bytes(vec![0x01, 200, 0x75, 0x51]);
    Address::p2wsh(&script, Network::Regtest).script_pubkey()
}

/// Mines `count` blocks on the simnet's tip; the hashes.
fn mine(source: &SimnetSource, count: usize) -> Vec<bitcoin::BlockHash> {
    (0..count)
        .map(|_| source.with_simnet(|simnet| simnet.generate(&pool_script()).expect("mine")))
        .collect()
}

async fn open(db: &TestDb) -> Ledger {
    Ledger::open(&db.url).await.expect("open the ledger")
}

/// PPS shares worth `amounts` to each address (one share each, each its
/// own work: the ledger refuses a header hash twice).
async fn give_pps_credits(ledger: &Ledger, amounts: &[(String, u64)]) {
    static GIVEN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    for (n, (address, amount)) in amounts.iter().enumerate() {
        let mut share = share(1, 10_000 + n as u64, address, 1.0, 1.0);
        let unique = GIVEN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        share.hash[8..16].copy_from_slice(&unique.to_le_bytes());
        ledger
            .record_share(NewShare {
                credit_sat: *amount,
                ..share
            })
            .await
            .unwrap();
    }
}

// ---- the wallet double ----------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StopAt {
    Nowhere,
    /// The run is stopped while sendmany has not happened.
    BeforeSending,
    /// The run is stopped after sendmany, before the txid is recorded.
    AfterSending,
}

/// A wallet that keeps what it sent. It can hang at a chosen point (the
/// test then aborts the run: as a kill -9, every step so far committed,
/// nothing after) or refuse.
struct MemoryWallet {
    sent: Mutex<Vec<(String, String, Vec<PayoutLine>)>>,
    stop_at: Mutex<StopAt>,
    refuse: Mutex<Option<String>>,
    reached: Notify,
    /// What `payment_status` says of a txid (a sent one without an entry:
    /// unconfirmed).
    statuses: Mutex<BTreeMap<String, PaymentStatus>>,
}

impl MemoryWallet {
    fn new() -> Arc<MemoryWallet> {
        Arc::new(MemoryWallet {
            sent: Mutex::new(Vec::new()),
            stop_at: Mutex::new(StopAt::Nowhere),
            refuse: Mutex::new(None),
            reached: Notify::new(),
            statuses: Mutex::new(BTreeMap::new()),
        })
    }

    /// Total sent to each address over every transaction.
    fn paid(&self) -> BTreeMap<String, u64> {
        let mut paid = BTreeMap::new();
        for (_, _, lines) in self.sent.lock().unwrap().iter() {
            for line in lines {
                *paid.entry(line.address.clone()).or_default() += line.amount_sat;
            }
        }
        paid
    }

    fn transactions(&self) -> usize {
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
            let stop_at = *self.stop_at.lock().unwrap();
            if stop_at == StopAt::BeforeSending {
                self.reached.notify_one();
                std::future::pending::<()>().await;
            }
            if let Some(reason) = self.refuse.lock().unwrap().clone() {
                return Err(WalletError::Refused(reason));
            }
            let txid = format!("{:064x}", self.transactions() + 1);
            self.sent
                .lock()
                .unwrap()
                .push((comment.to_string(), txid.clone(), lines.to_vec()));
            if stop_at == StopAt::AfterSending {
                self.reached.notify_one();
                std::future::pending::<()>().await;
            }
            Ok(txid)
        })
    }
}

/// Runs a payout, retrying while the lock of an aborted run is still
/// being released (PostgreSQL frees it when it notices the disconnect).
async fn run_once(
    ledger: &Ledger,
    chain: &SimnetChain,
    wallet: &MemoryWallet,
    settings: &RunSettings,
) -> Result<RunReport, RunError> {
    for _ in 0..200 {
        match payout_run(ledger, chain, wallet, settings).await {
            Err(RunError::Busy) => tokio::time::sleep(Duration::from_millis(50)).await,
            other => return other,
        }
    }
    panic!("the payout lock was never released");
}

/// Starts a run that the wallet stops at `stop_at`, then aborts it there.
async fn run_and_kill(
    ledger: &Ledger,
    chain: &SimnetChain,
    wallet: &Arc<MemoryWallet>,
    settings: &RunSettings,
    stop_at: StopAt,
) {
    *wallet.stop_at.lock().unwrap() = stop_at;
    let reached = wallet.reached.notified();
    let task = {
        let (ledger, chain, wallet, settings) = (
            ledger.clone(),
            chain.clone(),
            Arc::clone(wallet),
            settings.clone(),
        );
        tokio::spawn(async move { payout_run(&ledger, &chain, &*wallet, &settings).await })
    };
    tokio::time::timeout(Duration::from_secs(30), reached)
        .await
        .expect("the run reached the wallet");
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    *wallet.stop_at.lock().unwrap() = StopAt::Nowhere;
}

/// Whether every balance is zero: everything owed was paid.
async fn all_paid(ledger: &Ledger) -> bool {
    balances(ledger).await.values().all(|&balance| balance == 0)
}

async fn balances(ledger: &Ledger) -> BTreeMap<String, i64> {
    ledger
        .balances()
        .await
        .unwrap()
        .into_iter()
        .map(|balance| (balance.address, balance.balance_sat))
        .collect()
}

// ---- crediting ---------------------------------------------------------------

async fn pplns_block_is_split_over_both_nodes_shares_exactly(db: TestDb) {
    let ledger = open(&db).await;
    // Network difficulty 64, window factor 2: the window is 128 of
    // difficulty. Older shares of a third miner fall outside it.
    let (a, b, c) = (address(1), address(2), address(3));
    for n in 0..10 {
        ledger
            .record_share(share(1, n, &c, 50.0, 64.0))
            .await
            .unwrap();
    }
    // Newer: shares of 12 from node 1 (miner a) interleaved with shares of
    // 4 from node 2 (miner b), 320 of difficulty in all. Scores are exact
    // binary fractions (3/16 and 1/16), so the window is exactly the
    // newest 8 pairs: a has 96 of 128 (75 %), b 32 (25 %).
    for n in 10..50 {
        let (node, miner, difficulty) = if n % 2 == 0 {
            (1, &a, 12.0)
        } else {
            (2, &b, 4.0)
        };
        ledger
            .record_share(share(node, n, miner, difficulty, 64.0))
            .await
            .unwrap();
    }
    let value = 312_512_345;
    let hash = "11".repeat(32);
    ledger
        .record_block(found_block(
            hash.clone(),
            500,
            value,
            PayoutMode::Pplns,
            &a,
            T0 + 100,
        ))
        .await
        .unwrap();
    let block = ledger.block_by_hash(&hash).await.unwrap().unwrap();
    let settings = credit_settings(PayoutMode::Pplns, 100, 2.0);
    assert!(credit_block(&ledger, &block, &settings).await.unwrap());
    // Crediting again (another node, a later run) changes nothing.
    let block = ledger.block_by_hash(&hash).await.unwrap().unwrap();
    assert!(!credit_block(&ledger, &block, &settings).await.unwrap());
    assert!(block.credited && block.full_window);
    assert_eq!(block.window_shares, 16);

    let credits = ledger.block_credits(block.id).await.unwrap();
    let by_address: BTreeMap<&str, u64> = credits
        .iter()
        .map(|credit| (credit.address.as_str(), credit.amount_sat))
        .collect();
    assert!(
        !by_address.contains_key(c.as_str()),
        "c's shares are older than the window"
    );
    // Fee: floor(1 % of 312_512_345) = 3_125_123; reward 309_387_222.
    // a: 0.75 × reward = 232_040_416.5, b: 77_346_805.5; the one sat left
    // goes to the smaller address (equal remainders).
    assert_eq!(block.pool_fee_sat, 3_125_123);
    let (first, second) = if a < b { (&a, &b) } else { (&b, &a) };
    let floor = |address: &String| {
        if *address == a {
            232_040_416
        } else {
            77_346_805
        }
    };
    assert_eq!(by_address[first.as_str()], floor(first) + 1);
    assert_eq!(by_address[second.as_str()], floor(second));
    assert_eq!(
        by_address.values().sum::<u64>() + block.pool_fee_sat,
        value,
        "every sat accounted for"
    );
    let shares: BTreeMap<&str, u64> = credits
        .iter()
        .map(|credit| (credit.address.as_str(), credit.shares))
        .collect();
    assert_eq!(shares, BTreeMap::from([(a.as_str(), 8), (b.as_str(), 8)]));
    assert!(credits
        .iter()
        .all(|credit| credit.state == CreditState::Immature));
    ledger.close().await;
}

async fn matured_block_releases_credits_and_orphaned_block_reverses_them(db: TestDb) {
    let ledger = open(&db).await;
    let (source, chain) = chain();
    let (a, b) = (address(1), address(2));
    for n in 0..4 {
        let miner = if n % 2 == 0 { &a } else { &b };
        ledger
            .record_share(share(1, n, miner, 1.0, 1_000.0))
            .await
            .unwrap();
    }
    // Block X stays in the best chain; block Y is beaten by a longer branch.
    let x = mine(&source, 1)[0];
    let height_x = source.with_simnet(|simnet| simnet.tip_height());
    ledger
        .record_block(found_block(
            x.to_string(),
            height_x,
            5_000_000_000,
            PayoutMode::Pplns,
            &a,
            T0 + 10,
        ))
        .await
        .unwrap();
    let parent = source.with_simnet(|simnet| simnet.best_block_hash());
    let y = mine(&source, 1)[0];
    ledger
        .record_block(found_block(
            y.to_string(),
            height_x + 1,
            5_000_000_000,
            PayoutMode::Pplns,
            &b,
            T0 + 20,
        ))
        .await
        .unwrap();
    // A competing branch of two blocks from Y's parent takes the lead.
    source.with_simnet(|simnet| {
        let first = simnet
            .mine_block(&parent, &pool_script(), b"rival")
            .unwrap();
        // As in Core: a branch of equal work is stored, not activated.
        assert!(simnet.process_block(&first).is_err());
        let second = simnet
            .mine_block(&first.block_hash(), &pool_script(), b"rival")
            .unwrap();
        simnet.process_block(&second).unwrap();
    });
    let wallet = MemoryWallet::new();
    let settings = run_settings(PayoutMode::Pplns, 1);
    let report = run_once(&ledger, &chain, &wallet, &settings).await.unwrap();
    assert_eq!(report.credited_blocks.len(), 2);
    assert_eq!(report.orphaned_blocks, vec![y.to_string()]);
    assert!(
        report.confirmed_blocks.is_empty(),
        "X has 3 confirmations of 100"
    );
    assert!(
        report.batch.is_none(),
        "nothing is mature: {}",
        report.summary()
    );
    assert!(all_paid(&ledger).await);
    let y_row = ledger.block_by_hash(&y.to_string()).await.unwrap().unwrap();
    assert_eq!(y_row.status, BlockStatus::Orphaned);
    assert!(ledger
        .block_credits(y_row.id)
        .await
        .unwrap()
        .iter()
        .all(|c| c.state == CreditState::Reversed));

    // 97 more blocks: X has 100 confirmations and matures.
    mine(&source, 97);
    let report = run_once(&ledger, &chain, &wallet, &settings).await.unwrap();
    assert_eq!(report.confirmed_blocks, vec![x.to_string()]);
    let x_row = ledger.block_by_hash(&x.to_string()).await.unwrap().unwrap();
    assert_eq!(x_row.status, BlockStatus::Confirmed);
    assert_eq!(x_row.confirmations, 100);
    let x_credits = ledger.block_credits(x_row.id).await.unwrap();
    assert!(x_credits.iter().all(|c| c.state == CreditState::Matured));
    // Exactly X's credits were paid; Y's reversed credits never.
    let expected: BTreeMap<String, u64> = x_credits
        .iter()
        .map(|c| (c.address.clone(), c.amount_sat))
        .collect();
    assert_eq!(wallet.paid(), expected);
    assert_eq!(
        expected.values().sum::<u64>() + x_row.pool_fee_sat,
        5_000_000_000
    );
    // The orphan stays orphaned; nothing is paid again.
    let report = run_once(&ledger, &chain, &wallet, &settings).await.unwrap();
    assert!(report.batch.is_none() && report.orphaned_blocks.is_empty());
    assert_eq!(wallet.transactions(), 1);
    ledger.close().await;
}

/// Issue 11: a reorg that brings an orphaned block back (Core's
/// `reconsiderblock`, or a longer branch on it) restores its credits; they
/// mature and are paid like any block's, once.
async fn an_orphaned_block_back_in_the_best_chain_gets_its_credits_back(db: TestDb) {
    let ledger = open(&db).await;
    let (source, chain) = chain();
    let a = address(1);
    for n in 0..4 {
        ledger
            .record_share(share(1, n, &a, 1.0, 1_000.0))
            .await
            .unwrap();
    }
    let parent = source.with_simnet(|simnet| simnet.best_block_hash());
    let y = mine(&source, 1)[0];
    let height_y = source.with_simnet(|simnet| simnet.tip_height());
    ledger
        .record_block(found_block(
            y.to_string(),
            height_y,
            5_000_000_000,
            PayoutMode::Pplns,
            &a,
            T0 + 10,
        ))
        .await
        .unwrap();
    // A rival branch of two beats Y.
    source.with_simnet(|simnet| {
        let first = simnet
            .mine_block(&parent, &pool_script(), b"rival")
            .unwrap();
        assert!(simnet.process_block(&first).is_err());
        let second = simnet
            .mine_block(&first.block_hash(), &pool_script(), b"rival")
            .unwrap();
        simnet.process_block(&second).unwrap();
    });
    let wallet = MemoryWallet::new();
    let settings = run_settings(PayoutMode::Pplns, 1);
    let report = run_once(&ledger, &chain, &wallet, &settings).await.unwrap();
    assert_eq!(report.orphaned_blocks, vec![y.to_string()]);
    let y_row = ledger.block_by_hash(&y.to_string()).await.unwrap().unwrap();
    assert_eq!(y_row.status, BlockStatus::Orphaned);

    // Y's branch grows past the rival: Y is back in the best chain.
    source.with_simnet(|simnet| {
        let mut tip = y;
        for _ in 0..2 {
            let block = simnet.mine_block(&tip, &pool_script(), b"back").unwrap();
            tip = block.block_hash();
            let _ = simnet.process_block(&block);
        }
        assert_eq!(simnet.best_block_hash(), tip, "Y's branch leads");
    });
    let report = run_once(&ledger, &chain, &wallet, &settings).await.unwrap();
    assert_eq!(
        report.restored_blocks,
        vec![y.to_string()],
        "{}",
        report.summary()
    );
    assert!(report.orphaned_blocks.is_empty());
    let y_row = ledger.block_by_hash(&y.to_string()).await.unwrap().unwrap();
    assert_eq!(y_row.status, BlockStatus::Submitted);
    assert_eq!(y_row.confirmations, 3);
    let credits = ledger.block_credits(y_row.id).await.unwrap();
    assert!(!credits.is_empty());
    assert!(credits.iter().all(|c| c.state == CreditState::Immature));

    // It matures and is paid, once; a later run restores nothing again.
    mine(&source, 97);
    let report = run_once(&ledger, &chain, &wallet, &settings).await.unwrap();
    assert_eq!(report.confirmed_blocks, vec![y.to_string()]);
    assert!(report.restored_blocks.is_empty());
    let paid: u64 = wallet.paid().values().sum();
    assert_eq!(paid + y_row.pool_fee_sat, 5_000_000_000);
    let report = run_once(&ledger, &chain, &wallet, &settings).await.unwrap();
    assert!(report.batch.is_none() && report.restored_blocks.is_empty());
    assert_eq!(wallet.transactions(), 1);
    ledger.close().await;
}

async fn solo_and_pps_blocks_are_recorded_not_split(db: TestDb) {
    let ledger = open(&db).await;
    let finder = address(9);
    ledger
        .record_share(share(1, 1, &address(1), 1.0, 10.0))
        .await
        .unwrap();
    for (byte, mode) in [("aa", PayoutMode::Solo), ("bb", PayoutMode::Pps)] {
        ledger
            .record_block(found_block(
                byte.repeat(32),
                7,
                1_000_000_007,
                mode,
                &finder,
                T0 + 5,
            ))
            .await
            .unwrap();
    }
    let settings = credit_settings(PayoutMode::Pplns, 150, 2.0);
    for block in ledger.uncredited_blocks().await.unwrap() {
        assert!(credit_block(&ledger, &block, &settings).await.unwrap());
    }
    let solo = ledger
        .block_by_hash(&"aa".repeat(32))
        .await
        .unwrap()
        .unwrap();
    let credits = ledger.block_credits(solo.id).await.unwrap();
    // 1.5 % of 1_000_000_007 is 15_000_000.105: the pool takes 15_000_000.
    assert_eq!(solo.pool_fee_sat, 15_000_000);
    assert_eq!(credits.len(), 1);
    assert_eq!(credits[0].address, finder);
    assert_eq!(credits[0].amount_sat, 985_000_007);
    assert_eq!(credits[0].state, CreditState::Coinbase);
    let pps = ledger
        .block_by_hash(&"bb".repeat(32))
        .await
        .unwrap()
        .unwrap();
    assert!(ledger.block_credits(pps.id).await.unwrap().is_empty());
    assert_eq!(pps.pool_fee_sat, 1_000_000_007, "PPS blocks are the pool's");
    ledger.close().await;
}

// ---- the payout run ------------------------------------------------------------

async fn sent_batches_follow_fee_bumps_and_settle_or_reverse_once(db: TestDb) {
    let ledger = open(&db).await;
    let (_source, chain) = chain();
    let wallet = MemoryWallet::new();
    let settings = run_settings(PayoutMode::Pps, 100_000);
    let status =
        |confirmations: i64, replaced_by: Option<&str>, replaces: Option<&str>| PaymentStatus {
            confirmations,
            replaced_by: replaced_by.map(str::to_string),
            replaces: replaces.map(str::to_string),
            abandoned: false,
        };
    give_pps_credits(&ledger, &[(address(1), 150_000), (address(2), 250_000)]).await;
    let first = run_once(&ledger, &chain, &wallet, &settings)
        .await
        .unwrap()
        .batch
        .expect("a batch");
    let old_txid = first.txid.clone().unwrap();

    // The operator bumped its fee: the batch follows the replacement.
    let bumped = "b".repeat(64);
    wallet.statuses.lock().unwrap().extend([
        (old_txid.clone(), status(0, Some(&bumped), None)),
        (bumped.clone(), status(0, None, Some(&old_txid))),
    ]);
    let report = run_once(&ledger, &chain, &wallet, &settings).await.unwrap();
    assert_eq!(
        report.replaced_batches,
        vec![(first.id.clone(), bumped.clone())]
    );
    assert!(
        report.batch.is_none(),
        "nothing paid twice: {}",
        report.summary()
    );
    let batch = ledger.batch(&first.id).await.unwrap().unwrap();
    assert_eq!(batch.state, BatchState::Sent);
    assert_eq!(batch.txid.as_deref(), Some(bumped.as_str()));

    // Only one of them buried under a conflict: the other may still
    // confirm, so nothing is given back.
    wallet.statuses.lock().unwrap().insert(
        bumped.clone(),
        status(-PAYMENT_DEPTH, None, Some(&old_txid)),
    );
    let report = run_once(&ledger, &chain, &wallet, &settings).await.unwrap();
    assert!(report.reversed_batches.is_empty(), "{}", report.summary());
    assert!(report.batch.is_none());

    // Both: a dry run says it would reverse, and changes nothing.
    wallet.statuses.lock().unwrap().insert(
        old_txid.clone(),
        status(-PAYMENT_DEPTH - 1, Some(&bumped), None),
    );
    let dry = RunSettings {
        dry_run: true,
        ..settings.clone()
    };
    let report = run_once(&ledger, &chain, &wallet, &dry).await.unwrap();
    assert_eq!(report.reversed_batches, vec![first.id.clone()]);
    assert_eq!(
        ledger.batch(&first.id).await.unwrap().unwrap().state,
        BatchState::Sent
    );
    assert_eq!(ledger.balance(&address(1)).await.unwrap(), 0);

    // The real run reverses it and pays the same balances again, once.
    let report = run_once(&ledger, &chain, &wallet, &settings).await.unwrap();
    assert_eq!(report.reversed_batches, vec![first.id.clone()]);
    let again = report.batch.expect("paid again");
    assert_eq!(again.lines, first.lines);
    assert_eq!(
        ledger.batch(&first.id).await.unwrap().unwrap().state,
        BatchState::Reversed
    );
    assert!(!ledger.reverse_batch(&first.id, "twice").await.unwrap());
    assert!(all_paid(&ledger).await);

    // The new payment buried: confirmed, and the run after that is quiet.
    wallet.statuses.lock().unwrap().insert(
        again.txid.clone().unwrap(),
        status(PAYMENT_DEPTH, None, None),
    );
    let report = run_once(&ledger, &chain, &wallet, &settings).await.unwrap();
    assert_eq!(report.confirmed_batches, vec![again.id.clone()]);
    assert_eq!(
        ledger.batch(&again.id).await.unwrap().unwrap().state,
        BatchState::Confirmed
    );
    // A bump that lost the race: the original confirmed, the batch
    // records it and never reverses.
    ledger
        .record_share(NewShare {
            credit_sat: 120_000,
            ..share(1, 20_000, &address(3), 1.0, 1.0)
        })
        .await
        .unwrap();
    let third = run_once(&ledger, &chain, &wallet, &settings)
        .await
        .unwrap()
        .batch
        .expect("a third batch");
    let original = third.txid.clone().unwrap();
    let loser = "c".repeat(64);
    wallet.statuses.lock().unwrap().extend([
        (original.clone(), status(2, Some(&loser), None)),
        (loser.clone(), status(-2, None, Some(&original))),
    ]);
    let report = run_once(&ledger, &chain, &wallet, &settings).await.unwrap();
    assert!(report.replaced_batches.is_empty(), "{}", report.summary());
    assert!(report.stuck_batches.is_empty(), "{}", report.summary());
    assert_eq!(
        ledger
            .batch(&third.id)
            .await
            .unwrap()
            .unwrap()
            .txid
            .as_deref(),
        Some(original.as_str())
    );
    let quiet = run_once(&ledger, &chain, &wallet, &settings).await.unwrap();
    assert!(quiet.confirmed_batches.is_empty() && quiet.reversed_batches.is_empty());
    assert!(quiet.batch.is_none());
    assert_eq!(wallet.transactions(), 3);
    assert!(all_paid(&ledger).await);
    ledger.close().await;
}

async fn pps_credits_are_settled_and_paid_once(db: TestDb) {
    let ledger = open(&db).await;
    let (_source, chain) = chain();
    let wallet = MemoryWallet::new();
    let owed = vec![
        (address(1), 150_000),
        (address(2), 250_000),
        (address(1), 50_000),
    ];
    give_pps_credits(&ledger, &owed).await;
    assert_eq!(
        ledger.unsettled_credit_of(&address(1)).await.unwrap(),
        200_000
    );
    assert_eq!(
        ledger.unsettled_credit_of(&address(2)).await.unwrap(),
        250_000
    );
    let settings = run_settings(PayoutMode::Pps, 100_000);
    let report = run_once(&ledger, &chain, &wallet, &settings).await.unwrap();
    assert_eq!(ledger.unsettled_credit_of(&address(1)).await.unwrap(), 0);
    assert_eq!(report.settled.total_sat, 450_000);
    assert_eq!(report.settled.shares, 3);
    let batch = report.batch.clone().expect("a batch");
    assert_eq!(batch.state, BatchState::Sent);
    assert_eq!(batch.txid.as_deref(), Some(format!("{:064x}", 1).as_str()));
    assert_eq!(
        wallet.paid(),
        BTreeMap::from([(address(1), 200_000), (address(2), 250_000)])
    );
    assert!(
        report.summary().contains("paid 2 miners 450000 sat"),
        "{}",
        report.summary()
    );
    // The comment the wallet got is the batch id.
    assert_eq!(wallet.sent.lock().unwrap()[0].0, batch.id);
    // Run again: nothing new to pay.
    let again = run_once(&ledger, &chain, &wallet, &settings).await.unwrap();
    assert!(again.batch.is_none());
    assert_eq!(again.settled.total_sat, 0);
    assert_eq!(wallet.transactions(), 1);
    assert!(all_paid(&ledger).await);
    // New shares are settled by the next run, and only they.
    give_pps_credits(&ledger, &[(address(2), 120_000)]).await;
    let third = run_once(&ledger, &chain, &wallet, &settings).await.unwrap();
    assert_eq!(third.settled.total_sat, 120_000);
    assert_eq!(wallet.paid()[&address(2)], 370_000);
    ledger.close().await;
}

async fn run_killed_after_recording_before_sending_pays_once(db: TestDb) {
    let ledger = open(&db).await;
    let (_source, chain) = chain();
    let wallet = MemoryWallet::new();
    give_pps_credits(&ledger, &[(address(1), 200_000), (address(2), 300_000)]).await;
    let settings = run_settings(PayoutMode::Pps, 100_000);
    run_and_kill(&ledger, &chain, &wallet, &settings, StopAt::BeforeSending).await;
    // Killed: the batch is recorded and debited, the wallet sent nothing.
    let pending = ledger.pending_batches().await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(wallet.transactions(), 0);
    assert!(all_paid(&ledger).await);

    let report = run_once(&ledger, &chain, &wallet, &settings).await.unwrap();
    assert_eq!(report.cancelled, vec![pending[0].id.clone()]);
    assert_eq!(
        wallet.paid(),
        BTreeMap::from([(address(1), 200_000), (address(2), 300_000)])
    );
    assert_eq!(wallet.transactions(), 1);
    assert_eq!(
        ledger.batch(&pending[0].id).await.unwrap().unwrap().state,
        BatchState::Cancelled
    );
    assert!(all_paid(&ledger).await);
    let again = run_once(&ledger, &chain, &wallet, &settings).await.unwrap();
    assert!(again.batch.is_none() && again.cancelled.is_empty());
    assert_eq!(wallet.transactions(), 1);
    ledger.close().await;
}

async fn run_killed_after_sending_before_the_txid_pays_once(db: TestDb) {
    let ledger = open(&db).await;
    let (_source, chain) = chain();
    let wallet = MemoryWallet::new();
    give_pps_credits(&ledger, &[(address(1), 200_000), (address(2), 300_000)]).await;
    let settings = run_settings(PayoutMode::Pps, 100_000);
    run_and_kill(&ledger, &chain, &wallet, &settings, StopAt::AfterSending).await;
    assert_eq!(wallet.transactions(), 1, "the wallet sent before the kill");
    let pending = ledger.pending_batches().await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].txid, None);

    let report = run_once(&ledger, &chain, &wallet, &settings).await.unwrap();
    assert_eq!(
        report.recovered,
        vec![(pending[0].id.clone(), format!("{:064x}", 1))]
    );
    assert!(report.batch.is_none(), "nobody is paid twice");
    assert_eq!(wallet.transactions(), 1);
    assert_eq!(
        wallet.paid(),
        BTreeMap::from([(address(1), 200_000), (address(2), 300_000)])
    );
    let batch = ledger.batch(&pending[0].id).await.unwrap().unwrap();
    assert_eq!(batch.state, BatchState::Sent);
    assert_eq!(batch.txid, Some(format!("{:064x}", 1)));
    assert!(all_paid(&ledger).await);
    ledger.close().await;
}

async fn wallet_refusal_gives_the_balances_back(db: TestDb) {
    let ledger = open(&db).await;
    let (_source, chain) = chain();
    let wallet = MemoryWallet::new();
    give_pps_credits(&ledger, &[(address(1), 200_000)]).await;
    let settings = run_settings(PayoutMode::Pps, 100_000);
    *wallet.refuse.lock().unwrap() = Some("Insufficient funds".to_string());
    let error = run_once(&ledger, &chain, &wallet, &settings)
        .await
        .unwrap_err();
    assert!(matches!(error, RunError::Refused { .. }), "{error}");
    assert!(error.to_string().contains("Insufficient funds"));
    assert_eq!(balances(&ledger).await[&address(1)], 200_000, "given back");
    *wallet.refuse.lock().unwrap() = None;
    let report = run_once(&ledger, &chain, &wallet, &settings).await.unwrap();
    assert_eq!(report.batch.unwrap().total_sat, 200_000);
    assert_eq!(wallet.paid()[&address(1)], 200_000);
    ledger.close().await;
}

async fn a_second_concurrent_run_is_refused(db: TestDb) {
    let ledger = open(&db).await;
    let (_source, chain) = chain();
    let wallet = MemoryWallet::new();
    give_pps_credits(&ledger, &[(address(1), 200_000)]).await;
    let settings = run_settings(PayoutMode::Pps, 100_000);
    // Another process's run, as a second ledger handle on the same database.
    let other = open(&db).await;
    let held = other
        .try_payout_lock()
        .await
        .unwrap()
        .expect("free at first");
    let error = payout_run(&ledger, &chain, &*wallet, &settings)
        .await
        .unwrap_err();
    assert!(matches!(error, RunError::Busy), "{error}");
    assert_eq!(wallet.transactions(), 0);
    drop(held);
    let report = run_once(&ledger, &chain, &wallet, &settings).await.unwrap();
    assert!(report.batch.is_some());
    other.close().await;
    ledger.close().await;
}

async fn dry_run_changes_nothing(db: TestDb) {
    let ledger = open(&db).await;
    let (source, chain) = chain();
    let wallet = MemoryWallet::new();
    give_pps_credits(&ledger, &[(address(1), 200_000), (address(2), 5)]).await;
    let x = mine(&source, 1)[0];
    let height = source.with_simnet(|simnet| simnet.tip_height());
    ledger
        .record_block(found_block(
            x.to_string(),
            height,
            50_000,
            PayoutMode::Pplns,
            &address(3),
            T0 + 1,
        ))
        .await
        .unwrap();
    let settings = RunSettings {
        dry_run: true,
        ..run_settings(PayoutMode::Pps, 100_000)
    };
    let shares_before = ledger.shares(100).await.unwrap();
    let report = run_once(&ledger, &chain, &wallet, &settings).await.unwrap();
    assert!(
        report
            .summary()
            .starts_with("payout (dry run): blocks credited 1"),
        "{}",
        report.summary()
    );
    let planned = report.batch.expect("a plan");
    assert_eq!(
        planned.lines,
        vec![PayoutLine {
            address: address(1),
            amount_sat: 200_000
        }]
    );
    assert_eq!(report.waiting, (1, 5));
    assert_eq!(wallet.transactions(), 0);
    assert_eq!(
        ledger.shares(100).await.unwrap(),
        shares_before,
        "nothing settled"
    );
    assert!(ledger.balances().await.unwrap().is_empty());
    assert!(
        !ledger
            .block_by_hash(&x.to_string())
            .await
            .unwrap()
            .unwrap()
            .credited
    );
    assert!(ledger.batches().await.unwrap().is_empty());
    ledger.close().await;
}

async fn below_threshold_and_invalid_addresses_wait(db: TestDb) {
    let ledger = open(&db).await;
    let (_source, chain) = chain();
    let wallet = MemoryWallet::new();
    let mainnet = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq".to_string();
    give_pps_credits(
        &ledger,
        &[
            (address(1), 99_999),
            (address(2), 100_000),
            (mainnet.clone(), 500_000),
        ],
    )
    .await;
    let report = run_once(
        &ledger,
        &chain,
        &wallet,
        &run_settings(PayoutMode::Pps, 100_000),
    )
    .await
    .unwrap();
    assert_eq!(wallet.paid(), BTreeMap::from([(address(2), 100_000)]));
    assert_eq!(report.waiting, (1, 99_999));
    assert_eq!(report.skipped_addresses, vec![mainnet.clone()]);
    let balances = balances(&ledger).await;
    assert_eq!(balances[&address(1)], 99_999);
    assert_eq!(balances[&mainnet], 500_000, "kept, never lost");
    ledger.close().await;
}

async fn explanation_says_how_a_credit_was_computed(db: TestDb) {
    let ledger = open(&db).await;
    let (a, b) = (address(1), address(2));
    // A young pool: 3 shares scoring 0.375 of a 2-block window.
    ledger
        .record_share(share(1, 1, &a, 16.0, 128.0))
        .await
        .unwrap();
    ledger
        .record_share(share(2, 2, &b, 16.0, 128.0))
        .await
        .unwrap();
    ledger
        .record_share(share(1, 3, &a, 16.0, 128.0))
        .await
        .unwrap();
    ledger
        .record_block(found_block(
            "cc".repeat(32),
            9,
            1_000_000,
            PayoutMode::Pplns,
            &a,
            T0 + 10,
        ))
        .await
        .unwrap();
    let block = ledger
        .block_by_hash(&"cc".repeat(32))
        .await
        .unwrap()
        .unwrap();
    credit_block(
        &ledger,
        &block,
        &credit_settings(PayoutMode::Pplns, 200, 2.0),
    )
    .await
    .unwrap();
    let explained = ledger
        .explain_credit(block.id, &a)
        .await
        .unwrap()
        .expect("credited");
    // Partial window: the whole reward is split, the pool keeps 2 % only.
    assert!(!explained.full_window);
    assert_eq!(explained.pool_fee, 20_000);
    assert_eq!(explained.miners_reward, 980_000);
    assert_eq!(explained.shares, 2);
    // a has 2 of the 3 equal shares: 653_333.33; b 326_666.67 takes the
    // leftover sat (the larger remainder).
    assert_eq!(explained.amount, 653_333);
    let other = ledger.explain_credit(block.id, &b).await.unwrap().unwrap();
    assert_eq!(other.amount, 326_667);
    assert_eq!(
        explained.amount + other.amount + explained.pool_fee,
        1_000_000
    );
    let text = explained.to_string();
    assert!(
        text.contains("653,333") || text.contains("653333"),
        "{text}"
    );
    let nobody = ledger
        .explain_credit(block.id, &address(5))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((nobody.shares, nobody.amount), (0, 0));
    ledger.close().await;
}

async fn operator_position_compares_credits_with_blocks(db: TestDb) {
    let ledger = open(&db).await;
    let (source, chain) = chain();
    give_pps_credits(&ledger, &[(address(1), 1_000), (address(2), 2_000)]).await;
    let x = mine(&source, 1)[0];
    let height = source.with_simnet(|simnet| simnet.tip_height());
    ledger
        .record_block(found_block(
            x.to_string(),
            height,
            50_000,
            PayoutMode::Pps,
            &address(1),
            T0 + 1,
        ))
        .await
        .unwrap();
    let position = ledger.operator_position().await.unwrap();
    assert_eq!(position.total.credited_sat, 3_000);
    assert_eq!(position.total.immature_sat, 50_000);
    assert_eq!(position.total.earned_sat, 0);
    assert_eq!(position.days.len(), 1);
    assert_eq!(position.days[0].day, "2025-06-15");
    mine(&source, 99);
    let wallet = MemoryWallet::new();
    run_once(&ledger, &chain, &wallet, &run_settings(PayoutMode::Pps, 1))
        .await
        .unwrap();
    let position = ledger.operator_position().await.unwrap();
    assert_eq!(position.total.earned_sat, 50_000);
    assert_eq!(position.total.immature_sat, 0);
    assert_eq!(position.total.net_sat(), 47_000);
    ledger.close().await;
}
