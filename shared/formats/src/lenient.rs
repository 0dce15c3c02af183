//! Deserialisers for numbers that SageMaker (or a user's re-serialisation) writes loosely.

use serde::{de, Deserialize, Deserializer};

/// A count written as `23432` or `23432.0`.
pub fn count<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    let value = f64::deserialize(deserializer)?;
    if value.is_finite() && value >= 0.0 && value.fract() == 0.0 && value <= u64::MAX as f64 {
        Ok(value as u64)
    } else {
        Err(de::Error::custom(format!(
            "expected a non-negative whole count, found {value}"
        )))
    }
}

/// An optional count written as an integer, a double or `null`.
pub fn optional_count<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    match Option::<f64>::deserialize(deserializer)? {
        None => Ok(None),
        Some(value) if value.is_finite() && value >= 0.0 && value.fract() == 0.0 => Ok(Some(value as u64)),
        Some(value) => Err(de::Error::custom(format!(
            "expected a non-negative whole count, found {value}"
        ))),
    }
}

/// A double, or `null`: the writer's spelling of a value that is not finite (a standard deviation
/// that overflowed on numbers near `f64::MAX`, say), read back as NaN so such a baseline loads.
pub fn double<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(deserializer)?.unwrap_or(f64::NAN))
}
