//! Splitting whole satoshis in proportion to weights, exactly.

use num_bigint::BigUint;

use crate::Sats;

/// Splits `total` over `weights`: `floor(total × weight / Σ weights)` each,
/// then the satoshis those floors leave over (fewer than `weights.len()`)
/// one each to the largest fractional remainders, equal remainders in index
/// order. The result always adds up to `total`; all zeros when every weight
/// is zero.
///
/// Big integers: `total × weight` needs up to 192 bits.
pub(crate) fn split_by_weight(total: Sats, weights: &[u128]) -> Vec<Sats> {
    let denominator: BigUint = weights.iter().map(|&weight| BigUint::from(weight)).sum();
    if denominator == BigUint::ZERO {
        return vec![0; weights.len()];
    }
    let total_big = BigUint::from(total);
    let mut amounts = Vec::with_capacity(weights.len());
    let mut remainders = Vec::with_capacity(weights.len());
    for &weight in weights {
        let product = &total_big * weight;
        // weight ≤ Σ weights, so the quotient is at most `total`.
        amounts.push(Sats::try_from(&product / &denominator).unwrap_or(total));
        remainders.push(product % &denominator);
    }
    let handed_out: u128 = amounts.iter().map(|&amount| u128::from(amount)).sum();
    // Σ floor ≤ floor Σ = total, so this is the (small) leftover.
    let leftover = (u128::from(total) - handed_out) as usize;

    let mut order: Vec<usize> = (0..weights.len()).collect();
    // Stable sort: equal remainders keep index (address) order.
    order.sort_by(|&a, &b| remainders[b].cmp(&remainders[a]));
    for &index in order.iter().take(leftover) {
        amounts[index] += 1;
    }
    amounts
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ties_go_in_index_order() {
        // 10 / 3 = 3 rem 1 each; one sat left over, all remainders tie → index 0.
        assert_eq!(split_by_weight(10, &[1, 1, 1]), vec![4, 3, 3]);
        // 1001 / 3 = 333 rem 2 each; two left over → indexes 0 and 1.
        assert_eq!(split_by_weight(1_001, &[5, 5, 5]), vec![334, 334, 333]);
    }

    #[test]
    fn largest_remainder_wins_over_index() {
        // 5 over weights 1, 2, 1 (of 4): 1.25, 2.5, 1.25 → floors 1, 2, 1,
        // remainders 1/4, 2/4, 1/4: the one leftover sat goes to index 1.
        assert_eq!(split_by_weight(5, &[1, 2, 1]), vec![1, 3, 1]);
    }

    #[test]
    fn zero_weights_get_nothing() {
        assert_eq!(split_by_weight(100, &[0, 0]), vec![0, 0]);
        assert_eq!(split_by_weight(100, &[]), Vec::<Sats>::new());
        assert_eq!(split_by_weight(100, &[0, 3]), vec![0, 100]);
        assert_eq!(
            split_by_weight(u64::MAX, &[u128::MAX, u128::MAX]),
            vec![1 << 63, (1 << 63) - 1]
        );
    }

    proptest! {
        #[test]
        fn adds_up_and_rounds_by_largest_remainder(
            total in any::<u64>(),
            weights in proptest::collection::vec(prop_oneof![any::<u128>(), 0u128..4], 1..12),
        ) {
            let amounts = split_by_weight(total, &weights);
            let denominator: BigUint = weights.iter().map(|&w| BigUint::from(w)).sum();
            let handed_out: u128 = amounts.iter().map(|&a| u128::from(a)).sum();
            if denominator == BigUint::ZERO {
                prop_assert_eq!(handed_out, 0);
                return Ok(());
            }
            prop_assert_eq!(handed_out, u128::from(total));
            let mut bumped_remainders = Vec::new();
            let mut plain_remainders = Vec::new();
            for (&amount, &weight) in amounts.iter().zip(&weights) {
                let exact_times_denominator = BigUint::from(total) * weight;
                let floor = &exact_times_denominator / &denominator;
                let remainder = &exact_times_denominator % &denominator;
                // |amount − exact| < 1 sat.
                let amount_times_denominator = BigUint::from(amount) * &denominator;
                prop_assert!(amount_times_denominator < &exact_times_denominator + &denominator);
                prop_assert!(&amount_times_denominator + &denominator > exact_times_denominator);
                if BigUint::from(amount) == floor {
                    plain_remainders.push(remainder);
                } else {
                    prop_assert_eq!(BigUint::from(amount), floor + 1u32);
                    bumped_remainders.push(remainder);
                }
            }
            // Every bumped share had at least as large a remainder as any other.
            if let (Some(smallest_bumped), Some(largest_plain)) =
                (bumped_remainders.iter().min(), plain_remainders.iter().max())
            {
                prop_assert!(smallest_bumped >= largest_plain);
            }
        }
    }
}
