//! PPLNS split: examples to check on paper, and the exact-sum properties.

use num_bigint::BigUint;
use proptest::prelude::*;

use super::*;

fn share(id: i64, address: &str, difficulty: f64, network_difficulty: f64) -> WindowShare {
    WindowShare {
        id,
        address: address.to_string(),
        difficulty,
        network_difficulty,
    }
}

fn amounts(split: &PplnsSplit) -> Vec<(&str, Sats)> {
    split
        .credits
        .iter()
        .map(|credit| (credit.address.as_str(), credit.amount))
        .collect()
}

fn one_percent() -> Fee {
    Fee::from_basis_points(100).unwrap_or(Fee::ZERO)
}

#[test]
fn straddling_share_counts_only_inside_the_window() -> Result<(), PayoutError> {
    // Network difficulty 100, window 2 blocks. Newest first:
    //   alice 50  → 0.5 block  (window 0.5)
    //   bob   100 → 1.0 block  (window 1.5)
    //   carol 100 → 1.0 block, only 0.5 fits (window 2.0, full)
    //   dave  100 → outside the window
    // Coinbase 1,000,000, fee 1 % → pool 10,000, miners 990,000:
    //   alice 0.5/2 × 990,000 = 247,500; bob 1/2 → 495,000; carol 0.5/2 → 247,500.
    let shares = vec![
        share(4, "alice", 50.0, 100.0),
        share(3, "bob", 100.0, 100.0),
        share(2, "carol", 100.0, 100.0),
        share(1, "dave", 100.0, 100.0),
    ];
    let split = pplns_split(1_000_000, one_percent(), Score::from_blocks(2.0)?, shares)?;
    assert_eq!(
        amounts(&split),
        vec![("alice", 247_500), ("bob", 495_000), ("carol", 247_500)]
    );
    assert_eq!((split.pool_fee, split.miners_reward), (10_000, 990_000));
    assert!(split.full_window);
    assert_eq!(split.window_score, Score::from_blocks(2.0)?);
    assert_eq!(
        split.credit("carol").map(|c| c.score),
        Some(Score::from_blocks(0.5)?)
    );
    assert_eq!((split.shares_used, split.oldest_share_id), (3, Some(2)));
    assert_eq!(split.credit("dave"), None);
    Ok(())
}

#[test]
fn young_pool_splits_everything_over_the_shares_there_are() -> Result<(), PayoutError> {
    // Window 2 blocks but only 0.75 block of shares (network difficulty 100):
    //   alice 50 → 0.5, bob 25 → 0.25. Not full.
    // The pool keeps only its 1 % (10,000 of 1,000,000); the 990,000 left go
    //   2/3 to alice = 660,000 and 1/3 to bob = 330,000.
    let shares = vec![share(2, "alice", 50.0, 100.0), share(1, "bob", 25.0, 100.0)];
    let split = pplns_split(1_000_000, one_percent(), Score::from_blocks(2.0)?, shares)?;
    assert_eq!(amounts(&split), vec![("alice", 660_000), ("bob", 330_000)]);
    assert_eq!(split.pool_fee, 10_000);
    assert!(!split.full_window);
    assert_eq!(split.window_score, Score::from_blocks(0.75)?);
    assert_eq!((split.shares_used, split.oldest_share_id), (2, Some(1)));
    Ok(())
}

#[test]
fn leftover_sats_go_to_ties_by_address() -> Result<(), PayoutError> {
    // Three equal shares, coinbase 1,001, no fee: 1001 / 3 = 333 rem 2 each.
    // Two sats are left over and all remainders tie, so they go to the first
    // two addresses in ascending order, whatever order the shares came in:
    //   a 334, b 334, c 333.
    let shares = vec![
        share(3, "c", 1.0, 10.0),
        share(2, "b", 1.0, 10.0),
        share(1, "a", 1.0, 10.0),
    ];
    let split = pplns_split(1_001, Fee::ZERO, Score::from_blocks(1.0)?, shares)?;
    assert_eq!(amounts(&split), vec![("a", 334), ("b", 334), ("c", 333)]);
    Ok(())
}

#[test]
fn leftover_sats_go_to_the_largest_remainder_first() -> Result<(), PayoutError> {
    // Network difficulty 8, coinbase 5, no fee. a: 1 share (1/8), b: 2
    // shares (2/8), c: 1 share (1/8); window 0.5 block, all shares count.
    //   a 5 × 1/4 = 1.25, b 5 × 2/4 = 2.5, c 1.25 → floors 1, 2, 1 = 4.
    // One sat left: b's remainder (0.5) is the largest, so b gets it, not a.
    let shares = vec![
        share(4, "c", 1.0, 8.0),
        share(3, "b", 1.0, 8.0),
        share(2, "b", 1.0, 8.0),
        share(1, "a", 1.0, 8.0),
    ];
    let split = pplns_split(5, Fee::ZERO, Score::from_blocks(0.5)?, shares)?;
    assert_eq!(amounts(&split), vec![("a", 1), ("b", 3), ("c", 1)]);
    assert_eq!(split.credit("b").map(|c| c.shares), Some(2));
    Ok(())
}

#[test]
fn each_share_weighs_by_the_network_difficulty_of_its_time() -> Result<(), PayoutError> {
    // The network retargeted from 100 to 200 between bob's share and alice's.
    // Same share difficulty 100, but alice's proves 100/200 = 0.5 block and
    // bob's 100/100 = 1 block.
    //
    // Window 2 blocks, not full (1.5): miners' 990,000 split 1/3 : 2/3 →
    // alice 330,000, bob 660,000. Using today's difficulty for both would
    // have paid them equally.
    let shares = || {
        vec![
            share(2, "alice", 100.0, 200.0),
            share(1, "bob", 100.0, 100.0),
        ]
    };
    let split = pplns_split(1_000_000, one_percent(), Score::from_blocks(2.0)?, shares())?;
    assert_eq!(amounts(&split), vec![("alice", 330_000), ("bob", 660_000)]);
    assert_eq!(split.window_score, Score::from_blocks(1.5)?);

    // Window 1 block: alice's 0.5 counts whole, and bob's older share
    // straddles the edge for the other 0.5 → 495,000 each.
    let split = pplns_split(1_000_000, one_percent(), Score::from_blocks(1.0)?, shares())?;
    assert_eq!(amounts(&split), vec![("alice", 495_000), ("bob", 495_000)]);
    assert!(split.full_window);
    Ok(())
}

#[test]
fn no_shares_leave_the_coinbase_to_the_pool() -> Result<(), PayoutError> {
    let split = pplns_split(
        1_000_000,
        one_percent(),
        Score::from_blocks(2.0)?,
        Vec::new(),
    )?;
    assert!(split.credits.is_empty());
    assert_eq!((split.pool_fee, split.miners_reward), (1_000_000, 0));
    assert_eq!(
        (split.window_score, split.full_window),
        (Score::ZERO, false)
    );
    assert_eq!((split.shares_used, split.oldest_share_id), (0, None));

    // Shares of zero difficulty prove no work: same outcome, listed at 0.
    let split = pplns_split(
        1_000_000,
        one_percent(),
        Score::from_blocks(2.0)?,
        vec![share(1, "alice", 0.0, 100.0)],
    )?;
    assert_eq!(amounts(&split), vec![("alice", 0)]);
    assert_eq!(split.pool_fee, 1_000_000);
    Ok(())
}

#[test]
fn refuses_an_empty_window_and_bad_shares() {
    assert_eq!(
        pplns_split(1, Fee::ZERO, Score::ZERO, vec![share(1, "a", 1.0, 1.0)]),
        Err(PayoutError::EmptyWindowTarget)
    );
    assert!(matches!(
        pplns_split(
            1,
            Fee::ZERO,
            Score::ONE_BLOCK,
            vec![share(5, "a", 1.0, f64::NAN)]
        ),
        Err(PayoutError::InvalidWindowShare { id: 5, .. })
    ));
}

#[test]
fn explains_a_credit_in_one_sentence() -> Result<(), PayoutError> {
    // Network difficulty 64. Alice: 16 shares of difficulty 1 (1/64 block
    // each) = 0.25 block; bob: 7 shares of 16 (1/4 each) = 1.75 blocks.
    // Window 2 blocks, full. Alice's part 0.25 / 2 = 12.5 % of the
    // 312,500,000 − 1 % = 309,375,000 sat → 38,671,875 sat.
    let mut shares = Vec::new();
    for id in 0..16 {
        shares.push(share(id, "alice", 1.0, 64.0));
    }
    for id in 16..23 {
        shares.push(share(id, "bob", 16.0, 64.0));
    }
    shares.reverse();
    let split = pplns_split(312_500_000, one_percent(), Score::from_blocks(2.0)?, shares)?;
    let alice = split.explain("alice");
    assert_eq!(alice.amount, 38_671_875);
    assert_eq!(
        alice.to_string(),
        "16 shares in the window scoring 0.25 of 2.00 blocks: \
         12.5 % of 312,500,000 sat after the 1 % pool fee = 38,671,875 sat"
    );
    assert_eq!(
        split.explain("nobody").to_string(),
        "no shares in the window of 2.00 blocks: 0 sat"
    );
    assert_eq!(split.explain("nobody").miners_reward, 309_375_000);

    let young = pplns_split(
        1_000,
        Fee::ZERO,
        Score::from_blocks(2.0)?,
        vec![share(1, "carol", 1.0, 4.0)],
    )?;
    assert_eq!(
        young.explain("carol").to_string(),
        "1 share in the window scoring 0.25 of 0.25 blocks (the window was not yet full): \
         100 % of 1,000 sat after the 0 % pool fee = 1,000 sat"
    );
    Ok(())
}

/// Difficulties over many orders of magnitude.
fn difficulty() -> impl Strategy<Value = f64> {
    (1.0f64..10.0, -5i32..15).prop_map(|(mantissa, power)| mantissa * 10f64.powi(power))
}

/// Network difficulties from regtest to mainnet.
fn network_difficulty() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(4.6e-10),
        (1.0f64..10.0, -10i32..15).prop_map(|(mantissa, power)| mantissa * 10f64.powi(power)),
    ]
}

/// A share set: addresses from a small pool so they repeat, and up to three
/// network difficulties so the window spans retargets.
fn share_set() -> impl Strategy<Value = Vec<WindowShare>> {
    proptest::collection::vec(network_difficulty(), 1..4).prop_flat_map(|networks| {
        let picks = networks.len();
        proptest::collection::vec((0usize..5, difficulty(), 0..picks), 0..60).prop_map(
            move |drawn| {
                drawn
                    .into_iter()
                    .enumerate()
                    .map(|(index, (address, difficulty, network))| {
                        share(
                            1_000 - index as i64,
                            &format!("addr{address}"),
                            difficulty,
                            networks[network],
                        )
                    })
                    .collect()
            },
        )
    })
}

fn window_target() -> impl Strategy<Value = Score> {
    prop_oneof![
        (0.01f64..10.0).prop_map(|blocks| Score::from_blocks(blocks).unwrap_or(Score::ONE_BLOCK)),
        (1u128..).prop_map(Score::from_raw),
    ]
}

proptest! {
    #[test]
    fn credits_and_fee_add_up_to_the_coinbase(
        coinbase_value in 0u64..=2_100_000_000_000_000,
        bp in 0u32..10_000,
        target in window_target(),
        shares in share_set(),
    ) {
        let fee = Fee::from_basis_points(bp)?;
        let split = pplns_split(coinbase_value, fee, target, shares.clone())?;

        let credited: u64 = split.credits.iter().map(|credit| credit.amount).sum();
        prop_assert_eq!(credited + split.pool_fee, coinbase_value);
        prop_assert_eq!(split.miners_reward, coinbase_value - split.pool_fee);
        if split.window_score == Score::ZERO {
            prop_assert_eq!(split.pool_fee, coinbase_value);
        } else {
            prop_assert_eq!(split.pool_fee, fee.of(coinbase_value));
        }

        // The window: recomputed share by share, independently of the walk.
        let mut open = target.raw();
        let mut expected = std::collections::BTreeMap::<&str, (u64, u128)>::new();
        let mut used: usize = 0;
        for share in &shares {
            if open == 0 {
                break;
            }
            let counted = Score::of_share(share.difficulty, share.network_difficulty)?.raw().min(open);
            open -= counted;
            used += 1;
            let entry = expected.entry(share.address.as_str()).or_default();
            entry.0 += 1;
            entry.1 += counted;
        }
        prop_assert_eq!(split.full_window, open == 0);
        prop_assert_eq!(split.window_score.raw(), target.raw() - open);
        prop_assert_eq!(split.shares_used, used as u64);
        prop_assert_eq!(split.oldest_share_id, used.checked_sub(1).map(|last| shares[last].id));
        let listed: Vec<(&str, u64, u128)> = split
            .credits
            .iter()
            .map(|credit| (credit.address.as_str(), credit.shares, credit.score.raw()))
            .collect();
        let wanted: Vec<(&str, u64, u128)> =
            expected.into_iter().map(|(address, (count, score))| (address, count, score)).collect();
        prop_assert_eq!(listed, wanted);

        // Each credit is within one satoshi of its exact share of the reward.
        if split.window_score != Score::ZERO {
            let window = BigUint::from(split.window_score.raw());
            for credit in &split.credits {
                let exact_times_window = BigUint::from(split.miners_reward) * credit.score.raw();
                let amount_times_window = BigUint::from(credit.amount) * &window;
                prop_assert!(amount_times_window < &exact_times_window + &window);
                prop_assert!(&amount_times_window + &window > exact_times_window);
            }
        }
    }

    #[test]
    fn a_window_filled_share_by_share_splits_like_the_whole_list(
        coinbase_value in 0u64..=2_100_000_000_000_000,
        bp in 0u32..10_000,
        target in window_target(),
        shares in share_set(),
    ) {
        // A pager pushes every share of a page, full or not: shares pushed
        // after the window filled must change nothing.
        let fee = Fee::from_basis_points(bp)?;
        let mut window = PplnsWindow::new(target)?;
        for share in shares.clone() {
            window.push(share)?;
        }
        prop_assert_eq!(window.split(coinbase_value, fee), pplns_split(coinbase_value, fee, target, shares)?);
    }

    #[test]
    fn explanation_matches_the_credit(
        coinbase_value in 0u64..=2_100_000_000_000_000,
        bp in 0u32..10_000,
        target in window_target(),
        shares in share_set(),
        asked in 0usize..6,
    ) {
        let split = pplns_split(coinbase_value, Fee::from_basis_points(bp)?, target, shares)?;
        let address = format!("addr{asked}");
        let explanation = split.explain(&address);
        let credit = split.credit(&address);
        prop_assert_eq!(explanation.amount, credit.map_or(0, |c| c.amount));
        prop_assert_eq!(explanation.shares, credit.map_or(0, |c| c.shares));
        prop_assert_eq!(explanation.window_score, split.window_score);
        prop_assert!(explanation.to_string().ends_with(" sat"));
    }
}
