//! Exact moments of a numeric column, plus its KLL sketch. One pass, mergeable.

use serde::{Deserialize, Serialize};

use crate::sketch::KllSketch;

/// Serialized (a fanned-out baseline's partial profiles) with every float intact: the empty
/// summary's min and max are infinite, which JSON numbers cannot hold (see [`any_float`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NumericSummary {
    pub count: u64,
    /// Neumaier-compensated sum: agrees with pairwise/exact summation far better than a naive loop.
    #[serde(with = "any_float")]
    sum: f64,
    #[serde(with = "any_float")]
    compensation: f64,
    /// Welford's running mean and sum of squared deviations (population variance = m2 / count).
    #[serde(with = "any_float")]
    mean: f64,
    #[serde(with = "any_float")]
    m2: f64,
    #[serde(with = "any_float")]
    pub min: f64,
    #[serde(with = "any_float")]
    pub max: f64,
    pub sketch: KllSketch,
}

/// A float as a JSON number, or as `"Infinity"`, `"-Infinity"`, `"NaN"` when it is not finite
/// (serde_json would write `null` and not read it back).
mod any_float {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
        match *value {
            v if v.is_finite() => serializer.serialize_f64(v),
            v if v.is_nan() => serializer.serialize_str("NaN"),
            v if v > 0.0 => serializer.serialize_str("Infinity"),
            _ => serializer.serialize_str("-Infinity"),
        }
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Float {
        Number(f64),
        Text(String),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
        match Float::deserialize(deserializer)? {
            Float::Number(v) => Ok(v),
            Float::Text(text) => match text.as_str() {
                "NaN" => Ok(f64::NAN),
                "Infinity" => Ok(f64::INFINITY),
                "-Infinity" => Ok(f64::NEG_INFINITY),
                other => Err(serde::de::Error::custom(format!("not a float: {other:?}"))),
            },
        }
    }
}

impl Default for NumericSummary {
    fn default() -> Self {
        Self {
            count: 0,
            sum: 0.0,
            compensation: 0.0,
            mean: 0.0,
            m2: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            sketch: KllSketch::default(),
        }
    }
}

impl NumericSummary {
    pub fn observe(&mut self, value: f64) {
        self.count += 1;
        self.add_to_sum(value);
        let delta = value - self.mean;
        self.mean += delta / self.count as f64;
        self.m2 += delta * (value - self.mean);
        self.min = self.min.min(value);
        self.max = self.max.max(value);
        self.sketch.update(value);
    }

    fn add_to_sum(&mut self, value: f64) {
        let total = self.sum + value;
        self.compensation += if self.sum.abs() >= value.abs() {
            (self.sum - total) + value
        } else {
            (value - total) + self.sum
        };
        self.sum = total;
    }

    /// Chan et al.'s parallel combination: exact for count, sum, min, max; the variance as
    /// accurate as a single pass.
    pub fn merge(&mut self, other: &NumericSummary) -> Result<(), crate::sketch::SketchError> {
        if other.count == 0 {
            return Ok(());
        }
        self.sketch.try_merge(&other.sketch)?;
        let (n_a, n_b) = (self.count as f64, other.count as f64);
        let n = n_a + n_b;
        let delta = other.mean - self.mean;
        self.m2 += other.m2 + delta * delta * n_a * n_b / n;
        self.mean += delta * n_b / n;
        self.count += other.count;
        self.add_to_sum(other.sum);
        self.compensation += other.compensation;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        Ok(())
    }

    pub fn sum(&self) -> f64 {
        self.sum + self.compensation
    }

    pub fn mean(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum() / self.count as f64
        }
    }

    /// Population standard deviation, as Deequ's `StandardDeviation` (sqrt(m2 / n)).
    pub fn std_dev(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            (self.m2.max(0.0) / self.count as f64).sqrt()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_round_trips_through_json_with_its_infinities() {
        let empty = NumericSummary::default();
        let text = serde_json::to_string(&empty).unwrap();
        assert!(text.contains(r#""min":"Infinity","max":"-Infinity""#), "{text}");
        assert_eq!(serde_json::from_str::<NumericSummary>(&text).unwrap(), empty);
        let mut some = NumericSummary::default();
        for v in [0.1, 1e300, -2.5, 1.0 / 3.0] {
            some.observe(v);
        }
        let back: NumericSummary = serde_json::from_str(&serde_json::to_string(&some).unwrap()).unwrap();
        assert_eq!(back, some);
    }
}
