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
    let bytes = text.as_bytes();
    let mut i = 0;
    if matches!(bytes.first(), Some(b'-' | b'+')) {
        i += 1;
    }
    if bytes.get(i) == Some(&b' ') {
        i += 1;
    }
    let int_start = i;
    while bytes.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    if i == int_start {
        return if text == "true" || text == "false" {
            ValueKind::Boolean
        } else {
            ValueKind::String
        };
    }
    if i == bytes.len() {
        return ValueKind::Integral;
    }
    let mut has_fraction = false;
    if bytes[i] == b'.' {
        i += 1;
        let frac_start = i;
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == frac_start {
            return ValueKind::String;
        }
        has_fraction = true;
    }
    if i == bytes.len() {
        return if has_fraction {
            ValueKind::Fractional
        } else {
            ValueKind::String
        };
    }
    if matches!(bytes[i], b'e' | b'E') {
        i += 1;
        if matches!(bytes.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        let exp_start = i;
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i > exp_start && i == bytes.len() {
            return ValueKind::Fractional;
        }
    }
    ValueKind::String
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
