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

pub use distance::{largest_gap_views, linf_distance, linf_distance_views, robust_correction, CdfGap, DEFAULT_C_ALPHA};
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

/// Deterministic random numbers for tests.
#[cfg(test)]
pub(crate) mod testing {
    pub use crate::random::SplitMix64;
}
