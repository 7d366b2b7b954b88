//! Blocks: each credited block's split against its scheme (PPLNS window,
//! SOLO coinbase, nothing for PPS and FPPS), its credits' states against
//! its status, and its `block` balance moves against what matured.

use super::block_records::{compare_credits, compare_moves};
use super::difference::{sats, Check, Difference};
use super::pplns::{recompute, Recomputed};
use super::split::{pplns_expected, Expected};
use super::{listed, AuditReport, AuditSettings};
use crate::config::PayoutMode;
use crate::ledger::audit_reads::{AuditBlock, AuditCredit, LedgerSnapshot, MoveFilter};
use crate::ledger::LedgerError;
use payout::{Fee, Score};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Status {
    Submitted,
    Confirmed,
    Orphaned,
}

impl Status {
    fn parse(text: &str) -> Option<Status> {
        match text {
            "submitted" => Some(Status::Submitted),
            "confirmed" => Some(Status::Confirmed),
            "orphaned" => Some(Status::Orphaned),
            _ => None,
        }
    }
}

fn parse_mode(text: &str) -> Option<PayoutMode> {
    match text {
        "pplns" => Some(PayoutMode::Pplns),
        "solo" => Some(PayoutMode::Solo),
        "pps" => Some(PayoutMode::Pps),
        "fpps" => Some(PayoutMode::Fpps),
        _ => None,
    }
}

/// What a credit's state must be in a block of `mode` and `status`.
fn credit_state(mode: PayoutMode, status: Status) -> &'static str {
    match (mode, status) {
        (PayoutMode::Solo, _) => "coinbase",
        (_, Status::Submitted) => "immature",
        (_, Status::Confirmed) => "matured",
        (_, Status::Orphaned) => "reversed",
    }
}

/// Blocks that differ from the config without money being wrong: one
/// note each kind, listing them.
#[derive(Default)]
struct Unusual {
    other_parameters: Vec<String>,
    other_mode: Vec<String>,
}

/// Checks every block, a page at a time, then the `block` moves that
/// name no block.
pub(super) async fn check_blocks(
    snapshot: &mut LedgerSnapshot,
    settings: &AuditSettings,
    removed_table: bool,
    report: &mut AuditReport,
) -> Result<(), LedgerError> {
    let mut unusual = Unusual::default();
    let mut after = i64::MIN;
    loop {
        let page = snapshot.blocks_page(after, settings.page_rows).await?;
        for block in &page {
            after = block.id;
            check_block(
                snapshot,
                block,
                settings,
                removed_table,
                report,
                &mut unusual,
            )
            .await?;
        }
        if page.len() < settings.page_rows as usize {
            break;
        }
    }
    if !unusual.other_parameters.is_empty() {
        report.notes.push(format!(
            "{} blocks were credited with a fee or window other than the config's ({} fee, {} window) \
             and were recomputed with their own: {}",
            unusual.other_parameters.len(),
            settings.fee,
            window_blocks(settings.window),
            listed(&unusual.other_parameters)
        ));
    }
    if !unusual.other_mode.is_empty() {
        report.notes.push(format!(
            "{} blocks were found in another payout mode than the config's {}: {}",
            unusual.other_mode.len(),
            crate::ledger::mode_name(settings.mode),
            listed(&unusual.other_mode)
        ));
    }
    let mut after = i64::MIN;
    loop {
        let page = snapshot
            .moves_page(MoveFilter::BlockWithoutBlock, after, settings.page_rows)
            .await?;
        for stray in &page {
            after = stray.id;
            report.differences.push(Difference::new(
                Check::BlockMove,
                Some(&stray.address),
                0,
                stray.amount_sat,
                format!("balance move block/{} names no block", stray.reference),
            ));
        }
        if page.len() < settings.page_rows as usize {
            return Ok(());
        }
    }
}

async fn check_block(
    snapshot: &mut LedgerSnapshot,
    block: &AuditBlock,
    settings: &AuditSettings,
    removed_table: bool,
    report: &mut AuditReport,
    unusual: &mut Unusual,
) -> Result<(), LedgerError> {
    report.counts.blocks += 1;
    let name = format!("block {} (id {})", block.height, block.id);
    let mode = parse_mode(&block.mode);
    let status = Status::parse(&block.status);
    let coinbase_value = u64::try_from(block.coinbase_value_sat).ok();
    let mut odd = |what: String| {
        report.differences.push(Difference::new(
            Check::Block,
            None,
            0,
            0,
            format!("{name} {what}"),
        ))
    };
    match mode {
        None => odd(format!(
            "has a payout mode the audit does not know: {:?}",
            block.mode
        )),
        Some(mode) if mode != settings.mode => unusual
            .other_mode
            .push(format!("{name} ({})", crate::ledger::mode_name(mode))),
        Some(_) => {}
    }
    if status.is_none() {
        odd(format!(
            "has a status the audit does not know: {:?}",
            block.status
        ));
    }
    if coinbase_value.is_none() {
        odd(format!(
            "has a negative coinbase value: {}",
            block.coinbase_value_sat
        ));
    }
    let credits = snapshot.credits_of_block(block.id).await?;
    let moves: BTreeMap<String, i64> = snapshot
        .moves_of(&["block"], &block.id.to_string())
        .await?
        .into_iter()
        .map(|mv| (mv.address, mv.amount_sat))
        .collect();
    let (Some(mode), Some(status), Some(coinbase_value)) = (mode, status, coinbase_value) else {
        // Nothing to recompute: only what matured may be in the balances.
        let matured = credits
            .iter()
            .filter(|credit| credit.state == "matured")
            .map(|credit| (credit.address.clone(), i128::from(credit.amount_sat)))
            .collect();
        compare_moves(&name, block.id, &matured, &credits, &moves, None, report);
        return Ok(());
    };
    if !block.credited {
        check_uncredited(
            snapshot,
            block,
            settings,
            status,
            mode,
            coinbase_value,
            &name,
            &credits,
            &moves,
            report,
        )
        .await?;
        return Ok(());
    }
    let (fee, target) = stored_parameters(block, settings, &name, report);
    let config_fee = matches!(mode, PayoutMode::Pplns | PayoutMode::Solo) && fee != settings.fee;
    let config_window = mode == PayoutMode::Pplns && target != settings.window;
    if config_fee || config_window {
        unusual.other_parameters.push(format!(
            "{name} ({} fee, {} window)",
            fee,
            window_blocks(target)
        ));
    }
    let expected = match mode {
        // An orphaned block pays nobody: its credits only need to be reversed.
        PayoutMode::Pplns if status == Status::Orphaned => None,
        PayoutMode::Pplns => {
            pplns_expected(
                snapshot,
                block,
                coinbase_value,
                target,
                fee,
                &name,
                &credits,
                removed_table,
                settings,
                report,
            )
            .await?
        }
        PayoutMode::Solo => {
            report.counts.splits_recomputed += 1;
            let split = payout::solo_split(coinbase_value, fee);
            Some(Expected {
                amounts: BTreeMap::from([(block.address.clone(), i128::from(split.finder))]),
                pool_fee: i128::from(split.pool_fee),
                how: format!(
                    "the SOLO split of {} sat at {fee}",
                    sats(coinbase_value.into())
                ),
            })
        }
        PayoutMode::Pps | PayoutMode::Fpps => Some(Expected {
            amounts: BTreeMap::new(),
            pool_fee: i128::from(coinbase_value),
            how: format!(
                "a {} block paid its miners per share, so the block itself",
                crate::ledger::mode_name(mode)
            ),
        }),
    };
    if let Some(expected) = &expected {
        compare_credits(
            &name, block, status, mode, expected, &credits, &moves, report,
        );
    }
    let wanted_state = credit_state(mode, status);
    if matches!(mode, PayoutMode::Pplns | PayoutMode::Solo) {
        for credit in credits.iter().filter(|credit| credit.state != wanted_state) {
            report.differences.push(Difference::new(
                Check::CreditState,
                Some(&credit.address),
                credit.amount_sat,
                credit.amount_sat,
                format!(
                    "{name} is {} but its credit is {:?}, not {wanted_state:?}",
                    block.status, credit.state
                ),
            ));
        }
    }
    // Only a confirmed PPLNS block's credits belong in the balances.
    let payable: BTreeMap<String, i128> =
        if mode == PayoutMode::Pplns && status == Status::Confirmed {
            match &expected {
                Some(expected) => expected.amounts.clone(),
                None => credits
                    .iter()
                    .map(|credit| (credit.address.clone(), i128::from(credit.amount_sat)))
                    .collect(),
            }
        } else {
            BTreeMap::new()
        };
    compare_moves(
        &name,
        block.id,
        &payable,
        &credits,
        &moves,
        Some(status),
        report,
    );
    Ok(())
}

/// The block's own fee and window, as it was credited; the config's
/// (with a difference saying so) where the stored ones are unreadable.
fn stored_parameters(
    block: &AuditBlock,
    settings: &AuditSettings,
    name: &str,
    report: &mut AuditReport,
) -> (Fee, Score) {
    let fee = u32::try_from(block.fee_basis_points)
        .ok()
        .and_then(|bp| Fee::from_basis_points(bp).ok());
    let target = match parse_mode(&block.mode) {
        Some(PayoutMode::Pplns) => block
            .window_target
            .parse::<u128>()
            .ok()
            .filter(|&raw| raw > 0)
            .map(Score::from_raw),
        _ => Some(settings.window),
    };
    if fee.is_none() || target.is_none() {
        report.differences.push(Difference::new(
            Check::Block,
            None,
            0,
            0,
            format!(
                "{name} stores an unreadable fee ({}) or window ({:?}); recomputed with the config's",
                block.fee_basis_points, block.window_target
            ),
        ));
    }
    (
        fee.unwrap_or(settings.fee),
        target.unwrap_or(settings.window),
    )
}

#[allow(clippy::too_many_arguments)]
async fn check_uncredited(
    snapshot: &mut LedgerSnapshot,
    block: &AuditBlock,
    settings: &AuditSettings,
    status: Status,
    mode: PayoutMode,
    coinbase_value: u64,
    name: &str,
    credits: &[AuditCredit],
    moves: &BTreeMap<String, i64>,
    report: &mut AuditReport,
) -> Result<(), LedgerError> {
    for credit in credits {
        report.differences.push(Difference::new(
            Check::BlockCredit,
            Some(&credit.address),
            0,
            credit.amount_sat,
            format!("{name} is not marked credited, yet holds a credit"),
        ));
    }
    match status {
        Status::Submitted => report.counts.blocks_awaiting_credit += 1,
        Status::Confirmed if mode == PayoutMode::Pplns => {
            report.counts.splits_recomputed += 1;
            let outcome = recompute(
                snapshot,
                block,
                coinbase_value,
                settings.window,
                settings.fee,
                false,
                settings.page_rows,
            )
            .await?;
            if let Ok(Recomputed { split, .. }) = outcome {
                for credit in split.credits.iter().filter(|credit| credit.amount > 0) {
                    report.differences.push(Difference::new(
                        Check::BlockCredit,
                        Some(&credit.address),
                        credit.amount,
                        0,
                        format!(
                            "{name} is confirmed but was never credited: its window with the config's \
                             fee and window gives {} sat",
                            sats(credit.amount.into())
                        ),
                    ));
                }
            }
        }
        Status::Confirmed | Status::Orphaned => {}
    }
    compare_moves(
        name,
        block.id,
        &BTreeMap::new(),
        credits,
        moves,
        Some(status),
        report,
    );
    Ok(())
}

/// `2.00 blocks`.
pub(super) fn window_blocks(score: Score) -> String {
    format!("{:.2} blocks", score.as_f64())
}
