//! `constraint_violations.json`: what an analysis run found.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ConstraintViolations {
    #[serde(default)]
    pub violations: Vec<Violation>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Violation {
    pub feature_name: String,
    pub constraint_check_type: CheckType,
    pub description: String,
}

/// The six checks of SageMaker's data-quality monitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckType {
    DataTypeCheck,
    CompletenessCheck,
    BaselineDriftCheck,
    MissingColumnCheck,
    ExtraColumnCheck,
    CategoricalValuesCheck,
}

impl CheckType {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckType::DataTypeCheck => "data_type_check",
            CheckType::CompletenessCheck => "completeness_check",
            CheckType::BaselineDriftCheck => "baseline_drift_check",
            CheckType::MissingColumnCheck => "missing_column_check",
            CheckType::ExtraColumnCheck => "extra_column_check",
            CheckType::CategoricalValuesCheck => "categorical_values_check",
        }
    }
}

impl std::fmt::Display for CheckType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ConstraintViolations {
    pub fn from_json_slice(bytes: &[u8], source: &str) -> Result<Self, crate::FormatError> {
        crate::from_json_slice(bytes, source)
    }

    pub fn to_json(&self) -> String {
        crate::to_sagemaker_json(self)
    }
}
