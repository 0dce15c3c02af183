//! Exact value counts for low-cardinality columns, given up once a column has too many values.

use std::collections::BTreeMap;

use hashbrown::HashTable;
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

/// SageMaker (Deequ's `lowCardinalityHistogramThreshold`) keeps a categorical histogram only
/// for columns with at most this many distinct values.
pub const MAX_CATEGORIES: usize = 120;

/// Strings with a value each, looked up by their `xxh3_64` hash, which the caller has computed
/// already (for the distinct count): these tables are probed once per value of every column, and
/// hashing each value again showed.
#[derive(Debug, Clone)]
struct HashedStrings<V> {
    entries: HashTable<(u64, String, V)>,
}

impl<V> Default for HashedStrings<V> {
    fn default() -> Self {
        Self {
            entries: HashTable::new(),
        }
    }
}

impl<V> HashedStrings<V> {
    fn get_mut(&mut self, key: &str, hash: u64) -> Option<&mut V> {
        let (_, _, value) = self.entries.find_mut(hash, |(h, k, _)| *h == hash && k == key)?;
        Some(value)
    }

    fn contains(&self, key: &str, hash: u64) -> bool {
        self.entries.find(hash, |(h, k, _)| *h == hash && k == key).is_some()
    }

    /// Adds `key`, which must not be in the table yet.
    fn insert_new(&mut self, key: String, hash: u64, value: V) {
        self.entries.insert_unique(hash, (hash, key, value), |(h, _, _)| *h);
    }

    fn len(&self) -> usize {
        self.entries.len()
    }

    fn iter(&self) -> impl Iterator<Item = (u64, &str, &V)> {
        self.entries
            .iter()
            .map(|(hash, key, value)| (*hash, key.as_str(), value))
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(from = "CategoryState", into = "CategoryState")]
pub struct CategoryCounts {
    counts: HashedStrings<u64>,
    overflowed: bool,
}

impl CategoryCounts {
    pub fn observe(&mut self, value: &str) {
        self.observe_hashed(value, xxh3_64(value.as_bytes()));
    }

    /// Counts `value`, whose `xxh3_64` is `hash`.
    pub fn observe_hashed(&mut self, value: &str, hash: u64) {
        self.add(value, hash, 1);
    }

    fn add(&mut self, value: &str, hash: u64, count: u64) {
        if self.overflowed {
            return;
        }
        if let Some(existing) = self.counts.get_mut(value, hash) {
            *existing += count;
        } else if self.counts.len() < MAX_CATEGORIES {
            self.counts.insert_new(value.to_string(), hash, count);
        } else {
            self.give_up();
        }
    }

    /// True once the column has shown more than [`MAX_CATEGORIES`] distinct values.
    pub fn gave_up(&self) -> bool {
        self.overflowed
    }

    fn give_up(&mut self) {
        self.overflowed = true;
        self.counts = HashedStrings::default();
    }

    pub fn merge(&mut self, other: &CategoryCounts) {
        if other.overflowed {
            self.give_up();
        }
        for (hash, value, count) in other.counts.iter() {
            self.add(value, hash, *count);
        }
    }

    /// The exact histogram, most frequent first (ties by value, so output is deterministic);
    /// `None` when the column has more than [`MAX_CATEGORIES`] distinct values.
    pub fn histogram(&self) -> Option<Vec<(String, u64)>> {
        if self.overflowed {
            return None;
        }
        let mut buckets: Vec<(String, u64)> = self.counts.iter().map(|(_, v, c)| (v.to_string(), *c)).collect();
        buckets.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        Some(buckets)
    }
}

/// A set of values looked up by their `xxh3_64` hash, which the caller has computed already.
#[derive(Debug, Clone, Default)]
pub struct ValueSet {
    values: HashedStrings<()>,
}

impl ValueSet {
    /// Whether `value`, whose `xxh3_64` is `hash`, is in the set.
    pub fn contains(&self, value: &str, hash: u64) -> bool {
        self.values.contains(value, hash)
    }

    /// The values, sorted.
    pub fn sorted(&self) -> Vec<&str> {
        let mut values: Vec<&str> = self.values.iter().map(|(_, v, _)| v).collect();
        values.sort_unstable();
        values
    }
}

impl FromIterator<String> for ValueSet {
    fn from_iter<I: IntoIterator<Item = String>>(values: I) -> Self {
        let mut set = ValueSet::default();
        for value in values {
            let hash = xxh3_64(value.as_bytes());
            if !set.contains(&value, hash) {
                set.values.insert_new(value, hash, ());
            }
        }
        set
    }
}

impl PartialEq for ValueSet {
    fn eq(&self, other: &Self) -> bool {
        self.sorted() == other.sorted()
    }
}

impl Serialize for ValueSet {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.sorted().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for ValueSet {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Vec::<String>::deserialize(deserializer)?.into_iter().collect())
    }
}

impl PartialEq for CategoryCounts {
    fn eq(&self, other: &Self) -> bool {
        self.histogram() == other.histogram()
    }
}

/// Serialised form of [`CategoryCounts`]: the counts by value.
#[derive(Serialize, Deserialize)]
struct CategoryState {
    counts: BTreeMap<String, u64>,
    overflowed: bool,
}

impl From<CategoryState> for CategoryCounts {
    fn from(state: CategoryState) -> Self {
        let mut counts = CategoryCounts::default();
        for (value, count) in &state.counts {
            counts.add(value, xxh3_64(value.as_bytes()), *count);
        }
        counts.overflowed |= state.overflowed;
        if counts.overflowed {
            counts.give_up();
        }
        counts
    }
}

impl From<CategoryCounts> for CategoryState {
    fn from(counts: CategoryCounts) -> Self {
        Self {
            counts: counts
                .counts
                .entries
                .into_iter()
                .map(|(_, value, count)| (value, count))
                .collect(),
            overflowed: counts.overflowed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_exact_counts_up_to_the_limit() {
        let mut counts = CategoryCounts::default();
        for i in 0..MAX_CATEGORIES {
            for _ in 0..=i % 3 {
                counts.observe(&format!("v{i}"));
            }
        }
        let histogram = counts.histogram().unwrap();
        assert_eq!(histogram.len(), MAX_CATEGORIES);
        assert_eq!(
            histogram.iter().map(|(_, c)| c).sum::<u64>(),
            (0..120u64).map(|i| i % 3 + 1).sum::<u64>()
        );
        // v2, v5, v8, ... occur 3 times; among them "v101" sorts first.
        assert_eq!(
            histogram[0],
            ("v101".to_string(), 3),
            "most frequent first, ties by value"
        );
        counts.observe("one more");
        assert_eq!(counts.histogram(), None);
    }

    #[test]
    fn merging_past_the_limit_gives_up() {
        let mut a = CategoryCounts::default();
        let mut b = CategoryCounts::default();
        for i in 0..100 {
            a.observe(&format!("a{i}"));
            b.observe(&format!("b{i}"));
        }
        let mut same = a.clone();
        same.merge(&a);
        assert_eq!(same.histogram().unwrap()[0].1, 2);
        a.merge(&b);
        assert_eq!(a.histogram(), None);
    }

    #[test]
    fn value_set_finds_its_values_by_hash_and_round_trips() {
        let set: ValueSet = ["b", "a", "b", "c"].map(String::from).into_iter().collect();
        assert_eq!(set.sorted(), ["a", "b", "c"]);
        assert!(set.contains("a", xxh3_64(b"a")));
        assert!(!set.contains("d", xxh3_64(b"d")));
        assert!(!set.contains("a", xxh3_64(b"b")), "a wrong hash finds nothing");
        let json = serde_json::to_string(&set).unwrap();
        assert_eq!(json, r#"["a","b","c"]"#);
        assert_eq!(serde_json::from_str::<ValueSet>(&json).unwrap(), set);
    }
}
