//! New blocks pushed by the node: a ZMQ `hashblock` subscription.
//!
//! ZMQ is the fast path only. A PUB socket drops messages while nobody is
//! connected and says nothing when it stops, so the `getbestblockhash`
//! poll always runs beside it.

use super::coordinator::Event;
use bitcoin::hashes::Hash;
use bitcoin::BlockHash;
use std::time::Duration;
use tokio::sync::mpsc;
use zeromq::{Endpoint, Socket, SocketOptions, SocketRecv, SubSocket, ZmqMessage};

const TOPIC: &str = "hashblock";
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// `tcp://host:port`, the only transport Core publishes on that we use.
pub(crate) fn check_endpoint(zmq: &str) -> Result<Endpoint, String> {
    match zmq.parse::<Endpoint>() {
        Ok(endpoint @ Endpoint::Tcp(..)) => Ok(endpoint),
        Ok(_) => Err("only tcp://host:port is supported".to_string()),
        Err(error) => Err(format!("not tcp://host:port: {error}")),
    }
}

/// A SUB socket connected to `zmq` and subscribed to `hashblock`.
pub(crate) async fn connect(zmq: &str) -> Result<SubSocket, String> {
    let mut options = SocketOptions::default();
    options.connect_timeout(CONNECT_TIMEOUT);
    let mut socket = SubSocket::with_options(options);
    // zeromq retries a refused connection until its own timeout; bound it
    // here as well in case a handshake stalls.
    let connected = tokio::time::timeout(
        CONNECT_TIMEOUT + Duration::from_secs(1),
        socket.connect(zmq),
    )
    .await;
    match connected {
        Ok(Ok(())) => {}
        Ok(Err(error)) => return Err(error.to_string()),
        Err(_) => {
            return Err(format!(
                "no connection within {} s",
                CONNECT_TIMEOUT.as_secs()
            ))
        }
    }
    socket
        .subscribe(TOPIC)
        .await
        .map_err(|error| error.to_string())?;
    Ok(socket)
}

/// The block hash of a `hashblock` message (`topic`, 32 bytes, sequence).
fn block_hash(message: &ZmqMessage) -> Option<BlockHash> {
    if message.get(0)?.as_ref() != TOPIC.as_bytes() {
        return None;
    }
    // Core sends the hash in display (reversed) order.
    let mut bytes: [u8; 32] = message.get(1)?.as_ref().try_into().ok()?;
    bytes.reverse();
    Some(BlockHash::from_byte_array(bytes))
}

/// Runs until the coordinator is gone: reconnects with a backoff, forwards
/// every `hashblock` as [`Event::ZmqBlock`].
pub(crate) async fn subscribe(node: usize, url: String, zmq: String, events: mpsc::Sender<Event>) {
    let mut backoff = Duration::from_secs(1);
    loop {
        match connect(&zmq).await {
            Ok(mut socket) => {
                tracing::info!(node = %url, zmq = %zmq, "subscribed to hashblock");
                backoff = Duration::from_secs(1);
                loop {
                    match socket.recv().await {
                        Ok(message) => {
                            let Some(hash) = block_hash(&message) else {
                                continue;
                            };
                            tracing::debug!(node = %url, block_hash = %hash, "ZMQ hashblock");
                            if events.send(Event::ZmqBlock { node }).await.is_err() {
                                return;
                            }
                        }
                        Err(error) => {
                            tracing::warn!(node = %url, zmq = %zmq, %error, "ZMQ subscription lost; polling covers new blocks");
                            break;
                        }
                    }
                }
            }
            Err(error) => {
                tracing::warn!(node = %url, zmq = %zmq, %error, "ZMQ connect failed; polling covers new blocks");
            }
        }
        if events.is_closed() {
            return;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Does the node's `getzmqnotifications` entry `address` publish where the
/// pool connects? Hosts may differ (`0.0.0.0` binds, NAT); the port must not.
pub(crate) fn same_port(address: &str, zmq: &str) -> bool {
    match (check_endpoint(address), check_endpoint(zmq)) {
        (Ok(Endpoint::Tcp(_, published)), Ok(Endpoint::Tcp(_, wanted))) => published == wanted,
        _ => address == zmq,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        assert!(check_endpoint("tcp://127.0.0.1:28332").is_ok());
        assert!(check_endpoint("tcp://node.local:28332").is_ok());
        assert!(check_endpoint("http://127.0.0.1:28332").is_err());
        assert!(check_endpoint("127.0.0.1:28332").is_err());
        assert!(same_port("tcp://0.0.0.0:28332", "tcp://10.0.0.5:28332"));
        assert!(!same_port("tcp://127.0.0.1:28333", "tcp://127.0.0.1:28332"));
    }

    #[test]
    fn decodes_hashblock() {
        let display = "0000036673e43d51c9a2ae99042a14a2568e8ceab3678485e84ed1b22da9e657";
        let mut raw = [0u8; 32];
        for (i, byte) in raw.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&display[2 * i..2 * i + 2], 16).unwrap();
        }
        let mut message = ZmqMessage::from(TOPIC.to_string());
        message.push_back(raw.to_vec().into());
        message.push_back(vec![1, 0, 0, 0].into());
        assert_eq!(block_hash(&message).unwrap().to_string(), display);
    }
}
