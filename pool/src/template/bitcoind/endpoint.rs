//! Where a node is and how to log in: the URL and credentials of a
//! `[[bitcoind]]` entry, checked once at start.

use super::rpc::RpcError;
use super::BitcoindError;
use crate::config::{BitcoindConfig, Network};
use std::path::{Path, PathBuf};

/// How the pool logs in to a node.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Credentials {
    UserPass {
        user: String,
        password: String,
    },
    /// Core rewrites the cookie on every start, so it is read on every call.
    Cookie(PathBuf),
}

impl Credentials {
    pub(crate) fn from_config(
        node: &BitcoindConfig,
        url: &str,
    ) -> Result<Credentials, BitcoindError> {
        let problem = |reason: &str| BitcoindError::Credentials {
            url: url.to_string(),
            reason: reason.to_string(),
        };
        match (&node.user, &node.password, &node.cookie) {
            (Some(user), Some(password), None) => Ok(Credentials::UserPass {
                user: user.clone(),
                password: password.clone(),
            }),
            (None, None, Some(path)) => Ok(Credentials::Cookie(path.clone())),
            (None, None, None) => Err(problem(
                "no credentials: set `user` and `password`, or `cookie`",
            )),
            (_, _, Some(_)) => Err(problem(
                "both `cookie` and `user`/`password` are set: keep one",
            )),
            (Some(_), None, None) => Err(problem("`user` is set without `password`")),
            (None, Some(_), None) => Err(problem("`password` is set without `user`")),
        }
    }

    /// `(user, password)` as of now.
    pub(crate) fn read(&self) -> Result<(String, String), RpcError> {
        match self {
            Credentials::UserPass { user, password } => Ok((user.clone(), password.clone())),
            Credentials::Cookie(path) => read_cookie(path),
        }
    }

    /// Who we tried to log in as, for a 401.
    pub(crate) fn login(&self) -> String {
        match self {
            Credentials::UserPass { user, .. } => format!("user `{user}`"),
            Credentials::Cookie(path) => format!("the cookie in {}", path.display()),
        }
    }
}

fn read_cookie(path: &Path) -> Result<(String, String), RpcError> {
    let text = std::fs::read_to_string(path).map_err(|error| RpcError::CookieUnreadable {
        path: path.to_path_buf(),
        reason: error.to_string(),
    })?;
    let line = text.lines().next().unwrap_or_default().trim();
    match line.split_once(':') {
        Some((user, password)) if !user.is_empty() => Ok((user.to_string(), password.to_string())),
        _ => Err(RpcError::CookieMalformed {
            path: path.to_path_buf(),
        }),
    }
}

/// Where a node's RPC listens, normalised to `http://host:port[/path]`.
///
/// Without a port, `http://host` would mean port 80; nobody runs Core
/// there, so the network's default RPC port is used instead.
pub(crate) fn normalise_url(url: &str, network: Network) -> Result<String, BitcoindError> {
    let bad = |reason: &str| BitcoindError::BadUrl {
        url: url.to_string(),
        reason: reason.to_string(),
    };
    let rest = match url.split_once("://") {
        Some(("http", rest)) => rest,
        Some(("https", _)) => {
            return Err(bad(
                "https is not supported: Bitcoin Core's RPC speaks plain http",
            ))
        }
        Some((scheme, _)) => {
            return Err(bad(&format!(
                "scheme `{scheme}` is not supported: use http://"
            )))
        }
        None => url,
    };
    // `/` is what an empty path means; it is left out of the name.
    let (authority, path) = match rest.find('/') {
        Some(slash) if &rest[slash..] != "/" => (&rest[..slash], &rest[slash..]),
        Some(slash) => (&rest[..slash], ""),
        None => (rest, ""),
    };
    if authority.contains('@') {
        return Err(bad(
            "credentials in the URL are not supported: use `user`/`password` or `cookie`",
        ));
    }
    let (host, port) = split_host_port(authority).ok_or_else(|| bad("the port is not a number"))?;
    if host.is_empty() {
        return Err(bad("no host"));
    }
    let port = port.unwrap_or(default_rpc_port(network));
    if host.contains(':') {
        Ok(format!("http://[{host}]:{port}{path}"))
    } else {
        Ok(format!("http://{host}:{port}{path}"))
    }
}

/// `host[:port]`, with `[v6]:port` understood; `None` when the port is
/// not a number.
fn split_host_port(authority: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = match authority.strip_prefix('[') {
        Some(bracketed) => {
            let (host, after) = bracketed.split_once(']')?;
            match after {
                "" => (host, None),
                _ => (host, Some(after.strip_prefix(':')?)),
            }
        }
        None => match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    match port {
        Some(port) => Some((host, Some(port.parse().ok()?))),
        None => Some((host, None)),
    }
}

pub(crate) fn default_rpc_port(network: Network) -> u16 {
    match network {
        Network::Mainnet => 8332,
        Network::Testnet4 => 48332,
        Network::Signet => 38332,
        Network::Regtest => 18443,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_normalised() {
        let ok = |url: &str, network| normalise_url(url, network).unwrap();
        assert_eq!(
            ok("http://127.0.0.1:8332", Network::Mainnet),
            "http://127.0.0.1:8332"
        );
        assert_eq!(
            ok("http://127.0.0.1:8332/", Network::Mainnet),
            "http://127.0.0.1:8332"
        );
        assert_eq!(ok("127.0.0.1", Network::Regtest), "http://127.0.0.1:18443");
        assert_eq!(
            ok("http://node/wallet/x", Network::Signet),
            "http://node:38332/wallet/x"
        );
        assert_eq!(
            ok("http://[::1]:1234", Network::Testnet4),
            "http://[::1]:1234"
        );
        assert_eq!(ok("http://[::1]", Network::Testnet4), "http://[::1]:48332");
        for bad in [
            "https://node:8332",
            "ftp://node",
            "http://:8332",
            "http://node:port",
            "http://u:p@node:1",
        ] {
            assert!(normalise_url(bad, Network::Mainnet).is_err(), "{bad}");
        }
    }

    #[test]
    fn credentials_must_be_one_kind() {
        let node = |user: Option<&str>, password: Option<&str>, cookie: Option<&str>| {
            serde_json::from_value::<BitcoindConfig>(serde_json::json!({
                "url": "http://127.0.0.1:1",
                "user": user,
                "password": password,
                "cookie": cookie,
            }))
            .unwrap()
        };
        let url = "http://127.0.0.1:1/";
        assert!(Credentials::from_config(&node(Some("u"), Some("p"), None), url).is_ok());
        assert!(Credentials::from_config(&node(None, None, Some("/c")), url).is_ok());
        for bad in [
            node(None, None, None),
            node(Some("u"), None, None),
            node(None, Some("p"), None),
            node(Some("u"), Some("p"), Some("/c")),
        ] {
            assert!(Credentials::from_config(&bad, url).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn cookie_problems_name_the_file() {
        let missing = Path::new("/nonexistent/pool-test/.cookie");
        let error = read_cookie(missing).unwrap_err();
        assert!(
            error.to_string().contains("/nonexistent/pool-test/.cookie"),
            "{error}"
        );
        assert!(matches!(error, RpcError::CookieUnreadable { .. }));
    }
}
