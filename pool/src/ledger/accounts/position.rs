//! The operator's position under PPS and FPPS: what the pool credited
//! miners for their shares against what its blocks earned. The pool
//! carries the variance, so this is how an operator sees it is safe.

use super::super::db::with_pool;
use super::super::{Ledger, LedgerError};
use sqlx::Row;
use std::collections::BTreeMap;

const MS_PER_DAY: i64 = 86_400_000;

/// One UTC day (or the total, with `day` = "total").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DayPosition {
    /// `YYYY-MM-DD`.
    pub day: String,
    /// PPS/FPPS credits of the shares accepted that day.
    pub credited_sat: u64,
    /// Coinbase value of the day's PPS/FPPS blocks that matured.
    pub earned_sat: u64,
    /// Coinbase value of the day's PPS/FPPS blocks not yet mature.
    pub immature_sat: u64,
}

impl DayPosition {
    /// Earned minus credited: positive when blocks paid for the shares.
    pub fn net_sat(&self) -> i128 {
        i128::from(self.earned_sat) - i128::from(self.credited_sat)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OperatorPosition {
    /// Oldest day first.
    pub days: Vec<DayPosition>,
    pub total: DayPosition,
}

const CREDITED_BY_DAY: &str =
    "SELECT time_ms / $1 AS day, CAST(SUM(credit_sat) AS BIGINT) AS credited \
     FROM shares WHERE credit_sat > 0 GROUP BY time_ms / $1";

const BLOCKS_BY_DAY: &str = "SELECT time_ms / $1 AS day, status, \
     CAST(SUM(coinbase_value_sat) AS BIGINT) AS value FROM blocks \
     WHERE mode IN ('pps', 'fpps') AND status <> 'orphaned' GROUP BY time_ms / $1, status";

impl Ledger {
    pub async fn operator_position(&self) -> Result<OperatorPosition, LedgerError> {
        let mut days: BTreeMap<i64, DayPosition> = BTreeMap::new();
        with_pool!(&self.inner.db, pool => {
            let rows = sqlx::query(CREDITED_BY_DAY)
                .bind(MS_PER_DAY)
                .fetch_all(pool)
                .await
                .map_err(LedgerError::Query)?;
            for row in &rows {
                let day: i64 = row.try_get("day").map_err(LedgerError::Query)?;
                let credited: i64 = row.try_get("credited").map_err(LedgerError::Query)?;
                days.entry(day).or_default().credited_sat += credited.max(0) as u64;
            }
            let rows = sqlx::query(BLOCKS_BY_DAY)
                .bind(MS_PER_DAY)
                .fetch_all(pool)
                .await
                .map_err(LedgerError::Query)?;
            for row in &rows {
                let day: i64 = row.try_get("day").map_err(LedgerError::Query)?;
                let status: String = row.try_get("status").map_err(LedgerError::Query)?;
                let value: i64 = row.try_get("value").map_err(LedgerError::Query)?;
                let entry = days.entry(day).or_default();
                if status == "confirmed" {
                    entry.earned_sat += value.max(0) as u64;
                } else {
                    entry.immature_sat += value.max(0) as u64;
                }
            }
            Ok::<(), LedgerError>(())
        })?;
        let mut position = OperatorPosition {
            total: DayPosition {
                day: "total".to_string(),
                ..DayPosition::default()
            },
            ..OperatorPosition::default()
        };
        for (day, mut entry) in days {
            entry.day = civil_date(day);
            position.total.credited_sat += entry.credited_sat;
            position.total.earned_sat += entry.earned_sat;
            position.total.immature_sat += entry.immature_sat;
            position.days.push(entry);
        }
        Ok(position)
    }
}

/// `YYYY-MM-DD` of a day number since 1970-01-01 (Howard Hinnant's
/// civil-from-days; no date crate needed for one format).
fn civil_date(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::civil_date;

    #[test]
    fn day_numbers_become_utc_dates() {
        assert_eq!(civil_date(0), "1970-01-01");
        assert_eq!(civil_date(19_723), "2024-01-01");
        assert_eq!(civil_date(20_782), "2026-11-25");
        assert_eq!(civil_date(11_016), "2000-02-29");
    }
}
