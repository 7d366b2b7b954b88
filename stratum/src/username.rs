//! The `mining.authorize` user: `<payout address>[.<worker>]`.
//!
//! This crate only splits it; the pool checks the address against its
//! network with rust-bitcoin.

use thiserror::Error;

/// Longest username accepted (a bech32m address is 62 characters).
pub const MAX_USERNAME_LEN: usize = 256;
/// Longest worker name kept.
pub const MAX_WORKER_LEN: usize = 64;

#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Username {
    pub address: String,
    /// The part after the first dot, if any.
    pub worker: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UsernameError {
    #[error("empty username")]
    Empty,
    #[error("username of {0} bytes is too long")]
    TooLong(usize),
    #[error("worker name of {0} bytes is too long (at most {MAX_WORKER_LEN})")]
    WorkerTooLong(usize),
    #[error("username contains the character {0:?}")]
    BadCharacter(char),
}

impl Username {
    pub fn parse(text: &str) -> Result<Username, UsernameError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(UsernameError::Empty);
        }
        if text.len() > MAX_USERNAME_LEN {
            return Err(UsernameError::TooLong(text.len()));
        }
        if let Some(bad) = text
            .chars()
            .find(|c| c.is_control() || c.is_whitespace() || matches!(c, '"' | '\\' | '<' | '>'))
        {
            return Err(UsernameError::BadCharacter(bad));
        }
        let (address, worker) = match text.split_once('.') {
            Some((address, worker)) => (address, (!worker.is_empty()).then_some(worker)),
            None => (text, None),
        };
        if address.is_empty() {
            return Err(UsernameError::Empty);
        }
        if let Some(worker) = worker {
            if worker.len() > MAX_WORKER_LEN {
                return Err(UsernameError::WorkerTooLong(worker.len()));
            }
        }
        Ok(Username {
            address: address.to_string(),
            worker: worker.map(str::to_string),
        })
    }
}

impl std::fmt::Display for Username {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.worker {
            Some(worker) => write!(f, "{}.{}", self.address, worker),
            None => f.write_str(&self.address),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_the_first_dot() {
        let user = Username::parse("bc1qexample.rig.1").unwrap();
        assert_eq!(user.address, "bc1qexample");
        assert_eq!(user.worker.as_deref(), Some("rig.1"));
        assert_eq!(user.to_string(), "bc1qexample.rig.1");
        let bare = Username::parse("bc1qexample").unwrap();
        assert_eq!(bare.worker, None);
        assert_eq!(Username::parse("bc1qexample.").unwrap().worker, None);
    }

    #[test]
    fn refuses_garbage() {
        assert_eq!(Username::parse(""), Err(UsernameError::Empty));
        assert_eq!(Username::parse(".rig"), Err(UsernameError::Empty));
        assert_eq!(
            Username::parse("a\u{0}b"),
            Err(UsernameError::BadCharacter('\u{0}'))
        );
        assert!(matches!(
            Username::parse(&"x".repeat(300)),
            Err(UsernameError::TooLong(300))
        ));
        assert!(matches!(
            Username::parse(&format!("addr.{}", "w".repeat(65))),
            Err(UsernameError::WorkerTooLong(65))
        ));
    }
}
