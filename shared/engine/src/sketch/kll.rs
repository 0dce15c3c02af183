//! KLL quantile sketch reproducing Deequ's `QuantileNonSample` / `NonSampleCompactor`
//! (deequ `src/main/scala/com/amazon/deequ/analyzers/QuantileNonSample.scala`), which is what
//! SageMaker Model Monitor serialises as `kll.sketch` (`parameters.c`, `parameters.k`, `data`).
//!
//! Layout: `levels[i]` holds items of weight `2^i`; level 0 is in insertion order. The rules
//! follow Deequ's code, including its quirks, so a sketch built here from one stream of values
//! has the same `data` as Deequ's for the same stream:
//! - level capacity is `2 * (ceil(k * c^i / 2) + 1)`: level 0 is the *largest* (2050 for the
//!   defaults) and capacities shrink upwards, towards a floor of 4;
//! - `update` condenses once when the retained count *exceeds* the total capacity, `merge`
//!   condenses while it is *at least* the total capacity;
//! - a compaction sorts the first even number of items, promotes every second one, and keeps
//!   the odd item that was *last in the buffer* (not the largest);
//! - the promotion offset of a level runs 0, 1, 1, 0, 0, 1, 1, 0, ... over its compactions
//!   (Deequ's random choice is commented out, so this is deterministic).

use serde::{Deserialize, Serialize};

use super::SketchError;

/// Deequ's and SageMaker's default shrinking factor `c`.
pub const DEFAULT_SHRINKING_FACTOR: f64 = 0.64;
/// Deequ's and SageMaker's default sketch size `k`.
pub const DEFAULT_SKETCH_SIZE: usize = 2048;
/// SageMaker reports 10 equal-width buckets per numerical column.
pub const DEFAULT_BUCKET_COUNT: usize = 10;

/// Deequ keeps `k` in a Java `Int`.
const MAX_SKETCH_SIZE: usize = i32::MAX as usize;
/// Items of level `i` weigh `2^i`, which must fit in a `u64`.
const MAX_LEVELS: usize = 64;

/// Deterministic KLL quantile sketch of `f64` values; see the module docs for the layout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "KllSketchState", into = "KllSketchState")]
pub struct KllSketch {
    c: f64,
    k: usize,
    levels: Vec<Vec<f64>>,
    /// Compactions done so far per level; drives the promotion offset.
    compactions: Vec<u64>,
    // Derived from the above, kept to make `update` cheap.
    capacities: Vec<usize>,
    total_capacity: usize,
    retained: usize,
}

impl Default for KllSketch {
    fn default() -> Self {
        Self::new(DEFAULT_SHRINKING_FACTOR, DEFAULT_SKETCH_SIZE).expect("default KLL parameters are valid")
    }
}

impl KllSketch {
    /// An empty sketch with shrinking factor `c` in (0, 1] and sketch size `k` >= 2.
    ///
    /// # Errors
    /// [`SketchError::InvalidParameters`] for parameters outside those ranges.
    pub fn new(c: f64, k: usize) -> Result<Self, SketchError> {
        Self::from_levels(c, k, Vec::new())
    }

    /// Loads a sketch from its serialised levels (`data[i]` = level `i`), e.g. from a
    /// `statistics.json`. The levels need not respect the capacities: the next `update` or
    /// `merge` condenses them, as Deequ's `reconstruct` does. Compaction counters start at 0.
    ///
    /// # Errors
    /// Invalid `c`/`k`, a non-finite item, more than 64 levels, or a total weight above `u64`.
    pub fn from_levels(c: f64, k: usize, levels: Vec<Vec<f64>>) -> Result<Self, SketchError> {
        if !(c > 0.0 && c <= 1.0 && (2..=MAX_SKETCH_SIZE).contains(&k)) {
            return Err(SketchError::InvalidParameters { c, k });
        }
        if levels.len() > MAX_LEVELS {
            return Err(SketchError::TooManyLevels {
                levels: levels.len(),
                max: MAX_LEVELS,
            });
        }
        let mut total_weight = 0u64;
        for (level, items) in levels.iter().enumerate() {
            if let Some(index) = items.iter().position(|v| !v.is_finite()) {
                return Err(SketchError::NonFiniteValue { level, index });
            }
            total_weight = u64::try_from(items.len())
                .ok()
                .and_then(|len| len.checked_mul(level_weight(level)))
                .and_then(|weight| weight.checked_add(total_weight))
                .ok_or(SketchError::WeightOverflow)?;
        }

        let mut sketch = Self {
            c,
            k,
            levels: Vec::with_capacity(levels.len().max(1)),
            compactions: Vec::new(),
            capacities: Vec::new(),
            total_capacity: 0,
            retained: 0,
        };
        let level_count = levels.len().max(1);
        while sketch.levels.len() < level_count {
            sketch.add_level();
        }
        for (slot, items) in sketch.levels.iter_mut().zip(levels) {
            sketch.retained += items.len();
            *slot = items;
        }
        Ok(sketch)
    }

    /// Shrinking factor `c`.
    pub fn c(&self) -> f64 {
        self.c
    }

    /// Sketch size `k`.
    pub fn k(&self) -> usize {
        self.k
    }

    /// The levels, `levels()[i]` holding items of weight `2^i` (SageMaker's `sketch.data`).
    pub fn levels(&self) -> &[Vec<f64>] {
        &self.levels
    }

    /// Total weight: the number of values the sketch summarises.
    pub fn count(&self) -> u64 {
        self.levels
            .iter()
            .enumerate()
            .map(|(level, items)| (items.len() as u64).saturating_mul(level_weight(level)))
            .fold(0u64, u64::saturating_add)
    }

    pub fn is_empty(&self) -> bool {
        self.retained == 0
    }

    /// Adds one value. Non-finite values are ignored: NaN has no rank, and a JSON
    /// `statistics.json` cannot hold infinities (`from_levels` rejects them too).
    pub fn update(&mut self, value: f64) {
        if !value.is_finite() {
            return;
        }
        self.levels[0].push(value);
        self.retained += 1;
        // Deequ condenses once, and only when strictly over capacity.
        if self.retained > self.total_capacity {
            self.condense();
        }
    }

    /// Merges `other` into `self` (Deequ's `QuantileNonSample.merge`): grow to `other`'s
    /// height, append its levels to ours, then condense while at or over capacity.
    /// Merging an empty sketch is a no-op (Deequ could still condense once here).
    ///
    /// # Errors
    /// [`SketchError::ParameterMismatch`] if `c` or `k` differ; `self` is then unchanged.
    pub fn try_merge(&mut self, other: &KllSketch) -> Result<(), SketchError> {
        if self.c.to_bits() != other.c.to_bits() || self.k != other.k {
            return Err(SketchError::ParameterMismatch {
                c: self.c,
                k: self.k,
                other_c: other.c,
                other_k: other.k,
            });
        }
        if other.is_empty() {
            return Ok(());
        }
        while self.levels.len() < other.levels.len() {
            self.add_level();
        }
        for (mine, theirs) in self.levels.iter_mut().zip(&other.levels) {
            mine.extend_from_slice(theirs);
        }
        self.retained += other.retained;
        while self.retained >= self.total_capacity && self.condense() {}
        Ok(())
    }

    /// Estimated number of values `<= x` (for one query; [`KllSketch::cdf_view`] for many).
    pub fn rank(&self, x: f64) -> f64 {
        self.cdf_view().rank(x)
    }

    /// Estimated number of values `< x`.
    pub fn rank_exclusive(&self, x: f64) -> f64 {
        self.cdf_view().rank_exclusive(x)
    }

    /// Estimated fraction of values `<= x`; `None` on an empty sketch.
    pub fn cdf(&self, x: f64) -> Option<f64> {
        self.cdf_view().cdf(x)
    }

    /// Smallest retained item whose cumulative weight is at least `q * count`, for `q` in
    /// [0, 1] (clamped); `None` on an empty sketch or a NaN `q`.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        self.cdf_view().quantile(q)
    }

    /// Sorted view for many rank queries in O(log n) each.
    pub fn cdf_view(&self) -> CdfView {
        CdfView::new(self)
    }

    /// SageMaker's equal-width histogram over `[min, max]` (exact min and max of the column),
    /// as `(lower_bound, upper_bound, count)`; see [`CdfView::buckets`].
    pub fn buckets(&self, min: f64, max: f64, bucket_count: usize) -> Vec<(f64, f64, f64)> {
        self.cdf_view().buckets(min, max, bucket_count)
    }

    fn add_level(&mut self) {
        let capacity = level_capacity(self.c, self.k, self.levels.len());
        self.levels.push(Vec::new());
        self.compactions.push(0);
        self.capacities.push(capacity);
        self.total_capacity = self.total_capacity.saturating_add(capacity);
    }

    /// Compacts the lowest full level (Deequ's `condense`); false if no level is full.
    fn condense(&mut self) -> bool {
        let Some(level) = (0..self.levels.len()).find(|&i| self.levels[i].len() >= self.capacities[i]) else {
            return false;
        };
        if level + 1 >= self.levels.len() {
            self.add_level();
        }
        self.compact(level);
        true
    }

    /// Deequ's `NonSampleCompactor.compact`: moves half of the level's even prefix up.
    fn compact(&mut self, level: usize) {
        let offset = promotion_offset(self.compactions[level]);
        self.compactions[level] += 1;

        let (below, above) = self.levels.split_at_mut(level + 1);
        let items = &mut below[level];
        let next = &mut above[0];
        let even = items.len() - items.len() % 2;
        // Above level 0 a buffer is a few sorted runs (one per compaction below), which a
        // run-detecting merge sort finishes in near-linear time.
        sort_total_order(&mut items[..even], level > 0);
        next.extend(items[..even].iter().skip(offset).step_by(2));
        // Removing the prefix keeps the odd item, which is the last one in buffer order.
        items.drain(..even);
        self.retained -= even / 2;
    }
}

/// Sorts values in `f64::total_cmp` order (Java's `Arrays.sort`, which Deequ uses, agrees: -0.0
/// before 0.0). Sorting the values' ordered bits as integers takes half the time of comparing
/// floats, and compaction sorting was a quarter of a baseline's CPU. Equal keys are equal bits, so
/// a stable and an unstable sort give the same result.
fn sort_total_order(values: &mut [f64], has_sorted_runs: bool) {
    let mut keys: Vec<u64> = values.iter().map(|&v| ordered_bits(v)).collect();
    if has_sorted_runs {
        keys.sort();
    } else {
        keys.sort_unstable();
    }
    for (value, &key) in values.iter_mut().zip(&keys) {
        *value = from_ordered_bits(key);
    }
}

/// The bits of `value` as an integer whose unsigned order is `f64::total_cmp`'s: negatives have
/// all bits flipped, the rest only the sign bit.
fn ordered_bits(value: f64) -> u64 {
    let bits = value.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | 1 << 63
    }
}

fn from_ordered_bits(key: u64) -> f64 {
    f64::from_bits(if key >> 63 == 1 { key & !(1 << 63) } else { !key })
}

/// Weight of one item of `level`.
fn level_weight(level: usize) -> u64 {
    u32::try_from(level)
        .ok()
        .and_then(|shift| 1u64.checked_shl(shift))
        .unwrap_or(u64::MAX)
}

/// Deequ's `capacity(height)`: `2 * (ceil(k * c^height / 2) + 1)`.
fn level_capacity(c: f64, k: usize, level: usize) -> usize {
    let half = (k as f64 * c.powf(level as f64) / 2.0).ceil() as usize;
    half.saturating_add(1).saturating_mul(2)
}

/// Deequ flips the offset before every odd-numbered compaction of a level, starting at 0:
/// 0, 1, 1, 0, 0, 1, 1, 0, ...
fn promotion_offset(previous_compactions: u64) -> usize {
    (previous_compactions.div_ceil(2) % 2) as usize
}

/// Serialised form of [`KllSketch`]; `compactions` lets a saved sketch continue exactly.
#[derive(Serialize, Deserialize)]
struct KllSketchState {
    c: f64,
    k: usize,
    levels: Vec<Vec<f64>>,
    #[serde(default)]
    compactions: Vec<u64>,
}

impl TryFrom<KllSketchState> for KllSketch {
    type Error = SketchError;

    fn try_from(state: KllSketchState) -> Result<Self, SketchError> {
        let level_count = state.levels.len();
        let mut sketch = Self::from_levels(state.c, state.k, state.levels)?;
        if !state.compactions.is_empty() {
            if state.compactions.len() != level_count {
                return Err(SketchError::CompactionCountMismatch {
                    levels: level_count,
                    compactions: state.compactions.len(),
                });
            }
            sketch.compactions = state.compactions;
        }
        Ok(sketch)
    }
}

impl From<KllSketch> for KllSketchState {
    fn from(sketch: KllSketch) -> Self {
        Self {
            c: sketch.c,
            k: sketch.k,
            levels: sketch.levels,
            compactions: sketch.compactions,
        }
    }
}

/// A sketch's items sorted once, with cumulative weights: rank queries in O(log n).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CdfView {
    /// Distinct retained values, ascending.
    values: Vec<f64>,
    /// `cumulative[i]` = total weight of items `<= values[i]`.
    cumulative: Vec<u64>,
}

impl CdfView {
    pub fn new(sketch: &KllSketch) -> Self {
        let mut weighted: Vec<(f64, u64)> = Vec::with_capacity(sketch.retained);
        for (level, items) in sketch.levels.iter().enumerate() {
            let weight = level_weight(level);
            weighted.extend(items.iter().map(|&v| (v, weight)));
        }
        weighted.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));

        let mut values: Vec<f64> = Vec::with_capacity(weighted.len());
        let mut cumulative: Vec<u64> = Vec::with_capacity(weighted.len());
        let mut running = 0u64;
        for (value, weight) in weighted {
            running = running.saturating_add(weight);
            match values.last() {
                Some(last) if last.total_cmp(&value).is_eq() => {
                    *cumulative.last_mut().expect("parallel vectors") = running;
                }
                _ => {
                    values.push(value);
                    cumulative.push(running);
                }
            }
        }
        Self { values, cumulative }
    }

    /// Distinct retained values, ascending.
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// `cumulative_weights()[i]` = total weight of items `<= values()[i]`.
    pub fn cumulative_weights(&self) -> &[u64] {
        &self.cumulative
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Total weight (the sketch's `count`).
    pub fn total_weight(&self) -> u64 {
        self.cumulative.last().copied().unwrap_or(0)
    }

    /// Estimated number of values `<= x`.
    pub fn rank(&self, x: f64) -> f64 {
        self.weight_before(self.values.partition_point(|&v| v <= x)) as f64
    }

    /// Estimated number of values `< x`.
    pub fn rank_exclusive(&self, x: f64) -> f64 {
        self.weight_before(self.values.partition_point(|&v| v < x)) as f64
    }

    /// Estimated fraction of values `<= x`; `None` when empty.
    pub fn cdf(&self, x: f64) -> Option<f64> {
        let total = self.total_weight();
        (total > 0).then(|| self.rank(x) / total as f64)
    }

    /// Smallest value whose cumulative weight is at least `q * total`, `q` clamped to [0, 1].
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.is_empty() || q.is_nan() {
            return None;
        }
        let target = q.clamp(0.0, 1.0) * self.total_weight() as f64;
        let index = self.cumulative.partition_point(|&w| (w as f64) < target);
        Some(self.values[index.min(self.values.len() - 1)])
    }

    /// Deequ's `KLLSketch.computeMetricFrom` buckets: `bucket_count` equal-width buckets
    /// between the exact `min` and `max`, as `(lower_bound, upper_bound, count)`.
    ///
    /// Bucket `i` counts `[lower, upper)`; the last one `[lower, upper]`. A constant column
    /// (`min == max`) gives zero-width buckets whose whole count lands in the last one, as in
    /// Deequ. Deviation: should `min + (max - min) * n / n` round below `max`, the last bucket
    /// still counts up to `max`, so the counts always add up to `count()` (Deequ would drop
    /// the items in between).
    pub fn buckets(&self, min: f64, max: f64, bucket_count: usize) -> Vec<(f64, f64, f64)> {
        let n = bucket_count as f64;
        // Same expression and evaluation order as Deequ, so the bounds match bit for bit.
        let bound = |i: usize| min + (max - min) * i as f64 / n;
        (0..bucket_count)
            .map(|i| {
                let (lower, upper) = (bound(i), bound(i + 1));
                let count = if i + 1 == bucket_count {
                    self.rank(upper.max(max)) - self.rank_exclusive(lower)
                } else {
                    self.rank_exclusive(upper) - self.rank_exclusive(lower)
                };
                (lower, upper, count)
            })
            .collect()
    }

    fn weight_before(&self, index: usize) -> u64 {
        index.checked_sub(1).map_or(0, |i| self.cumulative[i])
    }
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

    fn small(c: f64, k: usize, values: impl IntoIterator<Item = f64>) -> KllSketch {
        let mut sketch = KllSketch::new(c, k).unwrap();
        values.into_iter().for_each(|v| sketch.update(v));
        sketch
    }

    /// `(name, values)` for the accuracy tests.
    fn shapes(n: usize) -> Vec<(&'static str, Vec<f64>)> {
        let mut rng = SplitMix64::new(0x5EED);
        vec![
            ("uniform", (0..n).map(|_| rng.open01()).collect()),
            ("normal", (0..n).map(|_| rng.normal()).collect()),
            // Pareto with alpha 1.2: a few enormous values.
            ("pareto", (0..n).map(|_| rng.open01().powf(-1.0 / 1.2)).collect()),
            ("log-normal", (0..n).map(|_| (2.0 * rng.normal()).exp()).collect()),
            ("ten-distinct", (0..n).map(|_| (rng.next_u64() % 10) as f64).collect()),
            ("constant", vec![42.0; n]),
            ("ascending", (0..n).map(|i| i as f64).collect()),
            ("descending", (0..n).rev().map(|i| i as f64).collect()),
        ]
    }

    /// Largest |estimated rank - true rank| over the true 1%..99% quantiles.
    fn max_rank_error(view: &CdfView, sorted: &[f64]) -> f64 {
        let n = sorted.len();
        (1..=99)
            .map(|percent| {
                let x = sorted[(percent * n).div_ceil(100) - 1];
                let true_rank = sorted.partition_point(|&v| v <= x) as f64;
                (view.rank(x) - true_rank).abs()
            })
            .fold(0.0, f64::max)
    }

    fn assert_within_capacity(sketch: &KllSketch) {
        let retained: usize = sketch.levels.iter().map(Vec::len).sum();
        assert_eq!(retained, sketch.retained);
        assert!(
            sketch.retained <= sketch.total_capacity,
            "{} retained > capacity {}",
            sketch.retained,
            sketch.total_capacity
        );
    }

    #[test]
    fn integer_key_sort_is_total_order() {
        let specials = [
            -0.0,
            0.0,
            -1e-310,
            1e-310,
            f64::MIN,
            f64::MAX,
            -1.5,
            1.5,
            3.0,
            -3.0,
            0.0,
            -0.0,
        ];
        let mut state = 7u64;
        let mut values: Vec<f64> = specials.to_vec();
        values.extend((0..3000).map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            f64::from_bits(state)
        }));
        values.retain(|v| v.is_finite());
        for has_runs in [false, true] {
            let mut expected = values.clone();
            expected.sort_by(f64::total_cmp);
            let mut sorted = values.clone();
            if has_runs {
                let half = sorted.len() / 2;
                sorted[..half].sort_by(f64::total_cmp);
                sorted[half..].sort_by(f64::total_cmp);
            }
            sort_total_order(&mut sorted, has_runs);
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&sorted), bits(&expected), "has_runs {has_runs}");
        }
    }

    #[test]
    fn capacities_follow_deequ_formula() {
        // 2 * (ceil(2048 * 0.64^i / 2) + 1), computed by hand.
        let expected = [2050, 1314, 842, 540, 346, 222, 144, 94, 60, 40, 26];
        let actual: Vec<usize> = (0..expected.len()).map(|i| level_capacity(0.64, 2048, i)).collect();
        assert_eq!(actual, expected);
        assert_eq!(level_capacity(0.64, 2048, 40), 4);
    }

    #[test]
    fn promotion_offsets_follow_deequ() {
        let offsets: Vec<usize> = (0..8).map(promotion_offset).collect();
        assert_eq!(offsets, [0, 1, 1, 0, 0, 1, 1, 0]);
    }

    #[test]
    fn small_sketch_matches_hand_trace() {
        // c = 0.5, k = 8: capacities 10, 6, 4, 4, ...
        let mut sketch = KllSketch::new(0.5, 8).unwrap();
        (1..=10).for_each(|v| sketch.update(v as f64));
        assert_eq!(sketch.levels(), [(1..=10).map(f64::from).collect::<Vec<_>>()]);

        // 11 > 10: level 0 compacts with offset 0 and keeps its odd last item.
        sketch.update(11.0);
        assert_eq!(sketch.levels(), [vec![11.0], vec![1.0, 3.0, 5.0, 7.0, 9.0]]);

        // Total capacity 16; at 17 retained level 0 compacts again, now with offset 1.
        (12..=22).for_each(|v| sketch.update(v as f64));
        let level1 = [1, 3, 5, 7, 9, 12, 14, 16, 18, 20, 22].map(f64::from);
        assert_eq!(sketch.levels(), [vec![], level1.to_vec()]);

        // Level 1 (11 >= 6) is the top: a level is added, offset 0, last item 22 stays.
        (23..=28).for_each(|v| sketch.update(v as f64));
        let level0: Vec<f64> = (23..=28).map(f64::from).collect();
        let level2 = [1, 5, 9, 14, 18].map(f64::from).to_vec();
        assert_eq!(sketch.levels(), [level0, vec![22.0], level2]);
        assert_eq!(sketch.count(), 28);
        assert_eq!(sketch.total_capacity, 20);
    }

    #[test]
    fn compaction_keeps_last_inserted_odd_item() {
        let mut sketch = KllSketch::new(0.5, 8).unwrap();
        (1..=11).rev().for_each(|v| sketch.update(v as f64));
        // Sorted prefix [2..=11] promotes 2, 4, .., 10; 1 was inserted last and stays.
        assert_eq!(sketch.levels(), [vec![1.0], vec![2.0, 4.0, 6.0, 8.0, 10.0]]);
    }

    #[test]
    fn total_weight_is_exact() {
        for n in [0usize, 1, 345, 346, 347, 2050, 2051, 10_000, 1_000_000] {
            let mut sketch = KllSketch::default();
            for i in 0..n {
                // Cheap scrambled order so compactions see unsorted input.
                sketch.update(((i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11) as f64);
                if n <= 10_000 {
                    assert_within_capacity(&sketch);
                }
            }
            assert_within_capacity(&sketch);
            let weight: u64 = sketch
                .levels()
                .iter()
                .enumerate()
                .map(|(i, level)| level.len() as u64 * (1 << i))
                .sum();
            assert_eq!(weight, n as u64, "n = {n}");
            assert_eq!(sketch.count(), n as u64);
        }
    }

    #[test]
    fn below_capacity_sketch_is_exact() {
        let values = [5.0, 1.0, 3.0, 3.0, 9.0];
        let sketch = sketch_of(values);
        assert_eq!(sketch.levels(), [values.to_vec()]);
        assert_eq!(sketch.rank(3.0), 3.0);
        assert_eq!(sketch.rank_exclusive(3.0), 1.0);
        assert_eq!(sketch.cdf(4.0), Some(0.6));
        assert_eq!(sketch.quantile(0.0), Some(1.0));
        assert_eq!(sketch.quantile(0.5), Some(3.0));
        assert_eq!(sketch.quantile(0.61), Some(5.0));
        assert_eq!(sketch.quantile(1.0), Some(9.0));
        let view = sketch.cdf_view();
        assert_eq!(view.values(), [1.0, 3.0, 5.0, 9.0]);
        assert_eq!(view.cumulative_weights(), [1, 3, 4, 5]);
        assert_eq!(view.rank(0.0), 0.0);
        assert_eq!(view.rank(100.0), 5.0);
    }

    #[test]
    fn empty_and_non_finite() {
        let mut sketch = KllSketch::default();
        sketch.update(f64::NAN);
        sketch.update(f64::INFINITY);
        assert!(sketch.is_empty());
        assert_eq!(sketch.count(), 0);
        assert_eq!(sketch.quantile(0.5), None);
        assert_eq!(sketch.cdf(1.0), None);
        assert_eq!(sketch.rank(1.0), 0.0);
        sketch.update(1.0);
        assert_eq!(sketch.quantile(f64::NAN), None);
        assert_eq!(sketch.rank(f64::NAN), 0.0);
    }

    #[test]
    fn same_input_gives_identical_sketch() {
        let mut rng = SplitMix64::new(7);
        let values: Vec<f64> = (0..200_000).map(|_| rng.normal()).collect();
        let a = sketch_of(values.iter().copied());
        let b = sketch_of(values.iter().copied());
        assert!(a.levels().len() > 3);
        assert!(a == b, "sketches of the same input differ");
    }

    #[test]
    fn rank_error_within_one_percent() {
        const N: usize = 1_000_000;
        for (name, values) in shapes(N) {
            let sketch = sketch_of(values.iter().copied());
            assert_eq!(sketch.count(), N as u64, "{name}");
            let mut sorted = values;
            sorted.sort_unstable_by(f64::total_cmp);
            let error = max_rank_error(&sketch.cdf_view(), &sorted);
            assert!(error <= 0.01 * N as f64, "{name}: rank error {error}");
        }
    }

    #[test]
    fn merged_chunks_keep_weight_and_accuracy() {
        const N: usize = 1_000_000;
        let mut rng = SplitMix64::new(11);
        let values: Vec<f64> = (0..N).map(|_| (rng.normal() * 3.0).exp()).collect();
        let cuts = [0, 1, 3_000, 150_000, 151_234, 420_000, 777_777, N];
        let mut merged = KllSketch::default();
        for bounds in cuts.windows(2) {
            let chunk = sketch_of(values[bounds[0]..bounds[1]].iter().copied());
            merged.try_merge(&chunk).unwrap();
            assert_within_capacity(&merged);
        }
        assert_eq!(merged.count(), N as u64);
        let mut sorted = values;
        sorted.sort_unstable_by(f64::total_cmp);
        let error = max_rank_error(&merged.cdf_view(), &sorted);
        assert!(error <= 0.01 * N as f64, "rank error {error}");
    }

    #[test]
    fn merge_with_empty_is_identity() {
        let sketch = sketch_of((0..10_000).map(|i| ((i * 7919) % 10_007) as f64));
        let mut merged = sketch.clone();
        merged.try_merge(&KllSketch::default()).unwrap();
        assert_eq!(merged, sketch);

        assert!(sketch.retained < sketch.total_capacity);
        let mut from_empty = KllSketch::default();
        from_empty.try_merge(&sketch).unwrap();
        assert_eq!(from_empty.levels(), sketch.levels());
    }

    #[test]
    fn merge_small_sketches_concatenates_then_condenses() {
        let mut a = small(0.5, 8, [1.0, 2.0, 3.0]);
        let b = small(0.5, 8, [4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]);
        // 10 retained >= 10 capacity: level 0 compacts once with offset 0.
        a.try_merge(&b).unwrap();
        assert_eq!(a.levels(), [vec![], vec![1.0, 3.0, 5.0, 7.0, 9.0]]);
        assert_eq!(a.count(), 10);
    }

    #[test]
    fn merge_rejects_other_parameters() {
        let mut a = KllSketch::default();
        let b = KllSketch::new(0.5, 2048).unwrap();
        assert!(matches!(a.try_merge(&b), Err(SketchError::ParameterMismatch { .. })));
    }

    #[test]
    fn buckets_of_one_to_ten() {
        let sketch = sketch_of((1..=10).map(f64::from));
        let buckets = sketch.buckets(1.0, 10.0, DEFAULT_BUCKET_COUNT);
        let expected_bounds: Vec<(f64, f64)> = (0..10)
            .map(|i| (1.0 + 9.0 * i as f64 / 10.0, 1.0 + 9.0 * (i + 1) as f64 / 10.0))
            .collect();
        let bounds: Vec<(f64, f64)> = buckets.iter().map(|&(l, u, _)| (l, u)).collect();
        assert_eq!(bounds, expected_bounds);
        assert_eq!(bounds[1], (1.9, 2.8));
        // [1,1.9): 1 | [1.9,2.8): 2 | [2.8,3.7): 3 | [3.7,4.6): 4 | [4.6,5.5): 5 |
        // [5.5,6.4): 6 | [6.4,7.3): 7 | [7.3,8.2): 8 | [8.2,9.1): 9 | [9.1,10]: 10
        let counts: Vec<f64> = buckets.iter().map(|&(_, _, c)| c).collect();
        assert_eq!(counts, [1.0; 10]);
    }

    #[test]
    fn buckets_with_gaps_and_duplicates() {
        let values = [0.0, 0.0, 0.0, 2.5, 5.0, 5.0, 9.99, 10.0, 10.0];
        let sketch = sketch_of(values);
        let counts: Vec<f64> = sketch.buckets(0.0, 10.0, 10).iter().map(|&(_, _, c)| c).collect();
        assert_eq!(counts, [3.0, 0.0, 1.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 3.0]);
    }

    #[test]
    fn buckets_of_constant_column() {
        let sketch = sketch_of([4.2; 7]);
        let buckets = sketch.buckets(4.2, 4.2, 10);
        assert!(buckets.iter().all(|&(l, u, _)| l == 4.2 && u == 4.2));
        let counts: Vec<f64> = buckets.iter().map(|&(_, _, c)| c).collect();
        assert_eq!(counts, [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 7.0]);
    }

    #[test]
    fn bucket_counts_sum_to_count() {
        let mut rng = SplitMix64::new(3);
        let values: Vec<f64> = (0..100_000).map(|_| rng.normal() * 0.1 + 0.3).collect();
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let sketch = sketch_of(values.iter().copied());
        let total: f64 = sketch.buckets(min, max, 10).iter().map(|b| b.2).sum();
        assert_eq!(total, 100_000.0);
        // -0.7 + (0.1 - -0.7) * 10 / 10 rounds below 0.1: the max must still be counted.
        let sketch = sketch_of([-0.7, 0.1]);
        let buckets = sketch.buckets(-0.7, 0.1, 10);
        assert!(buckets[9].1 < 0.1);
        assert_eq!(buckets[0].2, 1.0);
        assert_eq!(buckets[9].2, 1.0);
    }

    #[test]
    fn from_levels_round_trip() {
        let mut rng = SplitMix64::new(5);
        let sketch = sketch_of((0..50_000).map(|_| rng.normal()));
        let loaded = KllSketch::from_levels(sketch.c(), sketch.k(), sketch.levels().to_vec()).unwrap();
        assert_eq!(loaded.levels(), sketch.levels());
        assert_eq!(loaded.count(), sketch.count());
        assert_eq!(loaded.cdf_view(), sketch.cdf_view());
    }

    #[test]
    fn from_levels_validates() {
        let nan = KllSketch::from_levels(0.64, 2048, vec![vec![1.0], vec![2.0, f64::NAN]]);
        assert_eq!(nan, Err(SketchError::NonFiniteValue { level: 1, index: 1 }));
        let inf = KllSketch::from_levels(0.64, 2048, vec![vec![f64::NEG_INFINITY]]);
        assert!(matches!(inf, Err(SketchError::NonFiniteValue { .. })));
        for (c, k) in [(0.0, 2048), (1.5, 2048), (f64::NAN, 2048), (0.64, 1)] {
            assert!(matches!(
                KllSketch::from_levels(c, k, vec![]),
                Err(SketchError::InvalidParameters { .. })
            ));
        }
        assert_eq!(
            KllSketch::from_levels(0.64, 2048, vec![vec![]; 65]),
            Err(SketchError::TooManyLevels { levels: 65, max: 64 })
        );
        // Over-full levels load, and the next update condenses them.
        let mut full = KllSketch::from_levels(0.5, 8, vec![(0..30).map(f64::from).collect()]).unwrap();
        assert_eq!(full.count(), 30);
        full.update(30.0);
        assert_eq!(full.count(), 31);
        assert!(full.levels().len() > 1);
    }

    #[test]
    fn serde_round_trip_continues_identically() {
        let mut rng = SplitMix64::new(9);
        let values: Vec<f64> = (0..30_000).map(|_| rng.open01()).collect();
        let mut original = sketch_of(values[..20_000].iter().copied());
        let json = serde_json::to_string(&original).unwrap();
        // Exact only with serde_json's `float_roundtrip` feature (enabled in the workspace).
        let mut restored: KllSketch = serde_json::from_str(&json).unwrap();
        assert!(restored == original, "restored sketch differs");
        for &v in &values[20_000..] {
            original.update(v);
            restored.update(v);
        }
        assert!(restored == original, "restored sketch evolves differently");

        let bad = r#"{"c":0.64,"k":2048,"levels":[[1.0]],"compactions":[0,0]}"#;
        assert!(serde_json::from_str::<KllSketch>(bad).is_err());
    }
}
