//! `constraints.json`: what the baseline allows, and how the checks are tuned.

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

use crate::statistics::InferredType;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Constraints {
    #[serde(default)]
    pub version: f64,
    #[serde(default)]
    pub features: Vec<FeatureConstraints>,
    #[serde(default)]
    pub monitoring_config: MonitoringConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureConstraints {
    pub name: String,
    pub inferred_type: InferredType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completeness: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_constraints: Option<NumConstraints>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string_constraints: Option<StringConstraints>,
    /// The documented feature-level spelling (`monitoringConfigOverrides`).
    #[serde(
        default,
        rename = "monitoringConfigOverrides",
        alias = "monitoring_config_overrides",
        skip_serializing_if = "Option::is_none"
    )]
    pub monitoring_config_overrides: Option<MonitoringConfigOverrides>,
}

impl FeatureConstraints {
    /// The per-feature overrides, wherever the file put them: at feature level (docs), or
    /// inside `string_constraints`/`num_constraints` (what the SageMaker SDK writes). Keys set at
    /// feature level win.
    pub fn overrides(&self) -> MonitoringConfigOverrides {
        let nested = self
            .string_constraints
            .as_ref()
            .and_then(|s| s.monitoring_config_overrides.clone())
            .or_else(|| {
                self.num_constraints
                    .as_ref()
                    .and_then(|n| n.monitoring_config_overrides.clone())
            })
            .unwrap_or_default();
        match &self.monitoring_config_overrides {
            Some(top) => top.clone().or(nested),
            None => nested,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct NumConstraints {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_non_negative: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitoring_config_overrides: Option<MonitoringConfigOverrides>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StringConstraints {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domains: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitoring_config_overrides: Option<MonitoringConfigOverrides>,
}

/// Per-feature settings that replace the global `monitoring_config` for one feature.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MonitoringConfigOverrides {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluate_constraints: Option<Toggle>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emit_metrics: Option<Toggle>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datatype_check_threshold: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_content_threshold: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comparison_threshold: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comparison_method: Option<ComparisonMethod>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub categorical_comparison_threshold: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub categorical_drift_method: Option<CategoricalDriftMethod>,
}

impl MonitoringConfigOverrides {
    /// Keys of `self`, and of `fallback` where `self` has none.
    fn or(self, fallback: Self) -> Self {
        Self {
            evaluate_constraints: self.evaluate_constraints.or(fallback.evaluate_constraints),
            emit_metrics: self.emit_metrics.or(fallback.emit_metrics),
            datatype_check_threshold: self.datatype_check_threshold.or(fallback.datatype_check_threshold),
            domain_content_threshold: self.domain_content_threshold.or(fallback.domain_content_threshold),
            comparison_threshold: self.comparison_threshold.or(fallback.comparison_threshold),
            comparison_method: self.comparison_method.or(fallback.comparison_method),
            categorical_comparison_threshold: self
                .categorical_comparison_threshold
                .or(fallback.categorical_comparison_threshold),
            categorical_drift_method: self.categorical_drift_method.or(fallback.categorical_drift_method),
        }
    }
}

/// The global settings. Defaults are what SageMaker's container writes (not the docs' example):
/// thresholds 1.0/1.0, drift 0.1 Robust, categorical 0.1 LInfinity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonitoringConfig {
    #[serde(default)]
    pub evaluate_constraints: Toggle,
    #[serde(default)]
    pub emit_metrics: Toggle,
    #[serde(default = "one")]
    pub datatype_check_threshold: f64,
    #[serde(default = "one")]
    pub domain_content_threshold: f64,
    #[serde(default)]
    pub distribution_constraints: DistributionConstraints,
}

fn one() -> f64 {
    1.0
}

impl Default for MonitoringConfig {
    fn default() -> Self {
        Self {
            evaluate_constraints: Toggle::Enabled,
            emit_metrics: Toggle::Enabled,
            datatype_check_threshold: 1.0,
            domain_content_threshold: 1.0,
            distribution_constraints: DistributionConstraints::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "RawDistributionConstraints")]
pub struct DistributionConstraints {
    pub perform_comparison: Toggle,
    pub comparison_threshold: f64,
    pub comparison_method: ComparisonMethod,
    pub categorical_comparison_threshold: f64,
    pub categorical_drift_method: CategoricalDriftMethod,
}

impl Default for DistributionConstraints {
    fn default() -> Self {
        Self {
            perform_comparison: Toggle::Enabled,
            comparison_threshold: 0.1,
            comparison_method: ComparisonMethod::Robust,
            categorical_comparison_threshold: 0.1,
            categorical_drift_method: CategoricalDriftMethod::LInfinity,
        }
    }
}

/// What files hold: the current keys, or the legacy ones (`enable_comparisons`,
/// `min_domain_mass`) of older containers; anything absent takes the default.
#[derive(Deserialize)]
struct RawDistributionConstraints {
    perform_comparison: Option<Toggle>,
    enable_comparisons: Option<bool>,
    comparison_threshold: Option<f64>,
    comparison_method: Option<ComparisonMethod>,
    categorical_comparison_threshold: Option<f64>,
    categorical_drift_method: Option<CategoricalDriftMethod>,
}

impl From<RawDistributionConstraints> for DistributionConstraints {
    fn from(raw: RawDistributionConstraints) -> Self {
        let defaults = DistributionConstraints::default();
        let comparison_threshold = raw.comparison_threshold.unwrap_or(defaults.comparison_threshold);
        let legacy_toggle = raw
            .enable_comparisons
            .map(|on| if on { Toggle::Enabled } else { Toggle::Disabled });
        Self {
            perform_comparison: raw
                .perform_comparison
                .or(legacy_toggle)
                .unwrap_or(defaults.perform_comparison),
            comparison_threshold,
            comparison_method: raw.comparison_method.unwrap_or(defaults.comparison_method),
            // The docs: "defaults to the value of comparison_threshold".
            categorical_comparison_threshold: raw.categorical_comparison_threshold.unwrap_or(comparison_threshold),
            categorical_drift_method: raw
                .categorical_drift_method
                .unwrap_or(defaults.categorical_drift_method),
        }
    }
}

/// `"Enabled"` / `"Disabled"`; read case-insensitively, and from booleans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Toggle {
    #[default]
    Enabled,
    Disabled,
}

impl Toggle {
    pub fn is_enabled(self) -> bool {
        self == Toggle::Enabled
    }
}

impl Serialize for Toggle {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(match self {
            Toggle::Enabled => "Enabled",
            Toggle::Disabled => "Disabled",
        })
    }
}

impl<'de> Deserialize<'de> for Toggle {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(deserializer)? {
            serde_json::Value::Bool(on) => Ok(if on { Toggle::Enabled } else { Toggle::Disabled }),
            serde_json::Value::String(text) if text.eq_ignore_ascii_case("enabled") => Ok(Toggle::Enabled),
            serde_json::Value::String(text) if text.eq_ignore_ascii_case("disabled") => Ok(Toggle::Disabled),
            other => Err(de::Error::custom(format!(
                "expected \"Enabled\" or \"Disabled\", found {other}"
            ))),
        }
    }
}

/// Numerical drift distance: plain L-infinity, or with the small-sample correction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ComparisonMethod {
    #[serde(alias = "linf_simple")]
    Simple,
    #[serde(alias = "linf_robust")]
    Robust,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CategoricalDriftMethod {
    LInfinity,
    ChiSquared,
}

impl Constraints {
    pub fn from_json_slice(bytes: &[u8], source: &str) -> Result<Self, crate::FormatError> {
        crate::from_json_slice(bytes, source)
    }

    pub fn to_json(&self) -> String {
        crate::to_sagemaker_json(self)
    }

    pub fn feature(&self, name: &str) -> Option<&FeatureConstraints> {
        self.features.iter().find(|f| f.name == name)
    }
}
