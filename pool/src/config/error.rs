//! Why a configuration was refused.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use thiserror::Error;

/// Everything that stops a configuration from loading.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// TOML syntax, an unknown key or a wrong type; the message of the
    /// `toml` crate keeps the line, the column and the key.
    #[error("{origin}: {error}")]
    Toml {
        origin: String,
        error: toml::de::Error,
    },
    /// A `POOL_*` variable that names no key: typos must not pass silently.
    #[error("unknown environment variable {var}: {hint}")]
    UnknownEnv { var: String, hint: String },
    /// A `POOL_*` variable whose value does not fit its key.
    #[error("environment variable {var}={value:?}: {reason}")]
    Env {
        var: String,
        value: String,
        reason: String,
    },
    /// Every rule the loaded values break.
    #[error("{}", InvalidList(.0))]
    Invalid(Vec<Invalid>),
}

impl ConfigError {
    /// Names the variable that set each refused value, where one did.
    pub(crate) fn with_env_origins(self, set_by: &HashMap<String, String>) -> ConfigError {
        match self {
            ConfigError::Invalid(problems) => ConfigError::Invalid(
                problems
                    .into_iter()
                    .map(|mut problem| {
                        problem.env = set_by.get(&problem.key).cloned();
                        problem
                    })
                    .collect(),
            ),
            other => other,
        }
    }
}

/// One broken rule: `key = value: problem`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// As written in the file: `pool.address`, `bitcoind[1].url`.
    pub key: String,
    /// The refused value as TOML (`"abc"`, `0.5`); `None` when the problem
    /// is a missing entry rather than a value.
    pub value: Option<String>,
    /// What is wrong and what is allowed.
    pub problem: String,
    /// The environment variable that set the value, if one did.
    pub env: Option<String>,
}

impl Invalid {
    pub(crate) fn new(key: impl Into<String>, value: String, problem: impl Into<String>) -> Self {
        Invalid {
            key: key.into(),
            value: Some(value),
            problem: problem.into(),
            env: None,
        }
    }

    pub(crate) fn missing(key: impl Into<String>, problem: impl Into<String>) -> Self {
        Invalid {
            key: key.into(),
            value: None,
            problem: problem.into(),
            env: None,
        }
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key)?;
        if let Some(value) = &self.value {
            write!(f, " = {value}")?;
        }
        if let Some(var) = &self.env {
            write!(f, " (from {var})")?;
        }
        write!(f, ": {}", self.problem)
    }
}

struct InvalidList<'a>(&'a [Invalid]);

impl fmt::Display for InvalidList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            [one] => write!(f, "invalid configuration: {one}"),
            many => {
                write!(f, "invalid configuration, {} problems:", many.len())?;
                for problem in many {
                    write!(f, "\n  {problem}")?;
                }
                Ok(())
            }
        }
    }
}

/// A string as TOML writes it, quotes included.
pub(crate) fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

/// A float as TOML writes it (`1024.0`, `0.0001`, `nan`).
pub(crate) fn toml_float(value: f64) -> String {
    toml::Value::Float(value).to_string()
}
