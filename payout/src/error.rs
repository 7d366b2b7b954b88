//! What a payout computation refuses, and with which input.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Error)]
pub enum PayoutError {
    #[error("pool fee of {basis_points} basis points is not below 10000 (100 %)")]
    FeeTooHigh { basis_points: u32 },

    #[error("share difficulty {value} is not a finite number >= 0")]
    InvalidShareDifficulty { value: f64 },

    #[error("network difficulty {value} is not a finite number > 0")]
    InvalidNetworkDifficulty { value: f64 },

    #[error("expected block count {value} is not a finite number >= 0")]
    InvalidBlockCount { value: f64 },

    #[error("the PPLNS window target is zero, so no share could ever count")]
    EmptyWindowTarget,

    #[error("window share {id}: {source}")]
    InvalidWindowShare { id: i64, source: Box<PayoutError> },

    #[error(
        "a share of difficulty {share_difficulty} at network difficulty {network_difficulty} \
         is worth more than u64::MAX sat of a {block_reward} sat block"
    )]
    CreditTooLarge {
        block_reward: u128,
        share_difficulty: f64,
        network_difficulty: f64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_input() {
        let fee = PayoutError::FeeTooHigh {
            basis_points: 10_000,
        };
        assert!(fee.to_string().contains("10000 basis points"));

        let share = PayoutError::InvalidWindowShare {
            id: 42,
            source: Box::new(PayoutError::InvalidShareDifficulty { value: -1.5 }),
        };
        assert_eq!(
            share.to_string(),
            "window share 42: share difficulty -1.5 is not a finite number >= 0"
        );
        assert!(std::error::Error::source(&share).is_some());
    }
}
