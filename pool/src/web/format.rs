//! How numbers read on the pages.

/// `1.23 TH/s`: hashes per second with an SI prefix, three significant digits.
pub(super) fn hashrate(hashes_per_second: f64) -> String {
    const UNITS: [&str; 7] = ["H/s", "kH/s", "MH/s", "GH/s", "TH/s", "PH/s", "EH/s"];
    let mut value = hashes_per_second.max(0.0);
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.2} {}", UNITS[unit])
}

/// A difficulty with four significant digits and an SI suffix past 1000:
/// `0.00001`, `512`, `1.250k`, `86.400T`.
pub(super) fn difficulty(value: f64) -> String {
    const UNITS: [&str; 7] = ["", "k", "M", "G", "T", "P", "E"];
    if !(value.is_finite() && value > 0.0) {
        return "0".to_string();
    }
    if value < 1000.0 {
        let decimals = (3 - value.log10().floor() as i32).clamp(0, 12) as usize;
        let text = format!("{value:.decimals$}");
        return if text.contains('.') {
            text.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            text
        };
    }
    let mut scaled = value;
    let mut unit = 0;
    while scaled >= 1000.0 && unit < UNITS.len() - 1 {
        scaled /= 1000.0;
        unit += 1;
    }
    format!("{scaled:.3}{}", UNITS[unit])
}

/// `1,234,567 sat`.
pub(super) fn sats(amount: i128) -> String {
    let magnitude = u64::try_from(amount.unsigned_abs()).unwrap_or(u64::MAX);
    let sign = if amount < 0 { "-" } else { "" };
    format!("{sign}{} sat", payout::group_thousands(magnitude))
}

/// Seconds ago, coarsely: `12 s ago`, `5 min ago`, `3 h ago`, `2 d ago`.
pub(super) fn ago(then_ms: i64, now_ms: i64) -> String {
    // `then_ms` is read from the database: saturate, never overflow.
    let seconds = now_ms.saturating_sub(then_ms).max(0) / 1000;
    match seconds {
        0..=119 => format!("{seconds} s ago"),
        120..=7_199 => format!("{} min ago", seconds / 60),
        7_200..=172_799 => format!("{} h ago", seconds / 3600),
        _ => format!("{} d ago", seconds / 86_400),
    }
}

/// Text for HTML: `&`, `<`, `>`, `"` and `'` escaped.
pub(super) fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(hashrate(0.0), "0.00 H/s");
        assert_eq!(hashrate(1_500_000.0), "1.50 MH/s");
        assert_eq!(hashrate(1.234e18), "1.23 EH/s");
        assert_eq!(sats(1_234_567), "1,234,567 sat");
        assert_eq!(sats(-1_000), "-1,000 sat");
        assert_eq!(sats(999), "999 sat");
        assert_eq!(ago(0, 65_000), "65 s ago");
        assert_eq!(difficulty(0.00001), "0.00001");
        assert_eq!(difficulty(0.000034567), "0.00003457");
        assert_eq!(difficulty(512.0), "512");
        assert_eq!(difficulty(1250.0), "1.250k");
        assert_eq!(difficulty(86.4e12), "86.400T");
        assert_eq!(difficulty(0.0), "0");
        assert_eq!(ago(0, 3_600_000), "60 min ago");
        assert_eq!(ago(i64::MIN, i64::MAX), "106751991167 d ago");
        assert_eq!(ago(i64::MAX, i64::MIN), "0 s ago");
        assert_eq!(hashrate(f64::INFINITY), "inf EH/s");
        assert_eq!(hashrate(f64::NAN), "0.00 H/s");
        assert!(difficulty(f64::MAX).ends_with('E'));
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
