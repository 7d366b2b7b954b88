//! Hash rates as people write them: `1e6`, `2.5M`, `10k`, `1.2 TH/s`.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("not a hash rate: {0:?} (examples: 1e6, 2.5M, 10k, 1.2T)")]
pub struct BadHashrate(pub String);

/// Parses a rate in hashes per second, with an optional SI suffix
/// (k, M, G, T, P; case-insensitive except `m` is read as mega too) and an
/// optional `H/s` or `H`.
pub fn parse_hashrate(text: &str) -> Result<f64, BadHashrate> {
    let bad = || BadHashrate(text.to_string());
    let mut rest = text.trim();
    for unit in ["H/s", "h/s", "H", "h"] {
        if let Some(stripped) = rest.strip_suffix(unit) {
            rest = stripped.trim_end();
            break;
        }
    }
    let (number, scale) = match rest.chars().last() {
        Some(suffix) if suffix.is_ascii_alphabetic() && !rest.ends_with(['e', 'E']) => {
            let scale = match suffix.to_ascii_lowercase() {
                'k' => 1e3,
                'm' => 1e6,
                'g' => 1e9,
                't' => 1e12,
                'p' => 1e15,
                _ => return Err(bad()),
            };
            (&rest[..rest.len() - 1], scale)
        }
        _ => (rest, 1.0),
    };
    let value: f64 = number.trim().parse().map_err(|_| bad())?;
    let rate = value * scale;
    if rate.is_finite() && rate > 0.0 {
        Ok(rate)
    } else {
        Err(bad())
    }
}

/// `12.3 MH/s`.
pub fn format_hashrate(rate: f64) -> String {
    let units = [
        (1e15, "PH/s"),
        (1e12, "TH/s"),
        (1e9, "GH/s"),
        (1e6, "MH/s"),
        (1e3, "kH/s"),
    ];
    for (scale, unit) in units {
        if rate >= scale {
            return format!("{:.2} {unit}", rate / scale);
        }
    }
    format!("{rate:.0} H/s")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(parse_hashrate("1e6"), Ok(1e6));
        assert_eq!(parse_hashrate("2.5M"), Ok(2.5e6));
        assert_eq!(parse_hashrate("10k"), Ok(1e4));
        assert_eq!(parse_hashrate("1.2 TH/s"), Ok(1.2e12));
        assert_eq!(parse_hashrate("500"), Ok(500.0));
        assert_eq!(parse_hashrate("3G"), Ok(3e9));
        for bad in ["", "fast", "-1", "0", "1x", "1e"] {
            assert!(parse_hashrate(bad).is_err(), "{bad}");
        }
        assert_eq!(format_hashrate(2.5e6), "2.50 MH/s");
        assert_eq!(format_hashrate(12.0), "12 H/s");
    }
}
