//! Writing JSON the way SageMaker's analyzer does: Jackson's default pretty printer and Java's
//! `Double.toString`, so our files diff cleanly against SageMaker's own.
//!
//! Layout rules (observed in real analyzer output):
//! - objects: `{`, one `"key" : value` per line indented two spaces per open object, `}`;
//!   an empty object is `{ }`;
//! - arrays stay on the line they open: `[ 1.0, 2.0 ]`, `[ {` ... `}, {` ... `} ]`, empty `[ ]`;
//!   arrays do not add indentation;
//! - doubles as Java prints them (`73738.0`, `3.8E7`, `1.0E-4`); integers without `.0`;
//! - a trailing newline after the document.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::ser::Formatter;

/// Serialises `value` in SageMaker's (Jackson's) layout, with a trailing newline.
pub fn to_sagemaker_json<T: Serialize + ?Sized>(value: &T) -> String {
    let mut out = Vec::with_capacity(4096);
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, JacksonFormatter::default());
    value
        .serialize(&mut serializer)
        .expect("serialising plain data types into memory cannot fail");
    out.push(b'\n');
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

/// Formats a double exactly as Java's `Double.toString` does (shortest round-trip digits).
/// Non-finite values have no JSON form; they are written as `null`.
pub fn java_double(value: f64) -> String {
    if !value.is_finite() {
        return "null".to_string();
    }
    if value == 0.0 {
        return if value.is_sign_negative() { "-0.0" } else { "0.0" }.to_string();
    }
    let mut buffer = ryu::Buffer::new();
    let shortest = buffer.format_finite(value.abs());
    let (digits, exponent) = decimal_digits(shortest);
    let sign = if value < 0.0 { "-" } else { "" };
    let magnitude = value.abs();
    if (1e-3..1e7).contains(&magnitude) {
        format!("{sign}{}", plain_notation(&digits, exponent))
    } else {
        let (first, rest) = digits.split_at(1);
        let rest = if rest.is_empty() { "0" } else { rest };
        format!("{sign}{first}.{rest}E{exponent}")
    }
}

/// Splits ryu's output (`1.25e-7`, `73738.0`, `0.001`) into significant digits without
/// leading or trailing zeros and the exponent `e` such that the value is `d.ddd × 10^e`.
fn decimal_digits(shortest: &str) -> (String, i32) {
    let (mantissa, exp_part) = match shortest.split_once('e') {
        Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
        None => (shortest, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all_digits: String = format!("{int_part}{frac_part}");
    let leading_zeros = all_digits.len() - all_digits.trim_start_matches('0').len();
    let significant = all_digits.trim_start_matches('0').trim_end_matches('0');
    // Position of the decimal point relative to the first digit of `all_digits`.
    let exponent = int_part.len() as i32 - 1 - leading_zeros as i32 + exp_part;
    let significant = if significant.is_empty() { "0" } else { significant };
    (significant.to_string(), exponent)
}

fn plain_notation(digits: &str, exponent: i32) -> String {
    if exponent >= 0 {
        let int_len = exponent as usize + 1;
        if digits.len() <= int_len {
            format!("{digits}{}.0", "0".repeat(int_len - digits.len()))
        } else {
            format!("{}.{}", &digits[..int_len], &digits[int_len..])
        }
    } else {
        format!("0.{}{digits}", "0".repeat((-exponent - 1) as usize))
    }
}

#[derive(Default)]
struct JacksonFormatter {
    /// Number of open objects: the indentation level.
    object_depth: usize,
    /// For each open container: whether it has received a value yet.
    has_value: Vec<bool>,
}

impl JacksonFormatter {
    fn newline_indent<W: ?Sized + Write>(&self, writer: &mut W, depth: usize) -> io::Result<()> {
        writer.write_all(b"\n")?;
        for _ in 0..depth {
            writer.write_all(b"  ")?;
        }
        Ok(())
    }
}

impl Formatter for JacksonFormatter {
    fn write_f64<W: ?Sized + Write>(&mut self, writer: &mut W, value: f64) -> io::Result<()> {
        writer.write_all(java_double(value).as_bytes())
    }

    fn write_f32<W: ?Sized + Write>(&mut self, writer: &mut W, value: f32) -> io::Result<()> {
        self.write_f64(writer, f64::from(value))
    }

    fn begin_array<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.has_value.push(false);
        writer.write_all(b"[")
    }

    fn end_array<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.has_value.pop();
        writer.write_all(b" ]")
    }

    fn begin_array_value<W: ?Sized + Write>(&mut self, writer: &mut W, first: bool) -> io::Result<()> {
        if let Some(flag) = self.has_value.last_mut() {
            *flag = true;
        }
        writer.write_all(if first { b" " } else { b", " })
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, _writer: &mut W) -> io::Result<()> {
        Ok(())
    }

    fn begin_object<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.object_depth += 1;
        self.has_value.push(false);
        writer.write_all(b"{")
    }

    fn end_object<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.object_depth -= 1;
        if self.has_value.pop().unwrap_or(false) {
            self.newline_indent(writer, self.object_depth)?;
            writer.write_all(b"}")
        } else {
            writer.write_all(b" }")
        }
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, writer: &mut W, first: bool) -> io::Result<()> {
        if let Some(flag) = self.has_value.last_mut() {
            *flag = true;
        }
        if !first {
            writer.write_all(b",")?;
        }
        self.newline_indent(writer, self.object_depth)
    }

    fn end_object_key<W: ?Sized + Write>(&mut self, _writer: &mut W) -> io::Result<()> {
        Ok(())
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        writer.write_all(b" : ")
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, _writer: &mut W) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_print_as_java_does() {
        let cases = [
            (73738.0, "73738.0"),
            (3.8e7, "3.8E7"),
            (1.4402689218907343e10, "1.4402689218907343E10"),
            (1.14e7, "1.14E7"),
            (614658.9799806821, "614658.9799806821"),
            (0.64, "0.64"),
            (2048.0, "2048.0"),
            (4.6, "4.6"),
            (0.001, "0.001"),
            (0.0001, "1.0E-4"),
            (1.25e-7, "1.25E-7"),
            (9999999.0, "9999999.0"),
            (10000000.0, "1.0E7"),
            (-2.5, "-2.5"),
            (-3.8e7, "-3.8E7"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (100.0, "100.0"),
            (0.009009009009009009, "0.009009009009009009"),
            (123.456, "123.456"),
            (f64::MAX, "1.7976931348623157E308"),
            (f64::MIN_POSITIVE, "2.2250738585072014E-308"),
            (f64::NAN, "null"),
        ];
        for (value, expected) in cases {
            assert_eq!(java_double(value), expected, "formatting {value:e}");
        }
    }

    #[test]
    fn java_doubles_read_back_to_the_same_value() {
        let mut x = 1.234_567_890_123e-12_f64;
        while x < 1e15 {
            let text = java_double(x);
            assert_eq!(text.parse::<f64>().unwrap(), x, "{text}");
            x *= 7.3;
        }
    }

    #[test]
    fn layout_matches_jackson() {
        let value = serde_json::json!({
            "version": 0.0,
            "dataset": {"item_count": 3},
            "features": [{"name": "a", "data": [[1.0, 2.0], []], "empty": {}}, {"name": "b"}],
        });
        let expected = r#"{
  "version" : 0.0,
  "dataset" : {
    "item_count" : 3
  },
  "features" : [ {
    "name" : "a",
    "data" : [ [ 1.0, 2.0 ], [ ] ],
    "empty" : { }
  }, {
    "name" : "b"
  } ]
}
"#;
        assert_eq!(to_sagemaker_json(&value), expected);
    }
}
