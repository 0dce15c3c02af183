//! Loads SageMaker files and reports whether writing them back reproduces them byte for byte.
//! `cargo run -p modelmon-formats --example check_file -- statistics.json constraints.json ...`
use modelmon_formats::{ConstraintViolations, Constraints, Statistics};

fn main() {
    for path in std::env::args().skip(1) {
        let bytes = std::fs::read(&path).expect("readable file");
        let rewritten = if path.ends_with("statistics.json") {
            Statistics::from_json_slice(&bytes, &path).map(|s| s.to_json())
        } else if path.ends_with("constraint_violations.json") {
            ConstraintViolations::from_json_slice(&bytes, &path).map(|v| v.to_json())
        } else {
            Constraints::from_json_slice(&bytes, &path).map(|c| c.to_json())
        };
        match rewritten {
            Ok(text) if text.as_bytes() == bytes.as_slice() => println!("{path}: loads; rewrites byte for byte"),
            Ok(_) => println!("{path}: loads; its layout is not SageMaker's (rewriting changes whitespace)"),
            Err(err) => println!("{path}: FAILED: {err}"),
        }
    }
}
