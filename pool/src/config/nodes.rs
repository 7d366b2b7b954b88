//! The `[[bitcoind]]` nodes: where they are and how to log in.

use super::error::toml_string;
use super::{BitcoindConfig, Config, Invalid, TemplateSourceKind};
use std::collections::HashMap;

impl Config {
    pub(super) fn check_nodes(&self, problems: &mut Vec<Invalid>) {
        if self.chain.source == TemplateSourceKind::Bitcoind && self.bitcoind.is_empty() {
            problems.push(Invalid::missing(
                "bitcoind",
                "no [[bitcoind]] node while chain.source = \"bitcoind\": add one (url plus \
                 user and password, or cookie), or set chain.source = \"simnet\"",
            ));
        }
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (index, node) in self.bitcoind.iter().enumerate() {
            check_node(index, node, problems);
            if let Some(first) = seen.insert(node.url.as_str(), index) {
                problems.push(Invalid::new(
                    format!("bitcoind[{index}].url"),
                    toml_string(&node.url),
                    format!("is also bitcoind[{first}].url: list each node once"),
                ));
            }
        }
    }
}

fn check_node(index: usize, node: &BitcoindConfig, problems: &mut Vec<Invalid>) {
    let key = |name: &str| format!("bitcoind[{index}].{name}");
    if let Err(problem) = check_endpoint(&node.url, "http", true) {
        problems.push(Invalid::new(
            key("url"),
            toml_string(&node.url),
            format!("{problem} (Bitcoin Core's RPC, like http://127.0.0.1:8332)"),
        ));
    }
    let given = |value: &Option<String>| value.as_deref().is_some_and(|v| !v.is_empty());
    let user = given(&node.user);
    let password = given(&node.password);
    let cookie = node
        .cookie
        .as_ref()
        .is_some_and(|path| !path.as_os_str().is_empty());
    match (user, password, cookie) {
        (true, true, false) | (false, false, true) => {}
        (false, false, false) => problems.push(Invalid::missing(
            format!("bitcoind[{index}]"),
            "has no credentials: set user and password (rpcauth), or cookie (the path of \
             the node's .cookie file)",
        )),
        (_, _, true) => problems.push(Invalid::new(
            key("cookie"),
            toml_string(
                &node
                    .cookie
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
            ),
            "is set together with user/password: use one or the other",
        )),
        (true, false, false) => problems.push(Invalid::missing(
            key("password"),
            "is missing: user needs a password (or use cookie instead of both)",
        )),
        (false, true, false) => problems.push(Invalid::missing(
            key("user"),
            "is missing: password needs a user (or use cookie instead of both)",
        )),
    }
    if let Some(zmq) = &node.zmq {
        if let Err(problem) = check_endpoint(zmq, "tcp", false) {
            problems.push(Invalid::new(
                key("zmq"),
                toml_string(zmq),
                format!("{problem} (the node's zmqpubhashblock, like tcp://127.0.0.1:28332)"),
            ));
        }
    }
}

/// `scheme://host:port`, with a path after it only if `path_allowed`
/// (Core's `/wallet/<name>`).
fn check_endpoint(text: &str, scheme: &str, path_allowed: bool) -> Result<(), String> {
    let Some(rest) = text
        .strip_prefix(scheme)
        .and_then(|r| r.strip_prefix("://"))
    else {
        return Err(format!("must be {scheme}://host:port"));
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    if !path_allowed && !path.is_empty() {
        return Err(format!("must be {scheme}://host:port, without a path"));
    }
    if authority.contains('@') {
        return Err("must not hold credentials: use user and password, or cookie".to_string());
    }
    let (host, port) = match authority.strip_prefix('[') {
        Some(bracketed) => match bracketed.split_once(']') {
            Some((host, after)) => (host, after.strip_prefix(':')),
            None => return Err("has an unclosed [ in its IPv6 host".to_string()),
        },
        None => match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    // Only a bracketed IPv6 host may hold colons.
    let bracketed = authority.starts_with('[');
    let malformed = |c: char| c.is_whitespace() || (c == ':' && !bracketed);
    if host.is_empty() || host.chars().any(malformed) {
        return Err(format!(
            "must be {scheme}://host:port; the host is missing or malformed"
        ));
    }
    match port.map(str::parse::<u16>) {
        Some(Ok(port)) if port > 0 => Ok(()),
        Some(_) => Err("has a port that is not a number from 1 to 65535".to_string()),
        None => Err(format!("must be {scheme}://host:port; the port is missing")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        for good in [
            "http://127.0.0.1:8332",
            "http://node.lan:18443/wallet/pool",
            "http://[::1]:8332",
        ] {
            assert_eq!(check_endpoint(good, "http", true), Ok(()), "{good}");
        }
        for bad in [
            "127.0.0.1:8332",
            "https://127.0.0.1:8332",
            "http://127.0.0.1",
            "http://:8332",
            "http://127.0.0.1:0",
            "http://127.0.0.1:99999",
            "http://u:p@127.0.0.1:8332",
            "http://[::1:8332",
            "http://::1:8332",
        ] {
            assert!(check_endpoint(bad, "http", true).is_err(), "{bad}");
        }
        assert!(check_endpoint("tcp://127.0.0.1:28332", "tcp", false).is_ok());
        assert!(check_endpoint("tcp://127.0.0.1:28332/x", "tcp", false).is_err());
    }
}
