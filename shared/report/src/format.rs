//! Numbers as the page shows them: counts in full with thousands separators, measurements to
//! four significant digits, or more where four would make a value look equal to its threshold.

/// `3600` as `3,600`.
pub fn count(value: u64) -> String {
    let digits = value.to_string();
    let mut text = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            text.push(',');
        }
        text.push(digit);
    }
    text
}

/// `value` to four significant digits: `0.2712`, `4521`, `1.235e7`, `-0.003`.
pub fn number(value: f64) -> String {
    significant(value, 4)
}

/// `value` to `digits` significant digits, trailing zeros dropped; scientific notation below
/// 0.001 and from a million up.
pub fn significant(value: f64, digits: usize) -> String {
    if !value.is_finite() {
        return value.to_string();
    }
    if value == 0.0 {
        return "0".to_string();
    }
    let magnitude = value.abs().log10().floor() as i32;
    if !(-3..6).contains(&magnitude) {
        let text = format!("{:.*e}", digits.saturating_sub(1), value);
        let (mantissa, exponent) = text.split_once('e').expect("{:e} has an exponent");
        return format!("{}e{exponent}", trim_zeros(mantissa));
    }
    let decimals = (digits as i32 - 1 - magnitude).max(0) as usize;
    let text = format!("{value:.decimals$}");
    // Rounding can carry into a new digit (9999.7 -> "10000"): still the right value.
    trim_zeros(&text).to_string()
}

fn trim_zeros(text: &str) -> &str {
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        text
    }
}

/// `value` and `threshold` with as many significant digits (four at least) as it takes for two
/// different numbers not to print alike: 0.99995 against 1 is `0.99995`, not `1`.
pub fn against(value: f64, threshold: f64) -> (String, String) {
    let mut digits = 4;
    loop {
        let pair = (significant(value, digits), significant(threshold, digits));
        if value == threshold || pair.0 != pair.1 || digits >= 17 {
            return pair;
        }
        digits += 1;
    }
}

/// A ratio in percent, as [`against`] its threshold: `(92.14%, 100%)`.
pub fn percent_against(value: f64, threshold: f64) -> (String, String) {
    let (value, threshold) = against(value * 100.0, threshold * 100.0);
    (value + "%", threshold + "%")
}

/// A ratio in percent, four significant digits.
pub fn percent(value: f64) -> String {
    number(value * 100.0) + "%"
}

/// `current - baseline`, signed: `+12.5`, `-0.003`, `0`.
pub fn delta(baseline: f64, current: f64) -> String {
    let difference = current - baseline;
    match number(difference) {
        text if difference > 0.0 && text != "0" => format!("+{text}"),
        text => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_have_thousands_separators() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(3600), "3,600");
        assert_eq!(count(1_234_567), "1,234,567");
    }

    #[test]
    fn four_significant_digits() {
        assert_eq!(number(0.2711598746081505), "0.2712");
        assert_eq!(number(0.1), "0.1");
        assert_eq!(number(4521.4), "4521");
        assert_eq!(number(45213.7), "45214");
        assert_eq!(number(-0.003), "-0.003");
        assert_eq!(number(0.000_123_456), "1.235e-4");
        assert_eq!(number(12_345_678.0), "1.235e7");
        assert_eq!(number(2e6), "2e6");
        assert_eq!(number(9999.7), "10000");
        assert_eq!(number(0.0), "0");
    }

    #[test]
    fn a_value_never_prints_like_a_different_threshold() {
        assert_eq!(against(0.99995, 1.0), ("0.99995".into(), "1".into()));
        assert_eq!(against(0.1, 0.1), ("0.1".into(), "0.1".into()));
        assert_eq!(percent_against(0.9213, 1.0), ("92.13%".into(), "100%".into()));
        let (value, threshold) = against(0.1 + 1e-12, 0.1);
        assert_ne!(value, threshold);
    }

    #[test]
    fn deltas_are_signed() {
        assert_eq!(delta(1.0, 3.5), "+2.5");
        assert_eq!(delta(3.5, 1.0), "-2.5");
        assert_eq!(delta(2.0, 2.0), "0");
    }
}
