//! The pool's configuration: one TOML file, every key with a default,
//! every key overridable from the environment as `POOL_<SECTION>_<KEY>`.
//! `pool.example.toml` documents every key.
//!
//! [`Config::load`] reads the file, applies the environment (`env.rs` has
//! the naming rules) and validates the result (`validate.rs`): a config that
//! loads is one the pool can start with, and every refusal names the key,
//! the value and what is allowed.

mod address;
mod env;
mod error;
mod nodes;
mod validate;

pub use address::simnet_demo_address;
pub use env::ENV_PREFIX;
pub use error::{ConfigError, Invalid};
pub use validate::{DifficultyBounds, MAX_POLL_INTERVAL_MS, MAX_TAG_BYTES, MIN_EXTRANONCE2};

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The whole configuration.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub pool: PoolConfig,
    pub stratum: StratumConfig,
    /// Addresses whose miners send mostly invalid shares are refused a while.
    pub bans: BansConfig,
    /// Where templates come from and where blocks go.
    pub chain: ChainConfig,
    /// One or more nodes, tried in order (fail-over) and all sent every block.
    pub bitcoind: Vec<BitcoindConfig>,
    pub simnet: SimnetConfig,
    pub database: DatabaseConfig,
    pub web: WebConfig,
    pub payout: PayoutConfig,
    pub log: LogConfig,
    pub alerts: AlertsConfig,
}

impl Config {
    /// Reads the TOML file at `path` (none: every default), applies the
    /// `POOL_*` variables of `env` (others are ignored) and validates.
    /// A `path` that cannot be read is an error naming it.
    pub fn load(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        match path {
            None => Config::from_toml_str("", env),
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_path_buf(),
                    source,
                })?;
                Config::parse(&text, &path.display().to_string(), env)
            }
        }
    }

    /// [`Config::load`] with this process's environment.
    pub fn load_with_process_env(path: Option<&Path>) -> Result<Config, ConfigError> {
        Config::load(path, env::process_vars()?)
    }

    /// [`Config::load`] from TOML text rather than a file.
    pub fn from_toml_str(
        text: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        Config::parse(text, "config", env)
    }

    fn parse(
        text: &str,
        origin: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let toml_error = |error| ConfigError::Toml {
            origin: origin.to_string(),
            error,
        };
        // Typed first, so a wrong key or type is reported with its line.
        toml::from_str::<Config>(text).map_err(toml_error)?;
        let mut table: toml::Table = toml::from_str(text).map_err(toml_error)?;
        let set_by = env::apply(&mut table, env)?;
        // `env::apply` checked every section it touched, so this holds.
        let config: Config =
            toml::Value::Table(table)
                .try_into()
                .map_err(|error| ConfigError::Toml {
                    origin: "environment".to_string(),
                    error,
                })?;
        config
            .validate()
            .map_err(|error| error.with_env_origins(&set_by))?;
        Ok(config)
    }
}

/// The chains the pool can mine on.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Network {
    Mainnet,
    Testnet4,
    Signet,
    Regtest,
}

impl Network {
    pub fn to_bitcoin(self) -> bitcoin::Network {
        match self {
            Network::Mainnet => bitcoin::Network::Bitcoin,
            Network::Testnet4 => bitcoin::Network::Testnet4,
            Network::Signet => bitcoin::Network::Signet,
            Network::Regtest => bitcoin::Network::Regtest,
        }
    }

    /// The `chain` field of `getblockchaininfo` on this network.
    pub fn core_chain_name(self) -> &'static str {
        match self {
            Network::Mainnet => "main",
            Network::Testnet4 => "testnet4",
            Network::Signet => "signet",
            Network::Regtest => "regtest",
        }
    }

    /// The name `pool.network` is written with.
    pub fn name(self) -> &'static str {
        match self {
            Network::Mainnet => "mainnet",
            Network::Testnet4 => "testnet4",
            Network::Signet => "signet",
            Network::Regtest => "regtest",
        }
    }

    pub const ALL: [Network; 4] = [
        Network::Mainnet,
        Network::Testnet4,
        Network::Signet,
        Network::Regtest,
    ];
}

impl std::fmt::Display for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How miners are paid.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum PayoutMode {
    /// The coinbase pays the miner who found the block.
    Solo,
    Pps,
    Fpps,
    Pplns,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PoolConfig {
    pub network: Network,
    /// The pool's payout address (pooled modes; the fee output in solo).
    /// Required, and valid for `network`; may be empty only with
    /// `chain.source = "simnet"`, which then pays [`simnet_demo_address`].
    pub address: String,
    /// Written into every coinbase, e.g. `/mypool/`.
    pub tag: String,
    pub mode: PayoutMode,
    /// At most two decimals; read it as [`PoolConfig::fee_basis_points`].
    pub fee_percent: f64,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            network: Network::Regtest,
            address: String::new(),
            tag: "/pool/".to_string(),
            mode: PayoutMode::Pplns,
            fee_percent: 1.0,
        }
    }
}

impl PoolConfig {
    /// The fee in basis points (1.25 % is 125): money downstream is integer.
    /// Exact once [`Config::validate`] passed (0 to 9999, two decimals);
    /// before that an out-of-range fee is clamped into 0..=9999.
    pub fn fee_basis_points(&self) -> u32 {
        // `as` saturates (NaN becomes 0); the clamp keeps the fee below 100 %.
        ((self.fee_percent * 100.0).round() as u32).min(9_999)
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct StratumConfig {
    pub listen: SocketAddr,
    pub start_difficulty: f64,
    pub min_difficulty: f64,
    /// 0 means no limit but the network difficulty.
    pub max_difficulty: f64,
    pub share_interval_secs: f64,
    /// Bytes each miner rolls in the coinbase (2 to 16).
    pub extranonce2_size: usize,
    /// First byte of every extranonce1 this node hands out: several pool
    /// nodes with different prefixes never give two miners the same work.
    pub node_prefix: u8,
    /// The version bits miners may roll (BIP 310), hex.
    pub version_mask: String,
    /// Workers one connection may authorize (proxies carry several).
    pub max_workers_per_connection: usize,
    /// Seconds a new connection has to subscribe and authorize.
    pub handshake_timeout_secs: u64,
    /// Seconds without a line from a miner before it is disconnected.
    pub idle_timeout_secs: u64,
    /// Most connections at once; 0 means 90 % of the file-descriptor limit.
    pub max_connections: usize,
    /// Most connections at once from one IPv4 address or IPv6 /64; 0: no
    /// limit. Generous by default: a farm behind one NAT is one address.
    pub max_connections_per_ip: usize,
    /// Addresses and CIDR ranges (`10.0.0.0/8`, `2001:db8::/32`) exempt
    /// from `max_connections_per_ip` and never refused for a ban.
    pub ip_allowlist: Vec<String>,
    /// Every connection begins with a PROXY protocol header (v1 or v2)
    /// naming the miner's address: the port sits behind a TCP load
    /// balancer, and limits, bans and logs use the address it names.
    pub proxy_protocol: bool,
    /// Addresses and CIDR ranges of the load balancers. With
    /// `proxy_protocol` on it must not be empty, and connections from
    /// anywhere else are closed unread: whoever reaches the port could
    /// otherwise claim any address.
    pub proxy_trusted: Vec<String>,
}

impl Default for StratumConfig {
    fn default() -> Self {
        StratumConfig {
            listen: "0.0.0.0:3333".parse().expect("valid address"),
            start_difficulty: 1024.0,
            min_difficulty: 0.0001,
            max_difficulty: 0.0,
            share_interval_secs: 10.0,
            extranonce2_size: 8,
            node_prefix: 0,
            version_mask: "1fffe000".to_string(),
            max_workers_per_connection: 64,
            handshake_timeout_secs: 30,
            idle_timeout_secs: 900,
            max_connections: 0,
            max_connections_per_ip: 1000,
            ip_allowlist: Vec::new(),
            proxy_protocol: false,
            proxy_trusted: Vec::new(),
        }
    }
}

/// When a connection's shares get its address banned: at least
/// `min_shares` judged over the last one to two windows, and at least
/// `invalid_percent` of them invalid (bad hex, unknown job, low difficulty,
/// duplicate, unauthorized worker). Stale shares after a new block are
/// honest and never count.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BansConfig {
    pub enabled: bool,
    /// Shares are judged over this window and the one before it.
    pub window_secs: u64,
    pub invalid_percent: f64,
    pub min_shares: u32,
    /// How long a banned address is refused.
    pub ban_secs: u64,
}

impl Default for BansConfig {
    fn default() -> Self {
        BansConfig {
            enabled: true,
            window_secs: 600,
            invalid_percent: 90.0,
            min_shares: 100,
            ban_secs: 600,
        }
    }
}

/// Where templates come from.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TemplateSourceKind {
    /// The `[[bitcoind]]` nodes.
    Bitcoind,
    /// The embedded simulated chain (regtest rules).
    Simnet,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ChainConfig {
    pub source: TemplateSourceKind,
    /// How often `getbestblockhash` is polled (the fallback to ZMQ), ≤ 500.
    pub poll_interval_ms: u64,
    /// How often the template is refreshed for new fees.
    pub template_refresh_secs: u64,
    /// Raw hex of every solved block is written here before it is submitted.
    pub blocks_dir: PathBuf,
    /// How long jobs of a previous block are still checked for block
    /// solutions (stale shares that solve a block are submitted anyway).
    pub stale_window_secs: u64,
}

impl Default for ChainConfig {
    fn default() -> Self {
        ChainConfig {
            source: TemplateSourceKind::Bitcoind,
            poll_interval_ms: 500,
            template_refresh_secs: 30,
            blocks_dir: PathBuf::from("blocks"),
            stale_window_secs: 120,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct BitcoindConfig {
    /// `http://127.0.0.1:8332`
    pub url: String,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    /// Path of the node's `.cookie` file (instead of user and password).
    #[serde(default)]
    pub cookie: Option<PathBuf>,
    /// `tcp://127.0.0.1:28332`, the node's `zmqpubhashblock`.
    #[serde(default)]
    pub zmq: Option<String>,
}

/// The simulated chain of `pool demo` and the tests.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SimnetConfig {
    /// Network difficulty of every simulated block (regtest's own is 4.66e-10).
    pub difficulty: f64,
    /// Synthetic mempool transactions offered in each template.
    pub transactions: usize,
}

impl Default for SimnetConfig {
    fn default() -> Self {
        SimnetConfig {
            difficulty: 0.001,
            transactions: 6,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    pub url: String,
    /// Longest a ledger write may wait (a lock, a slow disk) before its
    /// shares are answered "not recorded".
    pub write_timeout_ms: u64,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: "sqlite://pool.db".to_string(),
            write_timeout_ms: 5_000,
        }
    }
}

impl DatabaseConfig {
    /// How the ledger is opened with these settings.
    pub fn ledger_options(&self) -> crate::ledger::LedgerOptions {
        crate::ledger::LedgerOptions {
            write_timeout: std::time::Duration::from_millis(self.write_timeout_ms),
            ..crate::ledger::LedgerOptions::default()
        }
    }
}

/// How miners are credited and paid (`pool payout`, run from cron).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PayoutConfig {
    /// Balances below this stay for a later run.
    pub threshold_sat: u64,
    /// PPLNS: the window is this many blocks' worth of expected work.
    pub window_factor: f64,
    /// FPPS: templates whose transaction fees are averaged.
    pub fpps_fee_window: usize,
    /// Confirmations before a block's credits are paid (coinbase maturity).
    pub maturity: u32,
    /// The wallet of the first `[[bitcoind]]` that pays ("" for the
    /// node's default wallet).
    pub wallet: String,
    /// Take the payment's network fee from the miners' payouts, shared in
    /// proportion to their amounts (Core's `subtractfeefrom`); otherwise
    /// the pool's wallet pays it on top.
    pub fee_from_miners: bool,
    /// Blocks the payment's fee aims to confirm within (Core's
    /// `conf_target`). Payments always signal replace-by-fee, so a stuck
    /// one can be bumped.
    pub conf_target: u32,
}

impl Default for PayoutConfig {
    fn default() -> Self {
        PayoutConfig {
            threshold_sat: 100_000,
            window_factor: 2.0,
            fpps_fee_window: 120,
            maturity: 100,
            wallet: String::new(),
            fee_from_miners: false,
            conf_target: 6,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct WebConfig {
    pub listen: SocketAddr,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            listen: "127.0.0.1:8080".parse().expect("valid address"),
        }
    }
}

/// Alerts POSTed as JSON to webhooks: a worker offline (no accepted share
/// for `offline_after_secs`), back online, a block found.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    /// The operator's webhooks (http:// or https://); none: no alerts.
    pub webhooks: Vec<String>,
    /// Worker alerts only for these payout addresses (empty: every miner).
    pub addresses: Vec<String>,
    pub offline_after_secs: u64,
    /// Let miners set their own webhook on their page (signed with their
    /// payout address). Off by default: the pool then makes requests to
    /// URLs strangers chose.
    pub miner_webhooks: bool,
    /// Accept plain http:// miner webhooks (https:// only otherwise).
    pub allow_http_miner_webhooks: bool,
    /// Let miners' webhooks lead to loopback, private and link-local
    /// addresses (public ones only otherwise): for a pool whose miners'
    /// receivers sit on its own LAN. Anyone who can sign for an address
    /// can then make the pool POST to hosts on that LAN.
    pub allow_private_miner_webhooks: bool,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            webhooks: Vec::new(),
            addresses: Vec::new(),
            offline_after_secs: 600,
            miner_webhooks: false,
            allow_http_miner_webhooks: false,
            allow_private_miner_webhooks: false,
        }
    }
}

/// How `pool run`, `pool payout` and `pool check` log (to stderr).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}
