//! The difficulties vardiff hands out: values every firmware parses.
//!
//! From 1 up, whole numbers (`1`, `23`, `1024`, `232831`): ASIC firmware
//! expects integers, some parse the difficulty into one. Below 1, decimal
//! fractions of three significant digits (`0.5`, `0.0156`, `0.000116`):
//! only ESP32 "lottery" miners need them, and `Difficulty::to_wire` prints
//! them exactly as written here. Three digits keep the share rate within
//! 0.5 % of the aim, far below its noise; an integer rounds by at most ½.

/// Significant decimal digits a fraction keeps.
const DIGITS: i32 = 3;

/// How a value that is not on the ladder is moved onto it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rounding {
    Nearest,
    /// Never above the value (caps: the network, `max`).
    Down,
    /// Never below the value (floors: `min`, a miner's suggestion).
    Up,
}

/// `value` (finite, above 0) moved onto the ladder.
pub(crate) fn on_ladder(value: f64, rounding: Rounding) -> f64 {
    debug_assert!(value.is_finite() && value > 0.0, "{value}");
    let rounded = if value >= 1.0 {
        whole(value, rounding)
    } else {
        fraction(value, rounding)
    };
    // Only a subnormal rounds to zero: keep it rather than give zero.
    if rounded > 0.0 {
        rounded
    } else {
        value
    }
}

/// From 1 up: an integer (every double from 2^53 up is one).
fn whole(value: f64, rounding: Rounding) -> f64 {
    settle(value, round(value, rounding), rounding, |whole| whole).max(1.0)
}

/// Below 1: `m / 10^k` with a three-digit `m`, computed as a division by
/// an exact power of ten so the result is the double nearest the decimal.
fn fraction(value: f64, rounding: Rounding) -> f64 {
    let mut exponent = value.log10().floor() as i32;
    let mut mantissa = value * 10f64.powi(DIGITS - 1 - exponent);
    // log10 may land one off at a power of ten.
    if mantissa < 10f64.powi(DIGITS - 1) {
        exponent -= 1;
    } else if mantissa >= 10f64.powi(DIGITS) {
        exponent += 1;
    }
    let shift = DIGITS - 1 - exponent;
    mantissa = value * 10f64.powi(shift);
    let step = |mantissa: f64| mantissa / 10f64.powi(shift);
    // `value * 10^k` is itself rounded: `settle` makes Down and Up exact.
    step(settle(value, round(mantissa, rounding), rounding, step))
}

/// Down and Up exactly: a rounded integer `candidate` whose `step` lands on
/// the wrong side of `value` (float noise) moves one further.
fn settle(value: f64, candidate: f64, rounding: Rounding, step: impl Fn(f64) -> f64) -> f64 {
    match rounding {
        Rounding::Down if step(candidate) > value => candidate - 1.0,
        Rounding::Up if step(candidate) < value => candidate + 1.0,
        _ => candidate,
    }
}

/// Rounds `mantissa` to an integer; a value within float noise of an
/// integer is that integer (0.0001 · 10^6 is not exactly 100).
fn round(mantissa: f64, rounding: Rounding) -> f64 {
    let nearest = mantissa.round();
    if (mantissa - nearest).abs() <= 1e-6 {
        return nearest;
    }
    match rounding {
        Rounding::Nearest => nearest,
        Rounding::Down => mantissa.floor(),
        Rounding::Up => mantissa.ceil(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn is_on_ladder(value: f64) -> bool {
        on_ladder(value, Rounding::Nearest) == value
    }

    fn significant_digits(value: f64) -> usize {
        let text = stratum::Difficulty::new(value).unwrap().to_wire();
        text.trim_start_matches(['0', '.'])
            .trim_end_matches('0')
            .replace('.', "")
            .len()
    }

    #[test]
    fn examples() {
        use Rounding::*;
        assert_eq!(on_ladder(1024.0, Nearest), 1024.0);
        assert_eq!(on_ladder(232_830.6, Nearest), 232_831.0);
        assert_eq!(on_ladder(232_830.6, Down), 232_830.0);
        assert_eq!(on_ladder(1.2e17, Up), 1.2e17);
        assert_eq!(on_ladder(23.28, Nearest), 23.0);
        assert_eq!(on_ladder(1.4, Nearest), 1.0);
        assert_eq!(on_ladder(1.4, Up), 2.0);
        assert_eq!(on_ladder(0.9996, Nearest), 1.0);
        assert_eq!(on_ladder(0.5, Nearest), 0.5);
        assert_eq!(on_ladder(0.0001, Up), 0.0001);
        assert_eq!(on_ladder(0.0001, Down), 0.0001);
        assert_eq!(on_ladder(0.001, Nearest), 0.001);
        assert_eq!(on_ladder(0.000_116_415, Nearest), 0.000116);
        assert_eq!(on_ladder(0.000_116_415, Up), 0.000117);
        // Regtest's network difficulty.
        assert_eq!(on_ladder(4.656_542_373_906_925e-10, Down), 4.65e-10);
    }

    #[test]
    fn wire_form_is_short() {
        for (value, wire) in [(0.000_116_415, "0.000116"), (0.015625, "0.0156")] {
            let rounded = on_ladder(value, Rounding::Nearest);
            assert_eq!(stratum::Difficulty::new(rounded).unwrap().to_wire(), wire);
        }
    }

    proptest! {
        #[test]
        fn every_rounding_lands_on_the_ladder(value in 1e-12f64..1e15) {
            let nearest = on_ladder(value, Rounding::Nearest);
            let down = on_ladder(value, Rounding::Down);
            let up = on_ladder(value, Rounding::Up);
            for rounded in [nearest, down, up] {
                prop_assert!(rounded >= 1.0 && rounded.fract() == 0.0 || rounded < 1.0);
                prop_assert!(rounded >= 1.0 || significant_digits(rounded) <= DIGITS as usize, "{}", rounded);
                prop_assert!(is_on_ladder(rounded), "{}", rounded);
            }
            prop_assert!(down <= value && value <= up, "{} {} {}", down, value, up);
            if value >= 1.0 {
                prop_assert!((nearest - value).abs() <= 0.5);
            } else {
                prop_assert!((nearest / value - 1.0).abs() <= 0.0051, "{} {}", value, nearest);
            }
        }
    }
}
