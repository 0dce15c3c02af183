//! Drift distance between two numerical distributions summarised by KLL sketches:
//! Deequ's `Distance.numericalDistance` (the `linf_simple` / `linf_robust` of SageMaker's
//! distribution constraints).

use serde::{Deserialize, Serialize};

use super::kll::{CdfView, KllSketch};

/// Deequ's default `c(alpha)` (alpha = 0.003) in the Kolmogorov–Smirnov correction.
pub const DEFAULT_C_ALPHA: f64 = 1.8;

/// Largest gap between the two empirical CDFs, `max |rank_a(x)/n - rank_b(x)/m|` over every
/// retained item `x` of either sketch (`n`, `m` = total weights, `rank` = weight `<= x`).
/// `None` if either sketch is empty.
pub fn linf_distance(a: &KllSketch, b: &KllSketch) -> Option<f64> {
    linf_distance_views(&a.cdf_view(), &b.cdf_view())
}

/// [`linf_distance`] on prebuilt views: one merge walk, O(n + m).
pub fn linf_distance_views(a: &CdfView, b: &CdfView) -> Option<f64> {
    largest_gap_views(a, b).map(|gap| gap.distance())
}

/// Where two CDFs are furthest apart: the first retained item `at` (scanning upwards) where
/// `|a(at) - b(at)|` is largest, and both CDFs there (`a(x)` = fraction of weight `<= x`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CdfGap {
    pub at: f64,
    pub a: f64,
    pub b: f64,
}

impl CdfGap {
    /// The L-infinity distance, `|a - b|`.
    pub fn distance(&self) -> f64 {
        (self.a - self.b).abs()
    }
}

/// The point of [`linf_distance_views`]: one merge walk, O(n + m); `None` if either is empty.
pub fn largest_gap_views(a: &CdfView, b: &CdfView) -> Option<CdfGap> {
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let (n, m) = (a.total_weight() as f64, b.total_weight() as f64);
    let (a_values, a_weights) = (a.values(), a.cumulative_weights());
    let (b_values, b_weights) = (b.values(), b.cumulative_weights());
    let weight_before = |weights: &[u64], index: usize| match index {
        0 => 0.0,
        i => weights[i - 1] as f64,
    };

    let (mut i, mut j) = (0, 0);
    let mut largest: Option<CdfGap> = None;
    while i < a_values.len() || j < b_values.len() {
        let x = match (a_values.get(i), b_values.get(j)) {
            (Some(&va), Some(&vb)) => va.min(vb),
            (Some(&va), None) => va,
            (None, Some(&vb)) => vb,
            (None, None) => unreachable!("loop condition"),
        };
        // `<=` rather than equality: -0.0 and 0.0 are distinct entries but the same rank key.
        while i < a_values.len() && a_values[i] <= x {
            i += 1;
        }
        while j < b_values.len() && b_values[j] <= x {
            j += 1;
        }
        let gap = CdfGap {
            at: x,
            a: weight_before(a_weights, i) / n,
            b: weight_before(b_weights, j) / m,
        };
        if largest.is_none_or(|best| gap.distance() > best.distance()) {
            largest = Some(gap);
        }
    }
    largest
}

/// Kolmogorov–Smirnov small-sample correction `1.8 * sqrt((n + m) / (n m))`; Deequ's robust
/// distance is `max(0, linf_distance - robust_correction(n, m))`.
pub fn robust_correction(n: f64, m: f64) -> f64 {
    DEFAULT_C_ALPHA * ((n + m) / (n * m)).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sketch::testing::SplitMix64;

    fn sketch_of(values: impl IntoIterator<Item = f64>) -> KllSketch {
        let mut sketch = KllSketch::default();
        values.into_iter().for_each(|v| sketch.update(v));
        sketch
    }

    /// Deequ's definition evaluated literally: O((n + m)^2), for cross-checking.
    fn brute_force(a: &KllSketch, b: &KllSketch) -> f64 {
        let keys = a.levels().iter().chain(b.levels()).flatten();
        let (n, m) = (a.count() as f64, b.count() as f64);
        keys.map(|&x| (a.rank(x) / n - b.rank(x) / m).abs()).fold(0.0, f64::max)
    }

    #[test]
    fn identical_sketches_have_zero_distance() {
        let mut rng = SplitMix64::new(1);
        let a = sketch_of((0..100_000).map(|_| rng.normal()));
        assert_eq!(linf_distance(&a, &a.clone()), Some(0.0));
    }

    #[test]
    fn disjoint_ranges_have_distance_one() {
        let a = sketch_of((0..5_000).map(f64::from));
        let b = sketch_of((10_000..13_000).map(f64::from));
        assert_eq!(linf_distance(&a, &b), Some(1.0));
        assert_eq!(linf_distance(&b, &a), Some(1.0));
    }

    #[test]
    fn hand_computed_small_case() {
        // x:      1     2     3     4     5     6
        // F_a:  .25   .50   .75     1     1     1
        // F_b:    0     0   .25   .50   .75     1
        let a = sketch_of([1.0, 2.0, 3.0, 4.0]);
        let b = sketch_of([3.0, 4.0, 5.0, 6.0]);
        assert_eq!(linf_distance(&a, &b), Some(0.5));
        // Different sizes and duplicates: a = {1, 1, 2}, b = {2}: at x = 1, |2/3 - 0|.
        let a = sketch_of([1.0, 1.0, 2.0]);
        let b = sketch_of([2.0]);
        assert_eq!(linf_distance(&a, &b), Some(2.0 / 3.0));
    }

    #[test]
    fn empty_sketch_has_no_distance() {
        let a = sketch_of([1.0]);
        assert_eq!(linf_distance(&a, &KllSketch::default()), None);
        assert_eq!(linf_distance(&KllSketch::default(), &a), None);
    }

    #[test]
    fn merge_walk_matches_definition_on_compacted_sketches() {
        let mut rng = SplitMix64::new(2);
        let a = sketch_of((0..60_000).map(|_| rng.normal()));
        let b = sketch_of((0..25_000).map(|_| rng.normal() * 1.2 + 0.1));
        // Shared keys and signed zeros exercise the tie handling.
        let c = sketch_of([0.0, -0.0, 1.0, 1.0, 2.0]);
        let d = sketch_of([-0.0, 1.0, 3.0]);
        assert!(a.levels().len() > 2 && b.levels().len() > 2);
        for (x, y) in [(&a, &b), (&b, &a), (&c, &d), (&d, &c)] {
            assert_eq!(linf_distance(x, y), Some(brute_force(x, y)));
        }
    }

    #[test]
    fn largest_gap_names_where_the_distance_is_reached() {
        // The hand-computed case: the gap of 0.5 is first reached at x = 2 (F_a .5, F_b 0).
        let a = sketch_of([1.0, 2.0, 3.0, 4.0]);
        let b = sketch_of([3.0, 4.0, 5.0, 6.0]);
        let gap = largest_gap_views(&a.cdf_view(), &b.cdf_view()).unwrap();
        assert_eq!(
            gap,
            CdfGap {
                at: 2.0,
                a: 0.5,
                b: 0.0
            }
        );
        assert_eq!(Some(gap.distance()), linf_distance(&a, &b));
    }

    #[test]
    fn robust_correction_formula() {
        assert_eq!(robust_correction(100.0, 100.0), 1.8 * 0.02f64.sqrt());
    }
}
