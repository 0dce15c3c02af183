//! `statistics.json`: the profile of a dataset, written by baselining and by every analysis run.

use serde::{Deserialize, Serialize};

use crate::lenient;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Statistics {
    #[serde(default)]
    pub version: f64,
    pub dataset: Dataset,
    /// Required: a file without it is not a statistics file (a constraints or violations file
    /// given by mistake would otherwise read as a baseline of nothing and check nothing).
    pub features: Vec<FeatureStatistics>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dataset {
    #[serde(deserialize_with = "lenient::count")]
    pub item_count: u64,
}

/// Deequ's column types. SageMaker's files show Integral, Fractional and String; Unknown is a
/// column with no values; Boolean is accepted on read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum InferredType {
    Integral,
    Fractional,
    String,
    Boolean,
    Unknown,
}

impl InferredType {
    pub fn is_numeric(self) -> bool {
        matches!(self, InferredType::Integral | InferredType::Fractional)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            InferredType::Integral => "Integral",
            InferredType::Fractional => "Fractional",
            InferredType::String => "String",
            InferredType::Boolean => "Boolean",
            InferredType::Unknown => "Unknown",
        }
    }
}

impl std::fmt::Display for InferredType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureStatistics {
    pub name: String,
    pub inferred_type: InferredType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numerical_statistics: Option<NumericalStatistics>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string_statistics: Option<StringStatistics>,
}

impl FeatureStatistics {
    /// The present/missing counts, whichever kind of statistics the feature carries.
    pub fn common(&self) -> Option<&Common> {
        self.numerical_statistics
            .as_ref()
            .map(|n| &n.common)
            .or(self.string_statistics.as_ref().map(|s| &s.common))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Common {
    #[serde(deserialize_with = "lenient::count")]
    pub num_present: u64,
    #[serde(deserialize_with = "lenient::count")]
    pub num_missing: u64,
}

impl Common {
    /// The share of present values (0 when the dataset has no records).
    pub fn completeness(&self) -> f64 {
        let total = self.num_present + self.num_missing;
        if total == 0 {
            0.0
        } else {
            self.num_present as f64 / total as f64
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NumericalStatistics {
    pub common: Common,
    #[serde(deserialize_with = "lenient::double")]
    pub mean: f64,
    #[serde(deserialize_with = "lenient::double")]
    pub sum: f64,
    #[serde(deserialize_with = "lenient::double")]
    pub std_dev: f64,
    #[serde(deserialize_with = "lenient::double")]
    pub min: f64,
    #[serde(deserialize_with = "lenient::double")]
    pub max: f64,
    #[serde(
        default,
        deserialize_with = "lenient::optional_count",
        skip_serializing_if = "Option::is_none"
    )]
    pub approximate_num_distinct_values: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completeness: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distribution: Option<NumericalDistribution>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NumericalDistribution {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kll: Option<KllDistribution>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KllDistribution {
    #[serde(default)]
    pub buckets: Vec<KllBucket>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sketch: Option<KllSketchData>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KllBucket {
    #[serde(deserialize_with = "lenient::double")]
    pub lower_bound: f64,
    #[serde(deserialize_with = "lenient::double")]
    pub upper_bound: f64,
    /// An estimate from the sketch; SageMaker writes it as a double.
    #[serde(deserialize_with = "lenient::double")]
    pub count: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KllSketchData {
    pub parameters: KllParameters,
    /// `data[i]` is level i of the sketch; each item there has weight 2^i.
    #[serde(default)]
    pub data: Vec<Vec<f64>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KllParameters {
    pub c: f64,
    /// Written as a double (`2048.0`) by SageMaker.
    pub k: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StringStatistics {
    pub common: Common,
    /// Approximate in SageMaker (HyperLogLog), written as a double.
    #[serde(default)]
    pub distinct_count: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completeness: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distribution: Option<StringDistribution>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StringDistribution {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub categorical: Option<CategoricalDistribution>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoricalDistribution {
    #[serde(default)]
    pub buckets: Vec<CategoricalBucket>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoricalBucket {
    pub value: String,
    #[serde(deserialize_with = "lenient::count")]
    pub count: u64,
}

impl Statistics {
    pub fn from_json_slice(bytes: &[u8], source: &str) -> Result<Self, crate::FormatError> {
        crate::from_json_slice(bytes, source)
    }

    pub fn to_json(&self) -> String {
        crate::to_sagemaker_json(self)
    }

    pub fn feature(&self, name: &str) -> Option<&FeatureStatistics> {
        self.features.iter().find(|f| f.name == name)
    }
}
