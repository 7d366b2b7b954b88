//! `mining.authorize(user[, password])`, and the options miners put in the password.

use super::error::{echo, ErrorKind};
use super::json::CallWriter;
use super::params::{self, Method};
use crate::difficulty::Difficulty;
use crate::username::Username;
use serde_json::Value;

/// An authorization request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorize {
    pub username: Username,
    /// Usually `x`; may carry options (see [`PasswordOptions`]).
    pub password: Option<String>,
}

impl Authorize {
    pub fn options(&self) -> PasswordOptions {
        self.password
            .as_deref()
            .map(PasswordOptions::parse)
            .unwrap_or_default()
    }
}

impl Method for Authorize {
    const NAME: &'static str = "mining.authorize";

    fn from_params(params: &[Value]) -> Result<Authorize, ErrorKind> {
        params::count(params, 1, 2, "1 or 2")?;
        let user = params::string(params::at(params, 0), "user")?;
        let username = Username::parse(user).map_err(|source| ErrorKind::Username {
            value: echo(user),
            source,
        })?;
        // Some firmware sends a numeric password; it is still just text.
        let password = match params::at(params, 1) {
            Value::Null => None,
            Value::Number(number) => Some(number.to_string()),
            other => Some(params::string(other, "password")?.to_string()),
        };
        Ok(Authorize { username, password })
    }

    fn write_params(&self, call: &mut CallWriter) {
        call.str(&self.username.to_string());
        if let Some(password) = &self.password {
            call.str(password);
        }
    }
}

/// Options in the password field: comma-separated `key=value` pairs, such
/// as `d=1024` for a starting difficulty. Anything else (`x`) is ignored.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PasswordOptions {
    /// `d=`: the difficulty the miner asks to start at (a floor for vardiff).
    pub difficulty: Option<Difficulty>,
    /// Other `key=value` pairs, in order, for the pool to look at.
    pub other: Vec<(String, String)>,
}

impl PasswordOptions {
    pub fn parse(password: &str) -> PasswordOptions {
        let mut options = PasswordOptions::default();
        for (key, value) in password
            .split(',')
            .filter_map(|pair| pair.split_once('='))
            .map(|(key, value)| (key.trim(), value.trim()))
        {
            if key.eq_ignore_ascii_case("d") {
                // A bad value is ignored like any other unknown text, not an error:
                // the miner still gets authorized and vardiff takes over.
                if let Some(difficulty) = value.parse().ok().and_then(|d| Difficulty::new(d).ok()) {
                    options.difficulty = Some(difficulty);
                }
            } else if !key.is_empty() {
                options.other.push((key.to_string(), value.to_string()));
            }
        }
        options
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn difficulty(password: &str) -> Option<f64> {
        PasswordOptions::parse(password)
            .difficulty
            .map(|d| d.as_f64())
    }

    #[test]
    fn password_options() {
        assert_eq!(difficulty("d=1024"), Some(1024.0));
        assert_eq!(difficulty("d=0.5"), Some(0.5));
        assert_eq!(difficulty("x"), None);
        assert_eq!(difficulty(""), None);
        assert_eq!(difficulty("d=0"), None);
        assert_eq!(difficulty("d=abc"), None);
        assert_eq!(difficulty("x, D = 64 ,y"), Some(64.0));
        let options = PasswordOptions::parse("d=8,mode=solo,junk");
        assert_eq!(
            options.other,
            vec![("mode".to_string(), "solo".to_string())]
        );
    }

    #[test]
    fn params() {
        let parse = |params: Value| Authorize::from_params(params.as_array().unwrap());
        let auth = parse(json!(["addr.rig", "d=2"])).unwrap();
        assert_eq!(auth.username.worker.as_deref(), Some("rig"));
        assert_eq!(auth.options().difficulty, Difficulty::new(2.0).ok());
        assert_eq!(parse(json!(["addr"])).unwrap().password, None);
        assert_eq!(parse(json!(["addr", null])).unwrap().password, None);
        assert_eq!(
            parse(json!(["addr", 123])).unwrap().password.as_deref(),
            Some("123")
        );
        assert!(matches!(
            parse(json!([""])),
            Err(ErrorKind::Username { .. })
        ));
        assert!(matches!(
            parse(json!([5, "x"])),
            Err(ErrorKind::WrongType { .. })
        ));
        assert!(matches!(
            parse(json!([])),
            Err(ErrorKind::ParamCount { .. })
        ));
    }
}
