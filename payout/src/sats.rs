//! Amounts of bitcoin.

/// An amount in satoshis.
///
/// A plain alias rather than a newtype: the pool moves these straight
/// between `bitcoin::Amount`, templates and its ledger, and the rule that
/// matters here (no `f64` on money) holds because every function of this
/// crate takes and returns whole satoshis.
pub type Sats = u64;

/// Satoshis in one bitcoin.
pub const COIN: Sats = 100_000_000;

/// `312500000` as `312,500,000`, for explanations people read.
pub fn group_thousands(value: Sats) -> String {
    let digits = value.to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_by_three_from_the_right() {
        assert_eq!(group_thousands(0), "0");
        assert_eq!(group_thousands(999), "999");
        assert_eq!(group_thousands(1_000), "1,000");
        assert_eq!(group_thousands(312_500_000), "312,500,000");
        assert_eq!(group_thousands(u64::MAX), "18,446,744,073,709,551,615");
    }
}
