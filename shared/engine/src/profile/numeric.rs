//! Exact moments of a numeric column, plus its KLL sketch. One pass, mergeable.

use serde::{Deserialize, Serialize};

use crate::sketch::KllSketch;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NumericSummary {
    pub count: u64,
    /// Neumaier-compensated sum: agrees with pairwise/exact summation far better than a naive loop.
    sum: f64,
    compensation: f64,
    /// Welford's running mean and sum of squared deviations (population variance = m2 / count).
    mean: f64,
    m2: f64,
    pub min: f64,
    pub max: f64,
    pub sketch: KllSketch,
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
