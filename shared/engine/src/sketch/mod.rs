//! Mergeable, deterministic sketches used by profiling and drift checks.
//!
//! - [`KllSketch`]: quantile sketch with the exact layout of Deequ's `QuantileNonSample`
//!   (the `kll.sketch` object SageMaker Model Monitor writes in `statistics.json`).
//! - [`linf_distance`]: Deequ's `Distance.numericalDistance` between two such sketches.
//! - [`HyperLogLog`]: distinct-value estimator.
//!
//! Every sketch is deterministic (same input order, same state) and serde-serialisable, so
//! partial profiles can be saved and merged later.

pub mod distance;
pub mod hll;
pub mod kll;

pub use distance::{linf_distance, linf_distance_views, robust_correction, DEFAULT_C_ALPHA};
pub use hll::HyperLogLog;
pub use kll::{CdfView, KllSketch, DEFAULT_BUCKET_COUNT, DEFAULT_SHRINKING_FACTOR, DEFAULT_SKETCH_SIZE};

/// Why a sketch could not be built, loaded or merged.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SketchError {
    #[error("invalid KLL parameters c={c}, k={k}: need 0 < c <= 1 and 2 <= k <= 2^31-1")]
    InvalidParameters { c: f64, k: usize },
    #[error("cannot merge KLL sketches with different parameters (c={c}, k={k} vs c={other_c}, k={other_k})")]
    ParameterMismatch {
        c: f64,
        k: usize,
        other_c: f64,
        other_k: usize,
    },
    #[error("KLL level {level} item {index} is not a finite number")]
    NonFiniteValue { level: usize, index: usize },
    #[error("KLL sketch has {levels} levels; at most {max} fit 64-bit weights")]
    TooManyLevels { levels: usize, max: usize },
    #[error("KLL sketch total weight overflows 64 bits")]
    WeightOverflow,
    #[error("KLL sketch has {levels} levels but {compactions} compaction counters")]
    CompactionCountMismatch { levels: usize, compactions: usize },
    #[error("HyperLogLog precision {found} is not supported (expected {expected})")]
    UnsupportedPrecision { expected: u32, found: u32 },
    #[error("HyperLogLog has {found} registers, expected {expected}")]
    RegisterCount { expected: usize, found: usize },
    #[error("HyperLogLog register {index} holds {value}, above the maximum {max}")]
    RegisterValue { index: usize, value: u8, max: u8 },
}

/// Deterministic random numbers for tests (no dependency, identical on every platform).
#[cfg(test)]
pub(crate) mod testing {
    /// splitmix64 (Steele, Lea & Flood 2014).
    pub struct SplitMix64(u64);

    impl SplitMix64 {
        pub fn new(seed: u64) -> Self {
            Self(seed)
        }

        pub fn next_u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }

        /// Uniform in (0, 1]: never 0, so `ln` is always finite.
        pub fn next_open01(&mut self) -> f64 {
            ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
        }

        /// Standard normal via Box–Muller (one of the pair is enough here).
        pub fn next_normal(&mut self) -> f64 {
            let u1 = self.next_open01();
            let u2 = self.next_open01();
            (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
        }
    }
}
