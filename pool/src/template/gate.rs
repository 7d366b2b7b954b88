//! The one door every source's templates pass before they are published.
//!
//! [`TemplateGate::admit`] runs [`check`](super::check::check) and the one
//! rule that needs memory: a template on a previous block an earlier
//! template built on must have the same height. A refused template is
//! counted by reason ([`TemplateRefusals`], `/metrics`) and logged once (a
//! node repeating the same bad answer every poll is one warning, not one a
//! second); the source keeps publishing the last good template.

use super::check::{self, ChainRules};
use super::{RefusalReason, Template, TemplateError};
use bitcoin::BlockHash;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Previous blocks whose height is remembered: more than any reorg.
const KNOWN_PREVIOUS_BLOCKS: usize = 64;

/// Templates refused since the start, by reason.
#[derive(Debug, Default)]
pub struct TemplateRefusals {
    counts: [AtomicU64; RefusalReason::ALL.len()],
}

impl TemplateRefusals {
    pub fn record(&self, reason: RefusalReason) {
        // One per fetched template: a u64 outlasts any node's answer rate.
        self.counts[reason.index()].fetch_add(1, Ordering::Relaxed);
    }

    pub fn count(&self, reason: RefusalReason) -> u64 {
        self.counts[reason.index()].load(Ordering::Relaxed)
    }

    /// Every reason with its count, zeros included (for `/metrics`).
    pub fn snapshot(&self) -> Vec<(&'static str, u64)> {
        RefusalReason::ALL
            .iter()
            .map(|reason| (reason.name(), self.count(*reason)))
            .collect()
    }

    pub fn total(&self) -> u64 {
        RefusalReason::ALL
            .iter()
            .map(|reason| self.count(*reason))
            .fold(0, u64::saturating_add)
    }
}

/// Checks a source's templates; one per source.
#[derive(Debug)]
pub struct TemplateGate {
    rules: ChainRules,
    /// The height of the templates built on each recent previous block.
    heights: VecDeque<(BlockHash, u32)>,
    refusals: Arc<TemplateRefusals>,
    /// The refusal last logged: the same one again is not logged again
    /// until a good template came in between.
    last_logged: Option<String>,
}

impl TemplateGate {
    pub fn new(rules: ChainRules) -> TemplateGate {
        TemplateGate {
            rules,
            heights: VecDeque::with_capacity(KNOWN_PREVIOUS_BLOCKS + 1),
            refusals: Arc::default(),
            last_logged: None,
        }
    }

    /// The counters, for `/metrics`.
    pub fn refusals(&self) -> Arc<TemplateRefusals> {
        Arc::clone(&self.refusals)
    }

    /// Whether `template` may be published at `now` (unix seconds). A
    /// refusal is counted and logged here; the caller keeps its last good
    /// template.
    pub fn admit(&mut self, template: &Template, now: u32) -> Result<(), TemplateError> {
        let checked =
            check::check(template, &self.rules, now).and_then(|()| self.check_height(template));
        match checked {
            Ok(()) => {
                self.remember(template);
                self.last_logged = None;
                Ok(())
            }
            Err(error) => {
                self.refuse(Some(u64::from(template.height)), &error);
                Err(error)
            }
        }
    }

    /// Counts and logs a template refused before it could be checked (its
    /// JSON did not decode); `height` as the answer gave it, if it did.
    pub fn refuse(&mut self, height: Option<u64>, error: &TemplateError) {
        let reason = error.reason();
        self.refusals.record(reason);
        let key = error.to_string();
        if self.last_logged.as_ref() == Some(&key) {
            tracing::debug!(height, reason = reason.name(), %error, "template refused again");
            return;
        }
        tracing::warn!(
            height,
            reason = reason.name(),
            %error,
            "template refused; the last good one stays in force"
        );
        self.last_logged = Some(key);
    }

    fn check_height(&self, template: &Template) -> Result<(), TemplateError> {
        let previous = template.previous_block_hash;
        match self.heights.iter().find(|(hash, _)| *hash == previous) {
            Some(&(_, expected)) if expected != template.height => {
                Err(TemplateError::HeightNotNext {
                    height: template.height,
                    expected,
                    previous,
                })
            }
            _ => Ok(()),
        }
    }

    fn remember(&mut self, template: &Template) {
        let previous = template.previous_block_hash;
        if self.heights.iter().any(|(hash, _)| *hash == previous) {
            return;
        }
        self.heights.push_back((previous, template.height));
        if self.heights.len() > KNOWN_PREVIOUS_BLOCKS {
            self.heights.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::hashes::Hash as _;
    use bitcoincore_rpc::json::GetBlockTemplateResult;

    fn capture() -> Template {
        let path = format!(
            "{}/../vectors/gbt-regtest-empty.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"));
        let gbt: GetBlockTemplateResult = serde_json::from_str(&text).unwrap();
        Template::from_gbt(gbt).unwrap()
    }

    #[test]
    fn a_repeated_refusal_is_counted_each_time_and_logged_once_per_episode() {
        let mut gate = TemplateGate::new(ChainRules::regtest());
        let good = capture();
        let now = good.curtime;
        let mut bad = good.clone();
        bad.coinbase_value = bitcoin::Amount::MAX;
        for _ in 0..3 {
            assert!(gate.admit(&bad, now).is_err());
        }
        assert_eq!(gate.refusals().count(RefusalReason::CoinbaseValue), 3);
        let logged = gate.last_logged.clone();
        assert!(logged
            .as_deref()
            .is_some_and(|text| text.contains("21 million")));
        // A good template ends the episode: the next refusal is news again.
        assert!(gate.admit(&good, now).is_ok());
        assert_eq!(gate.last_logged, None);
        assert!(gate.admit(&bad, now).is_err());
        assert_eq!(gate.last_logged, logged);
        assert_eq!(gate.refusals().total(), 4);
    }

    #[test]
    fn heights_are_remembered_for_a_bounded_number_of_previous_blocks() {
        let mut gate = TemplateGate::new(ChainRules::regtest());
        let mut template = capture();
        let now = template.curtime;
        for tag in 0..=KNOWN_PREVIOUS_BLOCKS as u8 {
            template.previous_block_hash = BlockHash::from_byte_array([tag + 1; 32]);
            assert!(gate.admit(&template, now).is_ok());
        }
        assert_eq!(gate.heights.len(), KNOWN_PREVIOUS_BLOCKS);
        // The first one was forgotten: another height on it is not judged.
        template.previous_block_hash = BlockHash::from_byte_array([1; 32]);
        template.height += 1;
        assert!(gate.admit(&template, now).is_ok());
        // The latest is remembered.
        template.previous_block_hash =
            BlockHash::from_byte_array([KNOWN_PREVIOUS_BLOCKS as u8 + 1; 32]);
        assert!(gate.admit(&template, now).is_err());
    }
}
