//! The stop signal: a `tokio::sync::watch::Receiver<bool>`.
//!
//! A miner stops when the value becomes `true`, or when every sender is
//! dropped (so a forgotten sender cannot leave miners running).

use tokio::sync::watch;

/// Completes once `stop` says stop. Cancel-safe: it only reads the channel.
pub async fn stopped(stop: &mut watch::Receiver<bool>) {
    loop {
        if *stop.borrow_and_update() {
            return;
        }
        if stop.changed().await.is_err() {
            return;
        }
    }
}

/// Whether `stop` says stop right now.
pub fn is_stopped(stop: &watch::Receiver<bool>) -> bool {
    *stop.borrow() || stop.has_changed().is_err()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn true_or_a_dropped_sender_stops() {
        let (sender, mut receiver) = watch::channel(false);
        assert!(!is_stopped(&receiver));
        sender.send(true).unwrap();
        stopped(&mut receiver).await;
        assert!(is_stopped(&receiver));
        let (sender, mut receiver) = watch::channel(false);
        drop(sender);
        stopped(&mut receiver).await;
        assert!(is_stopped(&receiver));
    }
}
