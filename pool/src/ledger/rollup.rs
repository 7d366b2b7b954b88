//! Work per minute, address and worker (`share_minutes`) and of the whole
//! pool (`pool_minutes`), kept with the shares: every batch the writer
//! commits adds its sums to both in the same transaction. Stats read whole
//! minutes from these and only the partial minutes at a span's edges from
//! `shares`, so the answer is the one the shares alone would give, at the
//! cost of the minutes in the span: a pool-wide day is 1 440 rows however
//! many shares it had.

use super::records::NewShare;
use std::collections::BTreeMap;

pub(super) const MINUTE_MS: i64 = 60_000;

/// One row's worth of a batch: the key and the sums to add.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct MinuteSums {
    pub minute: i64,
    pub address: String,
    pub worker: String,
    pub shares: i64,
    pub difficulty: f64,
    pub blocks: f64,
    pub last_ms: i64,
}

/// A batch's sums, sorted by key: concurrent writers on one PostgreSQL
/// database then lock the rows they share in the same order (no deadlock).
/// Shares before 1970 are not summed; reads take them from `shares`.
pub(super) fn minute_sums<'a>(shares: impl IntoIterator<Item = &'a NewShare>) -> Vec<MinuteSums> {
    let mut sums: BTreeMap<(i64, &str, &str), MinuteSums> = BTreeMap::new();
    for share in shares.into_iter().filter(|share| share.time_ms >= 0) {
        let minute = share.time_ms / MINUTE_MS;
        let entry = sums
            .entry((minute, &share.address, &share.worker))
            .or_insert_with(|| MinuteSums {
                minute,
                address: share.address.clone(),
                worker: share.worker.clone(),
                shares: 0,
                difficulty: 0.0,
                blocks: 0.0,
                last_ms: share.time_ms,
            });
        entry.shares += 1;
        entry.difficulty += share.difficulty;
        // As SQL sums it: a division by zero is no value, skipped.
        if share.network_difficulty != 0.0 {
            entry.blocks += share.difficulty / share.network_difficulty;
        }
        entry.last_ms = entry.last_ms.max(share.time_ms);
    }
    sums.into_values().collect()
}

/// Which of `shares` the database inserted (their hashes are `inserted`),
/// and the minute sums of those alone.
pub(super) fn inserted_sums(
    shares: &[NewShare],
    inserted: &rustc_hash::FxHashSet<Vec<u8>>,
) -> (Vec<bool>, Vec<MinuteSums>) {
    let flags: Vec<bool> = shares
        .iter()
        .map(|share| inserted.contains(&share.hash[..]))
        .collect();
    let written = shares
        .iter()
        .zip(&flags)
        .filter_map(|(share, inserted)| inserted.then_some(share));
    let sums = minute_sums(written);
    (flags, sums)
}

/// One minute of the whole pool: the batch's sums over every address.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct PoolMinute {
    pub minute: i64,
    pub shares: i64,
    pub difficulty: f64,
    pub blocks: f64,
}

/// `sums` (sorted by minute first) added up per minute, in minute order.
pub(super) fn pool_minutes(sums: &[MinuteSums]) -> Vec<PoolMinute> {
    let mut minutes: Vec<PoolMinute> = Vec::new();
    for sum in sums {
        match minutes.last_mut() {
            Some(last) if last.minute == sum.minute => {
                last.shares += sum.shares;
                last.difficulty += sum.difficulty;
                last.blocks += sum.blocks;
            }
            _ => minutes.push(PoolMinute {
                minute: sum.minute,
                shares: sum.shares,
                difficulty: sum.difficulty,
                blocks: sum.blocks,
            }),
        }
    }
    minutes
}

/// How a span `[from_ms, to_ms)` is read: whole minutes `[minutes.0,
/// minutes.1)` from `share_minutes`, the rest (`edges`, each `[from, to)`
/// in ms, possibly empty) from `shares`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Span {
    pub minutes: Option<(i64, i64)>,
    pub edges: [(i64, i64); 2],
}

pub(super) fn split(from_ms: i64, to_ms: i64) -> Span {
    let ceil = from_ms.div_euclid(MINUTE_MS) + i64::from(from_ms.rem_euclid(MINUTE_MS) != 0);
    let first = ceil.max(0);
    let last = to_ms.div_euclid(MINUTE_MS);
    if first >= last {
        return Span {
            minutes: None,
            edges: [(from_ms, to_ms), (to_ms, to_ms)],
        };
    }
    Span {
        minutes: Some((first, last)),
        edges: [(from_ms, first * MINUTE_MS), (last * MINUTE_MS, to_ms)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn share(time_ms: i64, address: &str, worker: &str, difficulty: f64) -> NewShare {
        NewShare {
            node: 0,
            address: address.into(),
            worker: worker.into(),
            job_id: 0,
            difficulty,
            network_difficulty: 4.0,
            time_ms,
            is_block: false,
            hash: [0; 32],
            credit_sat: 0,
        }
    }

    #[test]
    fn a_batch_sums_by_minute_address_and_worker_in_key_order() {
        let sums = minute_sums(&[
            share(120_500, "b", "w", 2.0),
            share(60_000, "a", "w", 1.0),
            share(119_999, "a", "w", 3.0),
            share(120_000, "a", "w", 8.0),
            share(-5, "a", "w", 1.0),
        ]);
        let keys: Vec<(i64, &str, i64, f64, i64)> = sums
            .iter()
            .map(|sum| {
                (
                    sum.minute,
                    sum.address.as_str(),
                    sum.shares,
                    sum.difficulty,
                    sum.last_ms,
                )
            })
            .collect();
        assert_eq!(
            keys,
            [
                (1, "a", 2, 4.0, 119_999),
                (2, "a", 1, 8.0, 120_000),
                (2, "b", 1, 2.0, 120_500)
            ]
        );
        assert_eq!(sums[0].blocks, 1.0);
        let pool: Vec<(i64, i64, f64)> = pool_minutes(&sums)
            .iter()
            .map(|minute| (minute.minute, minute.shares, minute.difficulty))
            .collect();
        assert_eq!(pool, [(1, 2, 4.0), (2, 2, 10.0)]);
    }

    #[test]
    fn a_span_is_whole_minutes_between_two_raw_edges() {
        assert_eq!(
            split(59_000, 185_000),
            Span {
                minutes: Some((1, 3)),
                edges: [(59_000, 60_000), (180_000, 185_000)]
            }
        );
        // On minute boundaries the edges are empty.
        assert_eq!(
            split(60_000, 180_000),
            Span {
                minutes: Some((1, 3)),
                edges: [(60_000, 60_000), (180_000, 180_000)]
            }
        );
        // Inside one minute: all raw.
        assert_eq!(split(61_000, 119_000).minutes, None);
        assert_eq!(split(61_000, 119_000).edges[0], (61_000, 119_000));
        // From the beginning of time: negative times are read raw.
        assert_eq!(
            split(i64::MIN, 125_000),
            Span {
                minutes: Some((0, 2)),
                edges: [(i64::MIN, 0), (120_000, 125_000)]
            }
        );
        assert_eq!(
            split(i64::MIN, i64::MAX).minutes,
            Some((0, i64::MAX / MINUTE_MS))
        );
    }
}
