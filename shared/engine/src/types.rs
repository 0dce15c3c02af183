//! Deequ's type inference, which SageMaker's analyzer uses: each value is classified by its
//! text, and the column type follows from the counts.

use modelmon_formats::InferredType;
use serde::{Deserialize, Serialize};

/// The type of one present value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    Integral,
    Fractional,
    Boolean,
    String,
}

/// Classifies a value as Deequ does:
/// Integral `^(-|\+)? ?\d+$`, Fractional `^(-|\+)? ?\d+((\.\d+)|((?:\.\d+)?[Ee][-+]?\d+))$`,
/// Boolean `^(true|false)$`, anything else String.
pub fn classify(text: &str) -> ValueKind {
    scan(text).0
}

/// A present value's kind and, for a number, its value. A digit string beyond f64's range (400
/// digits, say) is no usable number: it is a String.
pub fn typed_value(text: &str) -> (ValueKind, Option<f64>) {
    match scan(text) {
        (kind @ (ValueKind::Integral | ValueKind::Fractional), exact) => {
            match exact.or_else(|| parse_number(text)).filter(|v| v.is_finite()) {
                Some(value) => (kind, Some(value)),
                None => (ValueKind::String, None),
            }
        }
        (kind, _) => (kind, None),
    }
}

/// Powers of ten that f64 holds exactly.
const EXACT_POWERS_OF_TEN: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20,
    1e21, 1e22,
];

/// Deequ's classification in one pass over the bytes; for a plain decimal whose digits fit in 2^53
/// and whose fraction has at most 22 digits, also its value: one exact division, which is the
/// correctly rounded result (Clinger's fast path), so `str::parse` is needed only for the rest.
/// Parsing was a tenth of a baseline's CPU.
fn scan(text: &str) -> (ValueKind, Option<f64>) {
    let bytes = text.as_bytes();
    let mut i = 0;
    let negative = bytes.first() == Some(&b'-');
    if matches!(bytes.first(), Some(b'-' | b'+')) {
        i += 1;
    }
    if bytes.get(i) == Some(&b' ') {
        i += 1;
    }
    let mut mantissa: u64 = 0;
    let mut exact = true;
    if digits(bytes, &mut i, &mut mantissa, &mut exact) == 0 {
        let kind = if text == "true" || text == "false" {
            ValueKind::Boolean
        } else {
            ValueKind::String
        };
        return (kind, None);
    }
    let signed = |magnitude: f64| if negative { -magnitude } else { magnitude };
    if i == bytes.len() {
        let value = exact.then(|| signed(mantissa as f64));
        return (ValueKind::Integral, value);
    }
    let mut fraction_digits = 0;
    if bytes[i] == b'.' {
        i += 1;
        fraction_digits = digits(bytes, &mut i, &mut mantissa, &mut exact);
        if fraction_digits == 0 {
            return (ValueKind::String, None);
        }
    }
    if i == bytes.len() {
        if fraction_digits == 0 {
            return (ValueKind::String, None);
        }
        let value = EXACT_POWERS_OF_TEN
            .get(fraction_digits)
            .filter(|_| exact)
            .map(|&power| signed(mantissa as f64 / power));
        return (ValueKind::Fractional, value);
    }
    if matches!(bytes[i], b'e' | b'E') {
        i += 1;
        if matches!(bytes.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        let exponent_start = i;
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i > exponent_start && i == bytes.len() {
            return (ValueKind::Fractional, None);
        }
    }
    (ValueKind::String, None)
}

/// Skips the digits at `*i`, adding them to `mantissa` while it stays at most 2^53 (else `exact`
/// turns false); returns how many there were.
fn digits(bytes: &[u8], i: &mut usize, mantissa: &mut u64, exact: &mut bool) -> usize {
    const MAX_EXACT: u64 = 1 << 53;
    let start = *i;
    while let Some(&byte) = bytes.get(*i).filter(|b| b.is_ascii_digit()) {
        match mantissa.checked_mul(10).map(|m| m + u64::from(byte - b'0')) {
            Some(m) if m <= MAX_EXACT => *mantissa = m,
            _ => *exact = false,
        }
        *i += 1;
    }
    *i - start
}

/// Parses a value that [`classify`] called numeric (the optional space after the sign is
/// allowed by Deequ's pattern but not by Rust's parser).
pub fn parse_number(text: &str) -> Option<f64> {
    match text.parse::<f64>() {
        Ok(value) => Some(value),
        Err(_) => {
            let (sign, rest) = (text.get(..1)?, text.get(1..)?);
            let unspaced = format!("{sign}{}", rest.strip_prefix(' ')?);
            unspaced.parse().ok()
        }
    }
}

/// How many present values of each kind a column has seen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindCounts {
    pub integral: u64,
    pub fractional: u64,
    pub boolean: u64,
    pub string: u64,
}

impl KindCounts {
    pub fn add(&mut self, kind: ValueKind) {
        match kind {
            ValueKind::Integral => self.integral += 1,
            ValueKind::Fractional => self.fractional += 1,
            ValueKind::Boolean => self.boolean += 1,
            ValueKind::String => self.string += 1,
        }
    }

    pub fn merge(&mut self, other: &KindCounts) {
        self.integral += other.integral;
        self.fractional += other.fractional;
        self.boolean += other.boolean;
        self.string += other.string;
    }

    pub fn present(&self) -> u64 {
        self.integral + self.fractional + self.boolean + self.string
    }

    pub fn numeric(&self) -> u64 {
        self.integral + self.fractional
    }

    /// Deequ's decision: no values → Unknown; any String, or Boolean mixed with numbers →
    /// String; only Booleans → Boolean; any Fractional → Fractional; else Integral.
    pub fn inferred_type(&self) -> InferredType {
        if self.present() == 0 {
            InferredType::Unknown
        } else if self.string > 0 || (self.boolean > 0 && self.numeric() > 0) {
            InferredType::String
        } else if self.boolean > 0 {
            InferredType::Boolean
        } else if self.fractional > 0 {
            InferredType::Fractional
        } else {
            InferredType::Integral
        }
    }

    /// Present values that match `expected`, as SageMaker's data_type_check counts them:
    /// Integral values also match Fractional, and every value matches String.
    pub fn matching(&self, expected: InferredType) -> u64 {
        match expected {
            InferredType::Integral => self.integral,
            InferredType::Fractional => self.numeric(),
            InferredType::Boolean => self.boolean,
            InferredType::String | InferredType::Unknown => self.present(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_classify_like_deequs_patterns() {
        use ValueKind::*;
        let cases = [
            ("0", Integral),
            ("42", Integral),
            ("-7", Integral),
            ("+7", Integral),
            ("- 7", Integral),
            ("007", Integral),
            ("3.0", Fractional),
            ("-0.5", Fractional),
            ("1e5", Fractional),
            ("1E-5", Fractional),
            ("2.5e+10", Fractional),
            ("true", Boolean),
            ("false", Boolean),
            ("True", String),
            (".5", String),
            ("5.", String),
            ("1e", String),
            ("1.2.3", String),
            ("  5", String),
            ("5 ", String),
            ("-", String),
            ("NaN", String),
            ("inf", String),
            ("abc", String),
            ("", String),
            ("１２", String),
        ];
        for (text, expected) in cases {
            assert_eq!(classify(text), expected, "classify({text:?})");
        }
    }

    #[test]
    fn numbers_parse_including_deequs_space_after_sign() {
        assert_eq!(parse_number("- 7"), Some(-7.0));
        assert_eq!(parse_number("+ 2.5e1"), Some(25.0));
        assert_eq!(parse_number("1E-5"), Some(1e-5));
    }

    #[test]
    fn fast_values_equal_the_standard_parser() {
        let mut cases: Vec<String> = [
            "0",
            "-0",
            "+0",
            "-0.0",
            "007",
            "9007199254740992",
            "9007199254740993",
            "-9007199254740992",
            "0.1",
            "0.30000000000000004",
            "123456789.123456789",
            "1.0000000000000000000000001",
            "0.0000000000000000000001",
            "0.00000000000000000000001",
            "4503599627370497.5",
            "- 7",
            "+ 2.5",
            "99999999999999999999",
            "18446744073709551616",
            "1e5",
            "2.5E-3",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // Deterministic random decimals of every width, signs and fraction lengths.
        let mut state = 11u64;
        for _ in 0..200_000 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let digits = (state >> 59) as usize + 1;
            let whole = (state >> 8) % 10u64.pow(digits.min(19) as u32);
            let fraction_digits = ((state >> 3) % 24) as usize;
            let sign = ["", "-", "+"][(state % 3) as usize];
            let fraction = (state >> 20) % 10u64.pow(fraction_digits.min(19) as u32);
            cases.push(match fraction_digits {
                0 => format!("{sign}{whole}"),
                n => format!("{sign}{whole}.{fraction:0n$}"),
            });
        }
        let mut fast = 0;
        for text in &cases {
            let (kind, value) = typed_value(text);
            assert_eq!(kind, classify(text), "{text}");
            let expected = parse_number(text).filter(|v| v.is_finite());
            assert_eq!(value.map(f64::to_bits), expected.map(f64::to_bits), "{text}");
            fast += usize::from(scan(text).1.is_some());
        }
        assert!(
            fast > cases.len() / 10,
            "the fast path took only {fast} of {} values",
            cases.len()
        );
        assert_eq!(typed_value(&"9".repeat(400)), (ValueKind::String, None));
        assert_eq!(typed_value("true"), (ValueKind::Boolean, None));
    }

    #[test]
    fn column_type_follows_deequ() {
        let counts = |integral, fractional, boolean, string| KindCounts {
            integral,
            fractional,
            boolean,
            string,
        };
        assert_eq!(counts(0, 0, 0, 0).inferred_type(), InferredType::Unknown);
        assert_eq!(counts(5, 0, 0, 0).inferred_type(), InferredType::Integral);
        assert_eq!(counts(5, 1, 0, 0).inferred_type(), InferredType::Fractional);
        assert_eq!(counts(5, 1, 0, 1).inferred_type(), InferredType::String);
        assert_eq!(counts(0, 0, 3, 0).inferred_type(), InferredType::Boolean);
        assert_eq!(counts(1, 0, 3, 0).inferred_type(), InferredType::String);
        assert_eq!(counts(3, 2, 0, 0).matching(InferredType::Fractional), 5);
        assert_eq!(counts(3, 2, 0, 0).matching(InferredType::Integral), 3);
    }
}
