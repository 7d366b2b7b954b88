//! What the pages and the JSON API show, built once from the live state and
//! the ledger: the API serialises these structs, the pages render them, so
//! both always say the same. Field names are the API's, and stable.

use super::WebState;
pub(super) use crate::clock::unix_millis;
use crate::ledger::accounts::CreditState;
use crate::ledger::{mode_name, LedgerError, Work};
use crate::server::stats::ChainSnapshot;
use serde::Serialize;
use std::collections::BTreeMap;

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MINUTE_MS;
const DAY_MS: i64 = 24 * HOUR_MS;
/// The 24-hour charts have a point per half hour.
const CHART_BUCKET_MS: i64 = 30 * MINUTE_MS;
/// Blocks shown on the pool page and in `/api/blocks`.
const BLOCKS_SHOWN: usize = 50;
const PAYMENTS_SHOWN: u32 = 100;
/// Blocks read for those shown: a few more, for the effort of the oldest.
const BLOCKS_READ: u32 = BLOCKS_SHOWN as u32 + 10;

/// Hashes per second over the last 5 minutes, hour and day: accepted
/// difficulty × 2^32 / the window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Hashrates {
    #[serde(rename = "5m")]
    pub five_minutes: f64,
    #[serde(rename = "1h")]
    pub hour: f64,
    #[serde(rename = "24h")]
    pub day: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ChartPoint {
    /// Start of the half hour (unix ms).
    pub time_ms: i64,
    pub hashrate: f64,
}

/// The current round: work since the pool's last block.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Round {
    /// When the last block was found (unix ms); `None`: no block yet.
    pub since_ms: Option<i64>,
    pub shares: u64,
    /// Work in blocks' worth (each share's difficulty / network difficulty).
    pub work_blocks: f64,
    /// Work against one block's expected work, in percent: the round's
    /// effort so far (100 % is an average round).
    pub progress_percent: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PoolView {
    pub network: String,
    pub mode: &'static str,
    pub fee_percent: f64,
    pub stratum_url: String,
    pub uptime_secs: u64,
    pub height: u32,
    pub network_difficulty: f64,
    pub template_age_secs: Option<u64>,
    pub hashrate: Hashrates,
    pub miners: u64,
    pub workers: u64,
    pub shares_accepted: u64,
    pub shares_rejected: BTreeMap<String, u64>,
    pub round: Round,
    /// Luck of the last block: 100 / its effort (above 100: lucky).
    pub last_block_luck_percent: Option<f64>,
    pub blocks_found: u64,
    pub chart: Vec<ChartPoint>,
    /// Addresses banned now, newest first (at most 100).
    pub bans: Vec<BanView>,
}

/// An address refused for mostly invalid shares, until `until_ms`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BanView {
    /// An IPv4 address, or an IPv6 /64.
    pub ip: String,
    pub reason: &'static str,
    pub since_ms: i64,
    pub until_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BlockView {
    pub height: u32,
    pub hash: String,
    pub status: &'static str,
    pub confirmations: i64,
    pub reward_sat: u64,
    pub pool_fee_sat: u64,
    pub mode: &'static str,
    pub finder: String,
    pub worker: String,
    pub time_ms: i64,
    /// The round's work against one block's expected work, in percent.
    pub effort_percent: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkerView {
    pub name: String,
    pub online: bool,
    pub connections: u32,
    pub hashrate: Hashrates,
    pub difficulty: f64,
    pub last_share_ms: Option<i64>,
    pub accepted: u64,
    pub stale: u64,
    pub duplicate: u64,
    pub low_difficulty: u64,
    pub rejected: u64,
    pub best_share_difficulty: f64,
    pub jobs_sent: u64,
    /// Accepted shares in the ledger over the last day.
    pub shares_24h: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CreditView {
    pub block_height: u32,
    pub block_hash: String,
    pub state: &'static str,
    pub amount_sat: u64,
    pub shares: u64,
    /// How it was computed, in words.
    pub explanation: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PaymentView {
    pub batch: String,
    pub state: &'static str,
    pub txid: Option<String>,
    pub amount_sat: u64,
    pub time_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MinerView {
    pub address: String,
    pub hashrate: Hashrates,
    pub workers: Vec<WorkerView>,
    /// Payable now (matured credits and settled PPS credits, less payouts).
    pub balance_sat: i64,
    /// Credits of blocks not yet matured (PPLNS).
    pub immature_sat: u64,
    /// PPS/FPPS credits of shares not yet settled into the balance.
    pub unsettled_sat: u64,
    pub credits: Vec<CreditView>,
    pub payments: Vec<PaymentView>,
    pub chart: Vec<ChartPoint>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BatchView {
    pub id: String,
    pub state: &'static str,
    pub txid: Option<String>,
    pub total_sat: u64,
    pub miners: usize,
    pub created_ms: i64,
}

/// The millisecond after `time_ms` (a stored time: saturating).
fn after(time_ms: i64) -> i64 {
    time_ms.saturating_add(1)
}

/// The pool's age: since its first share (at least a second). A window
/// longer than that is measured over the age, so a young pool does not
/// read as a fraction of its real rate.
async fn pool_age_ms(state: &WebState, now: i64) -> Result<i64, LedgerError> {
    Ok(state
        .ledger
        .first_share_ms()
        .await?
        .map_or(1_000, |first| now.saturating_sub(first).max(1_000)))
}

/// Hashrates over the windows, each at most the pool's `age` long.
async fn hashrates(
    state: &WebState,
    now: i64,
    age: i64,
    address: Option<&str>,
) -> Result<Hashrates, LedgerError> {
    let rate = |work: Work, window: i64| work.hashrate(window.min(age) as f64 / 1000.0);
    Ok(Hashrates {
        five_minutes: rate(
            state
                .ledger
                .work(now - 5 * MINUTE_MS, now + 1, address)
                .await?,
            5 * MINUTE_MS,
        ),
        hour: rate(
            state.ledger.work(now - HOUR_MS, now + 1, address).await?,
            HOUR_MS,
        ),
        day: rate(
            state.ledger.work(now - DAY_MS, now + 1, address).await?,
            DAY_MS,
        ),
    })
}

/// Half-hour points over the last day, zero where no share came.
async fn chart(
    state: &WebState,
    now: i64,
    age: i64,
    address: Option<&str>,
) -> Result<Vec<ChartPoint>, LedgerError> {
    // Times read from the database may be anything: saturate, never wrap.
    let born = now.saturating_sub(age);
    let first = (now - DAY_MS).div_euclid(CHART_BUCKET_MS) * CHART_BUCKET_MS;
    let buckets: BTreeMap<i64, Work> = state
        .ledger
        .work_by_bucket(first, CHART_BUCKET_MS, address)
        .await?
        .into_iter()
        .collect();
    Ok((0..=DAY_MS / CHART_BUCKET_MS)
        .map(|step| first + step * CHART_BUCKET_MS)
        .filter(|start| *start <= now)
        .map(|start| {
            // The current half hour is only partly over, and the pool may
            // be younger than its bucket.
            let span = now
                .saturating_sub(start.max(born))
                .saturating_add(1)
                .clamp(1_000, CHART_BUCKET_MS);
            ChartPoint {
                time_ms: start,
                hashrate: buckets
                    .get(&start)
                    .map_or(0.0, |work| work.hashrate(span as f64 / 1000.0)),
            }
        })
        .collect())
}

pub(super) async fn pool_view(state: &WebState) -> Result<PoolView, LedgerError> {
    let now = unix_millis();
    let age = pool_age_ms(state, now).await?;
    let snapshot = state.stats.snapshot();
    let chain: ChainSnapshot = state.stats.chain();
    let (miners, workers) = state.workers.online();
    let blocks = state.ledger.recent_blocks(BLOCKS_READ).await?;
    let found: Vec<_> = blocks
        .iter()
        .filter(|block| block.status != crate::ledger::BlockStatus::Orphaned)
        .collect();
    let since_ms = found.first().map(|block| block.time_ms);
    let round_work = state
        .ledger
        .work(since_ms.map_or(i64::MIN, after), now + 1, None)
        .await?;
    let last_block_luck_percent = match found.as_slice() {
        [last, previous, ..] => {
            let effort = state
                .ledger
                .work(after(previous.time_ms), after(last.time_ms), None)
                .await?;
            (effort.blocks > 0.0).then(|| 100.0 / effort.blocks)
        }
        [last] => {
            let effort = state
                .ledger
                .work(i64::MIN, after(last.time_ms), None)
                .await?;
            (effort.blocks > 0.0).then(|| 100.0 / effort.blocks)
        }
        [] => None,
    };
    Ok(PoolView {
        network: state.network.to_string(),
        mode: mode_name(state.mode),
        fee_percent: state.fee_percent,
        stratum_url: state.stratum_url.clone(),
        uptime_secs: state.started.elapsed().as_secs(),
        height: chain.height,
        network_difficulty: chain.network_difficulty,
        template_age_secs: chain.template_age_ms(now as u64).map(|age| age / 1000),
        hashrate: hashrates(state, now, age, None).await?,
        miners,
        workers,
        shares_accepted: snapshot.shares_accepted,
        shares_rejected: snapshot
            .rejected
            .iter()
            .map(|(name, count)| (name.to_string(), *count))
            .collect(),
        round: Round {
            since_ms,
            shares: round_work.shares,
            work_blocks: round_work.blocks,
            progress_percent: round_work.blocks * 100.0,
        },
        last_block_luck_percent,
        blocks_found: state
            .ledger
            .block_counts()
            .await?
            .iter()
            .filter(|(status, _)| *status != crate::ledger::BlockStatus::Orphaned)
            .map(|(_, count)| *count)
            .fold(0, u64::saturating_add),
        chart: chart(state, now, age, None).await?,
        bans: state
            .guard
            .snapshot(now)
            .bans
            .into_iter()
            .map(|ban| BanView {
                ip: ban.host.to_string(),
                reason: ban.reason.name(),
                since_ms: ban.since_ms,
                until_ms: ban.until_ms,
            })
            .collect(),
    })
}

pub(super) async fn blocks_view(state: &WebState) -> Result<Vec<BlockView>, LedgerError> {
    let blocks = state.ledger.recent_blocks(BLOCKS_READ).await?;
    let mut views = Vec::with_capacity(blocks.len().min(BLOCKS_SHOWN));
    for (index, block) in blocks.iter().enumerate().take(BLOCKS_SHOWN) {
        // The round a block ends started after the previous block found.
        // `index` comes from enumerating `blocks`: `index + 1 <= len`.
        let previous = blocks[index + 1..]
            .iter()
            .find(|older| older.status != crate::ledger::BlockStatus::Orphaned);
        let effort = state
            .ledger
            .work(
                previous.map_or(i64::MIN, |older| after(older.time_ms)),
                after(block.time_ms),
                None,
            )
            .await?;
        views.push(BlockView {
            height: block.height,
            hash: block.hash.clone(),
            status: block.status.name(),
            confirmations: block.confirmations,
            reward_sat: block.coinbase_value_sat,
            pool_fee_sat: block.pool_fee_sat,
            mode: mode_name(block.mode),
            finder: block.address.clone(),
            worker: block.worker.clone(),
            time_ms: block.time_ms,
            effort_percent: (effort.shares > 0).then_some(effort.blocks * 100.0),
        });
    }
    Ok(views)
}

pub(super) async fn miner_view(state: &WebState, address: &str) -> Result<MinerView, LedgerError> {
    let now = unix_millis();
    let ledger = &state.ledger;
    let age = pool_age_ms(state, now).await?;
    let live = state.workers.miner(address).unwrap_or_default();
    let hour = ledger.work_by_worker(address, now - HOUR_MS).await?;
    let five = ledger.work_by_worker(address, now - 5 * MINUTE_MS).await?;
    let day = ledger.work_by_worker(address, now - DAY_MS).await?;
    let mut names: Vec<String> = live.keys().cloned().collect();
    names.extend(day.iter().map(|work| work.worker.clone()));
    names.sort();
    names.dedup();
    let work_of = |rows: &[crate::ledger::WorkerWork], name: &str| {
        rows.iter().find(|row| row.worker == name).cloned()
    };
    let workers = names
        .iter()
        .map(|name| {
            let board = live.get(name).cloned().unwrap_or_default();
            let day_work = work_of(&day, name);
            let rate = |rows: &[crate::ledger::WorkerWork], window: i64| {
                let span = window.min(age) as f64 / 1000.0;
                work_of(rows, name).map_or(0.0, |row| row.work.hashrate(span))
            };
            WorkerView {
                name: name.clone(),
                online: board.connections > 0,
                connections: board.connections,
                hashrate: Hashrates {
                    five_minutes: rate(&five, 5 * MINUTE_MS),
                    hour: rate(&hour, HOUR_MS),
                    day: rate(&day, DAY_MS),
                },
                difficulty: board.difficulty,
                last_share_ms: board
                    .last_share_ms
                    .or(day_work.as_ref().map(|row| row.last_share_ms)),
                accepted: board.accepted,
                stale: board.stale,
                duplicate: board.duplicate,
                low_difficulty: board.low_difficulty,
                rejected: board.rejected,
                best_share_difficulty: board.best_share_difficulty,
                jobs_sent: board.jobs_sent,
                shares_24h: day_work.map_or(0, |row| row.work.shares),
            }
        })
        .collect();
    let mut credits = Vec::new();
    let mut immature_sat = 0;
    for credit in ledger
        .credits_of(address)
        .await?
        .into_iter()
        .take(BLOCKS_SHOWN)
    {
        let Some(block) = ledger.block_by_id(credit.block_id).await? else {
            continue;
        };
        if credit.state == CreditState::Immature {
            immature_sat = credit.amount_sat.saturating_add(immature_sat);
        }
        let explanation = match credit.state {
            CreditState::Coinbase => format!(
                "solo: the block's coinbase paid you {} sat directly (the pool kept its {} sat fee)",
                credit.amount_sat, block.pool_fee_sat
            ),
            _ => ledger
                .explain_credit(block.id, address)
                .await?
                .map_or_else(String::new, |explained| explained.to_string()),
        };
        credits.push(CreditView {
            block_height: block.height,
            block_hash: block.hash,
            state: credit.state.name(),
            amount_sat: credit.amount_sat,
            shares: credit.shares,
            explanation,
        });
    }
    let unsettled_sat = ledger.unsettled_credit_of(address).await?;
    let payments = ledger
        .payments_to(address, PAYMENTS_SHOWN)
        .await?
        .into_iter()
        .map(|payment| PaymentView {
            batch: payment.batch_id,
            state: payment.state.name(),
            txid: payment.txid,
            amount_sat: payment.amount_sat,
            time_ms: payment.created_ms,
        })
        .collect();
    Ok(MinerView {
        address: address.to_string(),
        hashrate: hashrates(state, now, age, Some(address)).await?,
        workers,
        balance_sat: ledger.balance(address).await?,
        immature_sat,
        unsettled_sat,
        credits,
        payments,
        chart: chart(state, now, age, Some(address)).await?,
    })
}

pub(super) async fn batches_view(state: &WebState) -> Result<Vec<BatchView>, LedgerError> {
    Ok(state
        .ledger
        .batches()
        .await?
        .into_iter()
        .take(BLOCKS_SHOWN)
        .map(|batch| BatchView {
            state: batch.state.name(),
            txid: batch.txid,
            total_sat: batch.total_sat,
            miners: batch.lines.len(),
            created_ms: batch.created_ms,
            id: batch.id,
        })
        .collect())
}
