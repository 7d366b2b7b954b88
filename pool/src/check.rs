//! `pool check`: one line per component the pool needs, each ok or why not,
//! so an operator can fix everything before the first miner connects.
//!
//! [`check`] returns the lines (the binary prints them and sets the exit
//! code), so the checks are testable without the binary.

use crate::config::{Config, TemplateSourceKind};
use std::fmt;
use std::fs::OpenOptions;
use std::io;
use std::net::SocketAddr;
use std::path::Path;

/// How one component fared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Works; the detail says what was found.
    Ok(String),
    /// Does not work; the reason says why.
    Failed(String),
    /// Not checked, and why (not a failure).
    Skipped(String),
}

/// One line of `pool check`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckLine {
    pub component: String,
    pub outcome: Outcome,
}

impl CheckLine {
    fn new(component: impl Into<String>, outcome: Outcome) -> CheckLine {
        CheckLine {
            component: component.into(),
            outcome,
        }
    }

    /// `Ok(detail)` is ok, `Err(reason)` failed.
    pub fn from_result(component: impl Into<String>, result: Result<String, String>) -> Self {
        let outcome = match result {
            Ok(detail) => Outcome::Ok(detail),
            Err(reason) => Outcome::Failed(reason),
        };
        CheckLine::new(component, outcome)
    }

    pub fn failed(&self) -> bool {
        matches!(self.outcome, Outcome::Failed(_))
    }
}

impl fmt::Display for CheckLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.outcome {
            Outcome::Ok(detail) if detail.is_empty() => write!(f, "{}: ok", self.component),
            Outcome::Ok(detail) => write!(f, "{}: ok ({detail})", self.component),
            Outcome::Failed(reason) | Outcome::Skipped(reason) => {
                write!(f, "{}: {reason}", self.component)
            }
        }
    }
}

/// Checks everything `config` relies on, in the order the pool starts:
/// the config itself, the pool address, the template source (every
/// `[[bitcoind]]` node), the database, the blocks directory and both ports.
pub async fn check(config: &Config) -> Vec<CheckLine> {
    let mut lines = vec![CheckLine::from_result(
        "config",
        config
            .validate()
            .map(|()| String::new())
            .map_err(|error| error.to_string()),
    )];
    lines.push(CheckLine::from_result(
        "address",
        config
            .pool_address()
            .map(|address| format!("{address} on {}", config.pool.network))
            .map_err(|problem| problem.to_string()),
    ));
    match config.chain.source {
        TemplateSourceKind::Bitcoind => {
            for node in &config.bitcoind {
                let probed = crate::template::bitcoind::probe(node, config.pool.network).await;
                lines.extend(
                    probed
                        .into_iter()
                        .map(|line| CheckLine::from_result(line.component, line.result)),
                );
            }
            lines.push(check_wallet(config).await);
        }
        TemplateSourceKind::Simnet => lines.push(CheckLine::new(
            "chain",
            Outcome::Ok(format!(
                "simnet, the embedded regtest chain at difficulty {}",
                config.simnet.difficulty
            )),
        )),
    }
    let database = check_database(&config.database.url).await;
    let reachable = !database.failed();
    lines.push(database);
    lines.push(check_ledger(&config.database.url, reachable).await);
    lines.push(CheckLine::from_result(
        "blocks dir",
        check_directory(&config.chain.blocks_dir),
    ));
    lines.push(CheckLine::from_result(
        "stratum listen",
        check_listen(config.stratum.listen),
    ));
    lines.push(CheckLine::from_result(
        "web listen",
        check_listen(config.web.listen),
    ));
    lines
}

/// The wallet `pool payout` pays from: the first node's `payout.wallet`.
/// SOLO pays in the coinbase and needs none.
async fn check_wallet(config: &Config) -> CheckLine {
    if config.pool.mode == crate::config::PayoutMode::Solo {
        return CheckLine::new(
            "wallet",
            Outcome::Skipped("not needed: solo pays miners in the coinbase".to_string()),
        );
    }
    let Some(node) = config.bitcoind.first() else {
        return CheckLine::new(
            "wallet",
            Outcome::Failed("no [[bitcoind]] node".to_string()),
        );
    };
    let probed =
        match crate::payouts::BitcoindWallet::new(node, config.pool.network, &config.payout) {
            Ok(wallet) => wallet.probe().await,
            Err(error) => Err(error.to_string()),
        };
    CheckLine::from_result("wallet", probed)
}

/// `sqlite://path`: the file exists and opens for writing, or its
/// directory takes a new file. PostgreSQL: the server answers.
async fn check_database(url: &str) -> CheckLine {
    let outcome = match url.split_once("://") {
        Some(("sqlite", path)) => match check_sqlite(Path::new(path)) {
            Ok(detail) => Outcome::Ok(detail),
            Err(reason) => Outcome::Failed(reason),
        },
        Some(("postgres" | "postgresql", _)) => match crate::ledger::inspect(url).await {
            Ok(_) => Outcome::Ok("the server answers".to_string()),
            Err(error) => Outcome::Failed(error.to_string()),
        },
        _ => Outcome::Failed(format!(
            "cannot check {url:?}: not sqlite:// or postgres://"
        )),
    };
    CheckLine::new("database", outcome)
}

/// The ledger's schema: up to date, or which migrations the next start
/// applies and what they will change (so an operator reviews them first).
async fn check_ledger(url: &str, reachable: bool) -> CheckLine {
    use crate::ledger::SchemaStatus;
    if !reachable {
        return CheckLine::new(
            "ledger",
            Outcome::Skipped("not checked: the database is not usable".to_string()),
        );
    }
    let newest = crate::ledger::newest_schema_version();
    let outcome = match crate::ledger::inspect(url).await {
        Err(error) => Outcome::Failed(format!("cannot read the schema: {error}")),
        Ok(SchemaStatus::Missing) => Outcome::Ok(format!(
            "no ledger yet: the first start creates it at schema {newest}"
        )),
        Ok(SchemaStatus::Present { version, pending }) if pending.is_empty() => {
            Outcome::Ok(format!("schema {version}, up to date"))
        }
        Ok(SchemaStatus::Present { version, pending }) => {
            let migrations: Vec<String> = pending
                .iter()
                .map(|migration| match &migration.duplicates {
                    Some(report) => format!("{} ({}): {report}", migration.version, migration.name),
                    None => format!("{} ({})", migration.version, migration.name),
                })
                .collect();
            Outcome::Ok(format!(
                "schema {version}; the next start applies migration {}",
                migrations.join("; migration ")
            ))
        }
    };
    CheckLine::new("ledger", outcome)
}

fn check_sqlite(path: &Path) -> Result<String, String> {
    let shown = path.display();
    match std::fs::metadata(path) {
        Ok(metadata) if metadata.is_dir() => Err(format!("{shown} is a directory, not a file")),
        Ok(_) => OpenOptions::new()
            .append(true)
            .open(path)
            .map(|_| format!("{shown} exists"))
            .map_err(|error| format!("{shown} exists but cannot be written: {error}")),
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            let dir = parent(path);
            probe_writable(dir)
                .map(|()| format!("{shown} will be created in {}", dir.display()))
                .map_err(|error| {
                    format!(
                        "cannot create {shown}: directory {} is not writable ({error})",
                        dir.display()
                    )
                })
        }
        Err(error) => Err(format!("cannot read {shown}: {error}")),
    }
}

/// A directory the pool writes into (and creates if missing).
fn check_directory(dir: &Path) -> Result<String, String> {
    let shown = dir.display();
    match std::fs::metadata(dir) {
        Ok(metadata) if !metadata.is_dir() => Err(format!("{shown} is not a directory")),
        Ok(_) => probe_writable(dir)
            .map(|()| format!("{shown} is writable"))
            .map_err(|error| format!("{shown} is not writable ({error})")),
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            // The pool creates it: the nearest existing ancestor must take it.
            let mut ancestor = parent(dir);
            while !ancestor.exists() {
                ancestor = parent(ancestor);
            }
            probe_writable(ancestor)
                .map(|()| format!("{shown} will be created"))
                .map_err(|error| {
                    format!(
                        "cannot create {shown}: {} is not writable ({error})",
                        ancestor.display()
                    )
                })
        }
        Err(error) => Err(format!("cannot read {shown}: {error}")),
    }
}

/// The directory holding `path` (`.` for a bare file name).
fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// Creates and removes a file in `dir`: permission bits alone lie (root,
/// read-only mounts, ACLs).
fn probe_writable(dir: &Path) -> io::Result<()> {
    let probe = dir.join(format!(".pool-check-{}", std::process::id()));
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)?;
    std::fs::remove_file(&probe)
}

fn check_listen(addr: SocketAddr) -> Result<String, String> {
    // Bound and released at once; the pool binds again when it runs.
    match std::net::TcpListener::bind(addr) {
        Ok(_) if addr.port() == 0 => Ok(format!("{addr}: the system picks a free port")),
        Ok(_) => Ok(format!("{addr} is free")),
        Err(error) => Err(format!("cannot bind {addr}: {error}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// A fresh directory under the system's temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> TempDir {
            let dir =
                std::env::temp_dir().join(format!("pool-check-{}-{name}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }
    }

    impl std::ops::Deref for TempDir {
        type Target = Path;
        fn deref(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// A valid simnet config with free ports and a writable database dir.
    fn simnet_config(dir: &Path) -> Config {
        let mut config = Config::default();
        config.chain.source = TemplateSourceKind::Simnet;
        config.chain.blocks_dir = dir.join("blocks");
        config.database.url = format!("sqlite://{}", dir.join("pool.db").display());
        config.stratum.listen = "127.0.0.1:0".parse().unwrap();
        config.web.listen = "127.0.0.1:0".parse().unwrap();
        config
    }

    fn line<'a>(lines: &'a [CheckLine], component: &str) -> &'a CheckLine {
        lines
            .iter()
            .find(|line| line.component == component)
            .unwrap_or_else(|| panic!("no {component} line in {lines:?}"))
    }

    #[tokio::test]
    async fn a_good_simnet_config_passes() {
        let dir = TempDir::new("good");
        let lines = check(&simnet_config(&dir)).await;
        assert!(lines.iter().all(|line| !line.failed()), "{lines:?}");
        assert_eq!(line(&lines, "config").to_string(), "config: ok");
        let address = line(&lines, "address").to_string();
        assert!(address.starts_with("address: ok (bcrt1q"), "{address}");
        assert!(address.ends_with(" on regtest)"), "{address}");
        let database = line(&lines, "database").to_string();
        assert!(database.contains("will be created in"), "{database}");
        let ledger = line(&lines, "ledger").to_string();
        assert!(
            ledger.starts_with("ledger: ok (no ledger yet: the first start creates it"),
            "{ledger}"
        );
        std::fs::write(dir.join("pool.db"), b"").unwrap();
        let lines = check(&simnet_config(&dir)).await;
        assert!(line(&lines, "database")
            .to_string()
            .ends_with("pool.db exists)"));
    }

    #[tokio::test]
    async fn an_unwritable_database_dir_is_reported() {
        let dir = TempDir::new("unwritable");
        // A file where a directory should be: unwritable even for root.
        let not_a_dir = dir.join("file");
        std::fs::write(&not_a_dir, b"").unwrap();
        let mut config = simnet_config(&dir);
        config.database.url = format!("sqlite://{}/pool.db", not_a_dir.display());
        config.chain.blocks_dir = not_a_dir.join("blocks");
        let lines = check(&config).await;
        let database = line(&lines, "database");
        assert!(database.failed());
        let text = database.to_string();
        assert!(text.starts_with("database: cannot"), "{text}");
        assert!(text.contains(&not_a_dir.display().to_string()), "{text}");
        assert!(line(&lines, "blocks dir").failed());

        assert!(!line(&lines, "ledger").failed(), "not checked: {lines:?}");

        // A server that does not answer is a failure, with its reason.
        config.database.url = "postgres://pool@127.0.0.1:1/pool".to_string();
        let lines = check(&config).await;
        let database = line(&lines, "database");
        assert!(database.failed(), "{database}");
        assert!(
            database.to_string().contains("cannot open the database"),
            "{database}"
        );
    }

    #[tokio::test]
    async fn a_taken_port_is_reported() {
        let dir = TempDir::new("port");
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap();
        let mut config = simnet_config(&dir);
        config.stratum.listen = addr;
        let lines = check(&config).await;
        let stratum = line(&lines, "stratum listen");
        assert!(stratum.failed());
        assert!(
            stratum
                .to_string()
                .starts_with(&format!("stratum listen: cannot bind {addr}: ")),
            "{stratum}"
        );
        assert!(!line(&lines, "web listen").failed());

        config.stratum.listen = "127.0.0.1:0".parse().unwrap();
        config.web.listen = addr;
        let lines = check(&config).await;
        assert!(line(&lines, "web listen").failed());
        drop(taken);
        let lines = check(&config).await;
        assert_eq!(
            line(&lines, "web listen").to_string(),
            format!("web listen: ok ({addr} is free)")
        );
    }

    #[tokio::test]
    async fn every_node_gets_the_lines_of_its_probe() {
        let dir = TempDir::new("node");
        // A port nobody listens on: taken, then released.
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let mut config = simnet_config(&dir);
        config.chain.source = TemplateSourceKind::Bitcoind;
        config.pool.address = "bcrt1qdavt4j2sd7dlhqsavtnfxvzppw6k7qy97tmnu9".to_string();
        config.bitcoind = vec![crate::config::BitcoindConfig {
            url: format!("http://{closed}"),
            user: Some("pool".to_string()),
            password: Some("secret".to_string()),
            cookie: None,
            zmq: None,
        }];
        let lines = check(&config).await;
        assert!(!lines.iter().any(|line| line.component == "chain"));
        let node: Vec<&CheckLine> = lines
            .iter()
            .filter(|line| line.component.starts_with("bitcoind "))
            .collect();
        assert!(!node.is_empty(), "{lines:?}");
        assert!(node.iter().any(|line| line.failed()), "{node:?}");
        assert!(node[0].component.contains(&closed.to_string()), "{node:?}");
    }

    #[tokio::test]
    async fn an_invalid_config_fails_its_line() {
        let dir = TempDir::new("invalid");
        let mut config = simnet_config(&dir);
        config.pool.fee_percent = 100.0;
        let lines = check(&config).await;
        assert!(line(&lines, "config").failed());
        assert!(line(&lines, "config")
            .to_string()
            .contains("pool.fee_percent = 100.0"));
    }
}
