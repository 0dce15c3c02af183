//! The thresholds and switches in force for one feature: the global `monitoring_config` with
//! the feature's overrides applied.

use modelmon_formats::{CategoricalDriftMethod, ComparisonMethod, FeatureConstraints, MonitoringConfig};

#[derive(Debug, Clone, PartialEq)]
pub(super) struct FeatureSettings {
    pub evaluate_constraints: bool,
    pub emit_metrics: bool,
    pub datatype_check_threshold: f64,
    pub domain_content_threshold: f64,
    pub perform_comparison: bool,
    pub comparison_threshold: f64,
    pub comparison_method: ComparisonMethod,
    pub categorical_comparison_threshold: f64,
    pub categorical_drift_method: CategoricalDriftMethod,
}

impl FeatureSettings {
    /// The global settings alone (for columns the constraints do not know).
    pub fn global(config: &MonitoringConfig) -> Self {
        let distribution = &config.distribution_constraints;
        Self {
            evaluate_constraints: config.evaluate_constraints.is_enabled(),
            emit_metrics: config.emit_metrics.is_enabled(),
            datatype_check_threshold: config.datatype_check_threshold,
            domain_content_threshold: config.domain_content_threshold,
            perform_comparison: distribution.perform_comparison.is_enabled(),
            comparison_threshold: distribution.comparison_threshold,
            comparison_method: distribution.comparison_method,
            categorical_comparison_threshold: distribution.categorical_comparison_threshold,
            categorical_drift_method: distribution.categorical_drift_method,
        }
    }

    /// The global settings with `feature`'s overrides. A switch turned off globally stays off:
    /// an override can only turn evaluation or metrics off for its feature, never back on.
    pub fn for_feature(config: &MonitoringConfig, feature: &FeatureConstraints) -> Self {
        let global = Self::global(config);
        let overrides = feature.overrides();
        Self {
            evaluate_constraints: global.evaluate_constraints
                && overrides.evaluate_constraints.is_none_or(|t| t.is_enabled()),
            emit_metrics: global.emit_metrics && overrides.emit_metrics.is_none_or(|t| t.is_enabled()),
            datatype_check_threshold: overrides
                .datatype_check_threshold
                .unwrap_or(global.datatype_check_threshold),
            domain_content_threshold: overrides
                .domain_content_threshold
                .unwrap_or(global.domain_content_threshold),
            perform_comparison: global.perform_comparison,
            comparison_threshold: overrides.comparison_threshold.unwrap_or(global.comparison_threshold),
            comparison_method: overrides.comparison_method.unwrap_or(global.comparison_method),
            categorical_comparison_threshold: overrides
                .categorical_comparison_threshold
                .unwrap_or(global.categorical_comparison_threshold),
            categorical_drift_method: overrides
                .categorical_drift_method
                .unwrap_or(global.categorical_drift_method),
        }
    }
}
