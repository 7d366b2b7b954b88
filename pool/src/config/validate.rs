//! The rules a loaded configuration must meet. Each broken rule is an
//! [`Invalid`] naming the key, the value and what is allowed.

use super::error::{toml_float, toml_string};
use super::TemplateSourceKind;
use super::{BansConfig, Config, ConfigError, Invalid, Network, PoolConfig, StratumConfig};
use crate::server::guard::{IpRange, IpRangeError};
use std::net::SocketAddr;
use stratum::extranonce::MAX_EXTRANONCE2;
use stratum::{Difficulty, VersionMask};

/// The coinbase carries the tag in its scriptSig, which may hold 100 bytes
/// in all (BIP 34 height and extranonces included).
pub const MAX_TAG_BYTES: usize = 32;

/// Below 2 bytes a fast miner runs out of extranonce2 within one job.
pub const MIN_EXTRANONCE2: usize = 2;

/// A new block must reach miners fast; polling is the fallback to ZMQ.
pub const MAX_POLL_INTERVAL_MS: u64 = 500;

/// Longest time vardiff may aim for between shares: an hour is already
/// past any pool's use, and far below what a `Duration` holds.
pub const MAX_SHARE_INTERVAL_SECS: f64 = 3600.0;

/// Most workers one connection may be allowed to authorize.
pub const MAX_WORKERS_PER_CONNECTION: usize = 4096;

/// Shortest ledger write timeout: below it a busy disk fails honest writes.
pub const MIN_WRITE_TIMEOUT_MS: u64 = 100;
/// Fewer judged shares would ban a miner for a handful of unlucky rejects.
pub const MIN_BAN_SHARES: u32 = 10;

/// The share difficulties of `[stratum]`, checked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DifficultyBounds {
    pub start: Difficulty,
    pub min: Difficulty,
    /// `None`: no limit but the network difficulty.
    pub max: Option<Difficulty>,
}

impl Config {
    /// `Ok` when every rule holds, else all the broken ones at once.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let problems = self.problems();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(problems))
        }
    }

    /// Every broken rule, in file order.
    pub fn problems(&self) -> Vec<Invalid> {
        let mut problems = Vec::new();
        self.check_pool(&mut problems);
        check_stratum(&self.stratum, &mut problems);
        check_bans(&self.bans, &mut problems);
        self.check_chain(&mut problems);
        self.check_nodes(&mut problems);
        if !(self.simnet.difficulty.is_finite() && self.simnet.difficulty > 0.0) {
            problems.push(Invalid::new(
                "simnet.difficulty",
                toml_float(self.simnet.difficulty),
                "must be a finite number above 0",
            ));
        }
        check_database_url(&self.database.url, &mut problems);
        if self.database.write_timeout_ms < MIN_WRITE_TIMEOUT_MS {
            problems.push(Invalid::new(
                "database.write_timeout_ms",
                self.database.write_timeout_ms.to_string(),
                format!(
                    "must be at least {MIN_WRITE_TIMEOUT_MS} (a busy disk would fail honest writes)"
                ),
            ));
        }
        check_payout(&self.payout, &mut problems);
        check_alerts(&self.alerts, &mut problems);
        if overlaps(self.stratum.listen, self.web.listen) {
            problems.push(Invalid::new(
                "web.listen",
                toml_string(&self.web.listen.to_string()),
                format!(
                    "takes the port of stratum.listen = {}: the two servers need their own ports",
                    toml_string(&self.stratum.listen.to_string())
                ),
            ));
        }
        problems
    }

    fn check_pool(&self, problems: &mut Vec<Invalid>) {
        let pool = &self.pool;
        if self.chain.source == TemplateSourceKind::Simnet && pool.network != Network::Regtest {
            problems.push(Invalid::new(
                "pool.network",
                toml_string(pool.network.name()),
                "must be \"regtest\" with chain.source = \"simnet\" (the simulated chain \
                 follows regtest rules)",
            ));
        }
        if let Err(problem) = self.pool_address() {
            problems.push(problem);
        }
        check_fee(pool, problems);
        check_tag(&pool.tag, problems);
    }

    fn check_chain(&self, problems: &mut Vec<Invalid>) {
        let chain = &self.chain;
        if !(1..=MAX_POLL_INTERVAL_MS).contains(&chain.poll_interval_ms) {
            problems.push(Invalid::new(
                "chain.poll_interval_ms",
                chain.poll_interval_ms.to_string(),
                format!(
                    "must be 1 to {MAX_POLL_INTERVAL_MS} (milliseconds): when ZMQ misses a \
                     block, polling must still find it fast"
                ),
            ));
        }
        if chain.template_refresh_secs == 0 {
            problems.push(Invalid::new(
                "chain.template_refresh_secs",
                "0".to_string(),
                "must be at least 1 (seconds between template refreshes)",
            ));
        }
        if chain.blocks_dir.as_os_str().is_empty() {
            problems.push(Invalid::new(
                "chain.blocks_dir",
                toml_string(""),
                "must name a directory: every solved block is written there before it is \
                 submitted",
            ));
        }
    }
}

fn check_fee(pool: &PoolConfig, problems: &mut Vec<Invalid>) {
    let fee = pool.fee_percent;
    if !(0.0..100.0).contains(&fee) {
        problems.push(Invalid::new(
            "pool.fee_percent",
            toml_float(fee),
            "must be at least 0 and below 100 (a percentage of each block's reward)",
        ));
        return;
    }
    let basis_points = fee * 100.0;
    if (basis_points - basis_points.round()).abs() > 1e-6 {
        problems.push(Invalid::new(
            "pool.fee_percent",
            toml_float(fee),
            "may have at most 2 decimals: the fee is kept in basis points (1.25 is 125)",
        ));
    }
}

fn check_tag(tag: &str, problems: &mut Vec<Invalid>) {
    if tag.len() > MAX_TAG_BYTES {
        problems.push(Invalid::new(
            "pool.tag",
            toml_string(tag),
            format!(
                "is {} bytes; at most {MAX_TAG_BYTES} (it goes into every coinbase, \
                 which must stay small)",
                tag.len()
            ),
        ));
    }
    if let Some((at, bad)) = tag.char_indices().find(|(_, c)| !(' '..='~').contains(c)) {
        problems.push(Invalid::new(
            "pool.tag",
            toml_string(tag),
            format!("must be printable ASCII (space to ~); {bad:?} at byte {at} is not"),
        ));
    }
}

fn check_stratum(stratum: &StratumConfig, problems: &mut Vec<Invalid>) {
    if let Err(problem) = stratum.difficulty_bounds() {
        problems.push(problem);
    }
    let interval = stratum.share_interval_secs;
    if !(interval > 0.0 && interval <= MAX_SHARE_INTERVAL_SECS) {
        problems.push(Invalid::new(
            "stratum.share_interval_secs",
            toml_float(interval),
            format!(
                "must be a number of seconds above 0 and at most {MAX_SHARE_INTERVAL_SECS} \
                 (the time vardiff aims for between a miner's shares)"
            ),
        ));
    }
    let size = stratum.extranonce2_size;
    if !(MIN_EXTRANONCE2..=MAX_EXTRANONCE2).contains(&size) {
        problems.push(Invalid::new(
            "stratum.extranonce2_size",
            size.to_string(),
            format!(
                "must be {MIN_EXTRANONCE2} to {MAX_EXTRANONCE2} bytes ({MAX_EXTRANONCE2} is \
                 Stratum's limit; below {MIN_EXTRANONCE2} a miner runs out of work within a job)"
            ),
        ));
    }
    if let Err(problem) = stratum.parsed_version_mask() {
        problems.push(problem);
    }
    if !(1..=MAX_WORKERS_PER_CONNECTION).contains(&stratum.max_workers_per_connection) {
        problems.push(Invalid::new(
            "stratum.max_workers_per_connection",
            stratum.max_workers_per_connection.to_string(),
            format!(
                "must be 1 to {MAX_WORKERS_PER_CONNECTION} (each worker a connection holds \
                 costs the pool memory without any proof of work)"
            ),
        ));
    }
    for (key, value) in [
        ("handshake_timeout_secs", stratum.handshake_timeout_secs),
        ("idle_timeout_secs", stratum.idle_timeout_secs),
    ] {
        if value == 0 {
            problems.push(Invalid::new(
                format!("stratum.{key}"),
                value.to_string(),
                "must be at least 1 second (dead connections must be reaped)",
            ));
        }
    }
    for (key, entries) in [
        ("ip_allowlist", &stratum.ip_allowlist),
        ("proxy_trusted", &stratum.proxy_trusted),
    ] {
        if let Err(mut invalid) = parse_ranges(key, entries) {
            problems.append(&mut invalid);
        }
    }
    if stratum.proxy_protocol && stratum.proxy_trusted.is_empty() {
        problems.push(Invalid::new(
            "stratum.proxy_trusted",
            "[]".to_string(),
            "must list the load balancers' addresses when stratum.proxy_protocol is on: \
             anyone else who reaches the port could claim any address (to dodge a ban, or \
             to get someone else's banned); [\"0.0.0.0/0\", \"::/0\"] trusts every peer",
        ));
    }
}

/// `stratum.<key>`'s entries, each an address or a CIDR range; every
/// entry that is not, as a problem.
fn parse_ranges(key: &str, entries: &[String]) -> Result<Vec<IpRange>, Vec<Invalid>> {
    let mut ranges = Vec::with_capacity(entries.len());
    let mut problems = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        match IpRange::parse(entry) {
            Ok(range) => ranges.push(range),
            Err(error) => problems.push(range_problem(key, index, entry, error)),
        }
    }
    if problems.is_empty() {
        Ok(ranges)
    } else {
        Err(problems)
    }
}

fn range_problem(key: &str, index: usize, entry: &str, error: IpRangeError) -> Invalid {
    Invalid::new(
        format!("stratum.{key}[{index}]"),
        toml_string(entry),
        format!("{error} (entries are addresses or CIDR ranges such as \"10.0.0.0/8\")"),
    )
}

fn check_bans(bans: &BansConfig, problems: &mut Vec<Invalid>) {
    for (key, value) in [
        ("window_secs", bans.window_secs),
        ("ban_secs", bans.ban_secs),
    ] {
        if value == 0 {
            problems.push(Invalid::new(
                format!("bans.{key}"),
                "0".to_string(),
                "must be at least 1 second (set bans.enabled = false to ban nobody)",
            ));
        }
    }
    let percent = bans.invalid_percent;
    if !(percent > 0.0 && percent <= 100.0) {
        problems.push(Invalid::new(
            "bans.invalid_percent",
            toml_float(percent),
            "must be above 0 and at most 100 (the share of invalid shares that bans; \
             90 leaves honest miners far below it)",
        ));
    }
    if bans.min_shares < MIN_BAN_SHARES {
        problems.push(Invalid::new(
            "bans.min_shares",
            bans.min_shares.to_string(),
            format!(
                "must be at least {MIN_BAN_SHARES} (fewer would ban a miner for a handful of \
                 unlucky rejects while its difficulty settles)"
            ),
        ));
    }
}

impl StratumConfig {
    /// `start_difficulty`, `min_difficulty` and `max_difficulty`, checked:
    /// start and min finite and above 0, min ≤ start, max 0 or ≥ start.
    pub fn difficulty_bounds(&self) -> Result<DifficultyBounds, Invalid> {
        let positive = |key: &str, value: f64| {
            Difficulty::new(value).map_err(|_| {
                Invalid::new(
                    format!("stratum.{key}"),
                    toml_float(value),
                    "must be a finite number above 0",
                )
            })
        };
        let start = positive("start_difficulty", self.start_difficulty)?;
        let min = positive("min_difficulty", self.min_difficulty)?;
        if min > start {
            return Err(Invalid::new(
                "stratum.min_difficulty",
                toml_float(self.min_difficulty),
                format!(
                    "must not exceed stratum.start_difficulty = {}",
                    toml_float(self.start_difficulty)
                ),
            ));
        }
        let max = if self.max_difficulty == 0.0 {
            None
        } else {
            match Difficulty::new(self.max_difficulty) {
                Ok(max) if max >= start => Some(max),
                _ => {
                    return Err(Invalid::new(
                        "stratum.max_difficulty",
                        toml_float(self.max_difficulty),
                        format!(
                            "must be 0 (no limit but the network's) or a finite number at \
                             least stratum.start_difficulty = {}",
                            toml_float(self.start_difficulty)
                        ),
                    ))
                }
            }
        };
        Ok(DifficultyBounds { start, min, max })
    }

    /// `ip_allowlist`, each entry an address or a CIDR range.
    pub fn parsed_allowlist(&self) -> Result<Vec<IpRange>, Invalid> {
        first_problem(parse_ranges("ip_allowlist", &self.ip_allowlist))
    }

    /// `proxy_trusted`, each entry an address or a CIDR range.
    pub fn parsed_proxy_trusted(&self) -> Result<Vec<IpRange>, Invalid> {
        first_problem(parse_ranges("proxy_trusted", &self.proxy_trusted))
    }

    /// `version_mask`, which must be exactly 8 hex digits.
    pub fn parsed_version_mask(&self) -> Result<VersionMask, Invalid> {
        let text = &self.version_mask;
        let invalid = || {
            Invalid::new(
                "stratum.version_mask",
                toml_string(text),
                "must be 8 hex digits, such as \"1fffe000\" (BIP 320's bits; \"00000000\" \
                 turns version rolling off)",
            )
        };
        if text.len() != 8 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(invalid());
        }
        u32::from_str_radix(text, 16)
            .map(VersionMask)
            .map_err(|_| invalid())
    }
}

fn first_problem<T>(result: Result<T, Vec<Invalid>>) -> Result<T, Invalid> {
    result.map_err(|problems| {
        problems
            .into_iter()
            .next()
            .expect("an error holds a problem")
    })
}

fn check_database_url(url: &str, problems: &mut Vec<Invalid>) {
    let ok = match url.split_once("://") {
        Some(("sqlite", path)) => !path.is_empty(),
        Some(("postgres" | "postgresql", rest)) => !rest.is_empty(),
        _ => false,
    };
    if !ok {
        problems.push(Invalid::new(
            "database.url",
            toml_string(url),
            "must be sqlite://<path> (like sqlite://pool.db) or postgres://user@host/dbname",
        ));
    }
}

/// Two listen addresses that cannot both be bound.
fn overlaps(a: SocketAddr, b: SocketAddr) -> bool {
    a.port() == b.port()
        && a.port() != 0
        && (a.ip() == b.ip() || a.ip().is_unspecified() || b.ip().is_unspecified())
}

fn check_alerts(alerts: &super::AlertsConfig, problems: &mut Vec<Invalid>) {
    for (index, url) in alerts.webhooks.iter().enumerate() {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            problems.push(Invalid::new(
                format!("alerts.webhooks[{index}]"),
                toml_string(url),
                "must be an http:// or https:// URL",
            ));
        }
    }
    if alerts.offline_after_secs == 0 {
        problems.push(Invalid::new(
            "alerts.offline_after_secs",
            "0".to_string(),
            "must be at least 1 second",
        ));
    }
}

fn check_payout(payout: &super::PayoutConfig, problems: &mut Vec<Invalid>) {
    if !(payout.window_factor.is_finite()
        && payout.window_factor > 0.0
        && payout.window_factor <= 1_000.0)
    {
        problems.push(Invalid::new(
            "payout.window_factor",
            toml_float(payout.window_factor),
            "must be above 0 and at most 1000 (blocks of expected work)",
        ));
    }
    if payout.fpps_fee_window == 0 {
        problems.push(Invalid::new(
            "payout.fpps_fee_window",
            "0".to_string(),
            "must be at least 1 template",
        ));
    }
    // Bitcoin Core's fee estimator answers for 1 to 1008 blocks.
    if !(1..=1_008).contains(&payout.conf_target) {
        problems.push(Invalid::new(
            "payout.conf_target",
            payout.conf_target.to_string(),
            "must be 1 to 1008 blocks (what Bitcoin Core's fee estimator covers)",
        ));
    }
    if payout.maturity == 0 {
        problems.push(Invalid::new(
            "payout.maturity",
            "0".to_string(),
            "must be at least 1 confirmation (Bitcoin's coinbase maturity is 100)",
        ));
    }
    if payout.wallet.contains(['/', '?', '#']) {
        problems.push(Invalid::new(
            "payout.wallet",
            toml_string(&payout.wallet),
            "is a wallet name, without /, ? or #",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bans_and_allowlist_are_checked() {
        let mut config = Config::default();
        config.stratum.ip_allowlist = vec!["10.0.0.0/8".into(), "10.1.2.3/8".into(), "x".into()];
        config.bans.invalid_percent = 0.0;
        config.bans.min_shares = 3;
        config.bans.ban_secs = 0;
        let problems = config.problems();
        let about = |key: &str| {
            problems
                .iter()
                .find(|problem| problem.key == key)
                .unwrap_or_else(|| panic!("no problem with {key}: {problems:?}"))
                .problem
                .clone()
        };
        assert!(about("stratum.ip_allowlist[1]").contains("did you mean 10.0.0.0/8"));
        assert!(!problems.iter().any(|p| p.key == "stratum.ip_allowlist[0]"));
        assert!(about("stratum.ip_allowlist[2]").contains("not an IP address"));
        assert!(about("bans.invalid_percent").contains("above 0"));
        assert!(about("bans.min_shares").contains("at least 10"));
        assert!(about("bans.ban_secs").contains("at least 1 second"));
        assert!(!problems.iter().any(|p| p.key == "bans.window_secs"));
    }

    #[test]
    fn proxy_protocol_needs_its_balancers_listed() {
        let mut config = Config::default();
        config.stratum.proxy_protocol = true;
        let about = |config: &Config, key: &str| {
            config
                .problems()
                .into_iter()
                .find(|problem| problem.key == key)
                .map(|problem| problem.problem)
        };
        let problem = about(&config, "stratum.proxy_trusted").expect("an empty list is refused");
        assert!(
            problem.contains("must list the load balancers"),
            "{problem}"
        );
        config.stratum.proxy_trusted = vec!["10.0.0.5".into(), "10.1.0.0/15".into()];
        assert_eq!(about(&config, "stratum.proxy_trusted"), None);
        let problem = about(&config, "stratum.proxy_trusted[1]").expect("a bad range");
        assert!(problem.contains("did you mean 10.0.0.0/15"), "{problem}");
        assert_eq!(
            config.stratum.parsed_proxy_trusted().unwrap_err().key,
            "stratum.proxy_trusted[1]"
        );
        config.stratum.proxy_trusted = vec!["0.0.0.0/0".into(), "::/0".into()];
        assert!(!config
            .problems()
            .iter()
            .any(|problem| problem.key.starts_with("stratum.proxy")));
        assert_eq!(
            config.stratum.parsed_proxy_trusted().map(|r| r.len()),
            Ok(2)
        );
        // Off, the list is not needed.
        config.stratum.proxy_protocol = false;
        config.stratum.proxy_trusted.clear();
        assert_eq!(about(&config, "stratum.proxy_trusted"), None);
    }

    #[test]
    fn listen_overlap() {
        let parse = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert!(overlaps(parse("0.0.0.0:3333"), parse("127.0.0.1:3333")));
        assert!(!overlaps(parse("0.0.0.0:3333"), parse("127.0.0.1:8080")));
        assert!(!overlaps(parse("127.0.0.1:0"), parse("127.0.0.1:0")));
    }
}
