//! Environment overrides, applied on top of the file.
//!
//! - `POOL_<SECTION>_<KEY>` sets `key` of `[section]`: `POOL_POOL_ADDRESS`,
//!   `POOL_STRATUM_START_DIFFICULTY`, `POOL_CHAIN_SOURCE`.
//! - `POOL_BITCOIND_<N>_<KEY>` sets `key` of the N-th `[[bitcoind]]` node
//!   (from 0); `POOL_BITCOIND_<KEY>` is short for node 0. A variable may
//!   add the node just past the file's last one (its `url` starts empty);
//!   nodes are numbered without gaps.
//! - The value is read as the key's TOML type: `1024` is a number for a
//!   number key, and a string key takes the text as it is (TOML quotes
//!   around it are removed). An empty value removes an optional key
//!   (`user`, `password`, `cookie`, `zmq`).
//! - Section and key are matched without regard to case; any other
//!   `POOL_*` variable is an error naming it.
//!
//! The keys and their types come from serializing the defaults, so a new
//! field of the config is overridable with no change here.

use super::WebConfig;
use super::{AlertsConfig, BansConfig, LogConfig, PayoutConfig, SimnetConfig, StratumConfig};
use super::{BitcoindConfig, ChainConfig, Config, ConfigError, DatabaseConfig, PoolConfig};
use std::collections::HashMap;
use std::path::PathBuf;

/// Every override starts with this.
pub const ENV_PREFIX: &str = "POOL_";

/// The one section that is an array of tables.
const NODES: &str = "bitcoind";

/// What a key holds, so the same text can be read as a number or a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    String,
    Integer,
    Float,
    Boolean,
    /// Arrays and tables: the value is parsed as a TOML value.
    Other,
}

impl Kind {
    fn of(value: &toml::Value) -> Kind {
        match value {
            toml::Value::String(_) => Kind::String,
            toml::Value::Integer(_) => Kind::Integer,
            toml::Value::Float(_) => Kind::Float,
            toml::Value::Boolean(_) => Kind::Boolean,
            _ => Kind::Other,
        }
    }
}

#[derive(Debug, Clone)]
struct KeySpec {
    name: String,
    kind: Kind,
    /// Absent from the defaults (an `Option`): an empty value removes it.
    optional: bool,
}

/// Sections in file order, each with its keys.
struct Schema {
    sections: Vec<(String, Vec<KeySpec>)>,
}

impl Schema {
    fn new() -> Schema {
        let defaults = toml::Table::try_from(Config::default())
            .expect("the default config serializes to TOML");
        let full_node = toml::Table::try_from(BitcoindConfig {
            url: String::new(),
            user: Some(String::new()),
            password: Some(String::new()),
            cookie: Some(PathBuf::new()),
            zmq: Some(String::new()),
        })
        .expect("a node serializes to TOML");
        let bare_node = toml::Table::try_from(BitcoindConfig {
            url: String::new(),
            user: None,
            password: None,
            cookie: None,
            zmq: None,
        })
        .expect("a node serializes to TOML");

        let keys = |table: &toml::Table, required: &toml::Table| -> Vec<KeySpec> {
            table
                .iter()
                .map(|(name, value)| KeySpec {
                    name: name.clone(),
                    kind: Kind::of(value),
                    optional: !required.contains_key(name),
                })
                .collect()
        };
        let sections = defaults
            .iter()
            .map(|(section, value)| {
                let specs = match value {
                    toml::Value::Table(table) => keys(table, table),
                    _ if section == NODES => keys(&full_node, &bare_node),
                    _ => Vec::new(),
                };
                (section.clone(), specs)
            })
            .collect();
        Schema { sections }
    }

    fn section(&self, name: &str) -> Option<&[KeySpec]> {
        self.sections
            .iter()
            .find(|(section, _)| section == name)
            .map(|(_, keys)| keys.as_slice())
    }

    /// Every variable name, for the hint of an unknown one.
    fn variables(&self, section: &str) -> Vec<String> {
        let keys = self.section(section).unwrap_or_default();
        keys.iter()
            .map(|key| format!("{ENV_PREFIX}{section}_{}", key.name).to_ascii_uppercase())
            .collect()
    }
}

/// Where one variable writes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Target {
    section: String,
    /// The `[[bitcoind]]` node, and whether the shorthand named it.
    node: Option<(usize, bool)>,
    key: String,
}

impl Target {
    /// The key as validation messages name it: `pool.address`, `bitcoind[0].url`.
    fn key_path(&self) -> String {
        match self.node {
            Some((index, _)) => format!("{}[{index}].{}", self.section, self.key),
            None => format!("{}.{}", self.section, self.key),
        }
    }
}

/// Reads a variable's name; `Ok(None)` for names without the prefix.
fn target(var: &str, schema: &Schema) -> Result<Option<(Target, KeySpec)>, ConfigError> {
    // Test harnesses' own variables (`POOL_TEST_POSTGRES_URL`), never config.
    if var.starts_with("POOL_TEST_") {
        return Ok(None);
    }
    let Some(rest) = var.strip_prefix(ENV_PREFIX) else {
        return Ok(None);
    };
    let rest = rest.to_ascii_lowercase();
    let unknown = |hint: String| ConfigError::UnknownEnv {
        var: var.to_string(),
        hint,
    };
    let sections: Vec<&str> = schema.sections.iter().map(|(s, _)| s.as_str()).collect();
    let Some(section) = sections
        .iter()
        .find(|section| rest.starts_with(&format!("{section}_")))
    else {
        return Err(unknown(format!(
            "variables are {ENV_PREFIX}<SECTION>_<KEY> with a section of {}",
            sections.join(", ")
        )));
    };
    let mut key = &rest[section.len() + 1..];
    let mut node = None;
    if *section == NODES {
        node = Some((0, true));
        if let Some((digits, after)) = key.split_once('_') {
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                let index = digits
                    .parse()
                    .map_err(|_| unknown(format!("node number {digits} is out of range")))?;
                node = Some((index, false));
                key = after;
            }
        }
    }
    let keys = schema.section(section).unwrap_or_default();
    let Some(spec) = keys.iter().find(|spec| spec.name == key) else {
        let example = if node.is_some() {
            format!(" (node N as {ENV_PREFIX}BITCOIND_<N>_<KEY>)")
        } else {
            String::new()
        };
        return Err(unknown(format!(
            "[{section}] has no key {key:?}; its variables are {}{example}",
            schema.variables(section).join(", ")
        )));
    };
    let target = Target {
        section: section.to_string(),
        node,
        key: key.to_string(),
    };
    Ok(Some((target, spec.clone())))
}

/// The value as its key's type; `None` removes an optional key.
fn value(text: &str, spec: &KeySpec) -> Result<Option<toml::Value>, String> {
    if spec.optional && text.is_empty() {
        return Ok(None);
    }
    // `value = <text>` as one TOML line; anything more than that one key
    // (a newline smuggling a second key) is not a value.
    let literal = toml::from_str::<toml::Table>(&format!("value = {text}"))
        .ok()
        .filter(|table| table.len() == 1)
        .and_then(|mut table| table.remove("value"));
    let value = match (spec.kind, literal) {
        (Kind::String, Some(toml::Value::String(unquoted))) => toml::Value::String(unquoted),
        (Kind::String, _) => toml::Value::String(text.to_string()),
        (Kind::Integer, Some(integer @ toml::Value::Integer(_))) => integer,
        (Kind::Integer, _) => return Err("expected a whole number".to_string()),
        (Kind::Float, Some(toml::Value::Integer(integer))) => toml::Value::Float(integer as f64),
        (Kind::Float, Some(float @ toml::Value::Float(_))) => float,
        (Kind::Float, _) => return Err("expected a number".to_string()),
        (Kind::Boolean, Some(boolean @ toml::Value::Boolean(_))) => boolean,
        (Kind::Boolean, _) => return Err("expected true or false".to_string()),
        (Kind::Other, Some(other)) => other,
        (Kind::Other, None) => return Err("expected a TOML value".to_string()),
    };
    Ok(Some(value))
}

/// Deserializes one section (or node) alone, to blame the variable just
/// applied: the file's own values passed already.
fn check(section: &str, value: toml::Value) -> Result<(), toml::de::Error> {
    match section {
        "pool" => value.try_into::<PoolConfig>().map(drop),
        "stratum" => value.try_into::<StratumConfig>().map(drop),
        "bans" => value.try_into::<BansConfig>().map(drop),
        "chain" => value.try_into::<ChainConfig>().map(drop),
        NODES => value.try_into::<BitcoindConfig>().map(drop),
        "simnet" => value.try_into::<SimnetConfig>().map(drop),
        "database" => value.try_into::<DatabaseConfig>().map(drop),
        "web" => value.try_into::<WebConfig>().map(drop),
        "payout" => value.try_into::<PayoutConfig>().map(drop),
        "log" => value.try_into::<LogConfig>().map(drop),
        "alerts" => value.try_into::<AlertsConfig>().map(drop),
        _ => Ok(()),
    }
}

/// Applies every `POOL_*` variable of `env` to the file's `table`.
/// Returns which variable set which key (`pool.address` →
/// `POOL_POOL_ADDRESS`), for error messages.
pub(super) fn apply(
    table: &mut toml::Table,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<HashMap<String, String>, ConfigError> {
    let schema = Schema::new();
    let mut overrides = Vec::new();
    for (var, text) in env {
        if let Some((target, spec)) = target(&var, &schema)? {
            overrides.push((target, spec, var, text));
        }
    }
    // Node 0 before node 1, so nodes can be added in order.
    overrides.sort_by(|a, b| a.0.cmp(&b.0));

    let mut set_by = HashMap::new();
    for (target, spec, var, text) in overrides {
        let env_error = |reason: String| ConfigError::Env {
            var: var.clone(),
            value: text.clone(),
            reason,
        };
        let key_path = target.key_path();
        if let Some(earlier) = set_by.get(&key_path) {
            return Err(env_error(format!(
                "{earlier} sets {key_path} too; use one of them"
            )));
        }
        let value = value(&text, &spec).map_err(&env_error)?;

        let section = table
            .entry(target.section.clone())
            .or_insert_with(|| match target.node {
                Some(_) => toml::Value::Array(Vec::new()),
                None => toml::Value::Table(toml::Table::new()),
            });
        let entry = match (target.node, section) {
            (None, toml::Value::Table(entry)) => entry,
            (Some((index, _)), toml::Value::Array(nodes)) => {
                if index == nodes.len() {
                    let mut node = toml::Table::new();
                    node.insert("url".to_string(), toml::Value::String(String::new()));
                    nodes.push(toml::Value::Table(node));
                }
                match nodes.get_mut(index) {
                    Some(toml::Value::Table(node)) => node,
                    _ => {
                        return Err(env_error(format!(
                            "there are {} [[bitcoind]] nodes, so the next one is number {}; \
                             number nodes from 0 without gaps",
                            nodes.len(),
                            nodes.len()
                        )))
                    }
                }
            }
            _ => return Err(env_error(format!("[{}] is not a table", target.section))),
        };
        match value {
            Some(value) => entry.insert(target.key.clone(), value),
            None => entry.remove(&target.key),
        };
        check(&target.section, toml::Value::Table(entry.clone()))
            .map_err(|error| env_error(error.message().to_string()))?;
        set_by.insert(key_path, var);
    }
    Ok(set_by)
}

/// This process's `POOL_*` variables.
pub(super) fn process_vars() -> Result<Vec<(String, String)>, ConfigError> {
    let mut vars = Vec::new();
    for (name, value) in std::env::vars_os() {
        if !name.as_encoded_bytes().starts_with(ENV_PREFIX.as_bytes()) {
            continue;
        }
        let Some(name) = name.to_str() else {
            return Err(ConfigError::UnknownEnv {
                var: name.to_string_lossy().into_owned(),
                hint: "its name is not valid UTF-8".to_string(),
            });
        };
        let value = value.into_string().map_err(|value| ConfigError::Env {
            var: name.to_string(),
            value: value.to_string_lossy().into_owned(),
            reason: "the value is not valid UTF-8".to_string(),
        })?;
        vars.push((name.to_string(), value));
    }
    Ok(vars)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(kind: Kind, optional: bool) -> KeySpec {
        KeySpec {
            name: "k".to_string(),
            kind,
            optional,
        }
    }

    #[test]
    fn schema_has_every_section_and_key() {
        let schema = Schema::new();
        let names: Vec<&str> = schema.sections.iter().map(|(s, _)| s.as_str()).collect();
        for section in [
            "pool", "stratum", "bans", "chain", "bitcoind", "simnet", "database", "web", "payout",
            "log", "alerts",
        ] {
            assert!(names.contains(&section), "{section}");
        }
        let node = schema.section("bitcoind").unwrap();
        let optional: Vec<&str> = node
            .iter()
            .filter(|key| key.optional)
            .map(|key| key.name.as_str())
            .collect();
        assert_eq!(optional.len(), 4, "{optional:?}");
        let stratum = schema.section("stratum").unwrap();
        let kind = |name: &str| stratum.iter().find(|k| k.name == name).unwrap().kind;
        assert_eq!(kind("start_difficulty"), Kind::Float);
        assert_eq!(kind("extranonce2_size"), Kind::Integer);
        assert_eq!(kind("listen"), Kind::String);
    }

    #[test]
    fn values_take_their_key_type() {
        let string = spec(Kind::String, false);
        assert_eq!(
            value("bcrt1q", &string),
            Ok(Some(toml::Value::String("bcrt1q".into())))
        );
        assert_eq!(
            value("\"/x/\"", &string),
            Ok(Some(toml::Value::String("/x/".into())))
        );
        assert_eq!(
            value("123", &string),
            Ok(Some(toml::Value::String("123".into())))
        );
        assert_eq!(value("", &string), Ok(Some(toml::Value::String("".into()))));
        let float = spec(Kind::Float, false);
        assert_eq!(value("1024", &float), Ok(Some(toml::Value::Float(1024.0))));
        assert_eq!(value("0.5", &float), Ok(Some(toml::Value::Float(0.5))));
        assert!(value("lots", &float).is_err());
        let integer = spec(Kind::Integer, false);
        assert_eq!(value("8", &integer), Ok(Some(toml::Value::Integer(8))));
        assert!(value("8.5", &integer).is_err());
        assert!(value("8\nother = 1", &integer).is_err());
        assert_eq!(value("", &spec(Kind::String, true)), Ok(None));
    }

    #[test]
    fn names_map_to_keys() {
        let schema = Schema::new();
        let (found, _) = target_of("POOL_STRATUM_START_DIFFICULTY", &schema);
        assert_eq!(found.key_path(), "stratum.start_difficulty");
        let (found, _) = target_of("POOL_BITCOIND_2_ZMQ", &schema);
        assert_eq!(found.key_path(), "bitcoind[2].zmq");
        let (found, _) = target_of("POOL_BITCOIND_URL", &schema);
        assert_eq!(found.node, Some((0, true)));
        let (found, spec) = target_of("POOL_BANS_MIN_SHARES", &schema);
        assert_eq!(found.key_path(), "bans.min_shares");
        assert_eq!(spec.kind, Kind::Integer);
        let (found, spec) = target_of("POOL_STRATUM_IP_ALLOWLIST", &schema);
        assert_eq!(found.key_path(), "stratum.ip_allowlist");
        assert_eq!(
            value("[\"10.0.0.0/8\"]", &spec),
            Ok(Some(toml::Value::Array(vec!["10.0.0.0/8".into()])))
        );
        assert!(target("HOME", &schema).unwrap().is_none());
        assert!(target("POOL_NOPE_X", &schema).is_err());
        assert!(target("POOL_POOL_", &schema).is_err());
    }

    fn target_of(var: &str, schema: &Schema) -> (Target, KeySpec) {
        target(var, schema).unwrap().unwrap()
    }
}
