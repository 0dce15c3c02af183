//! Suggested constraints from a baseline's statistics, as SageMaker's baselining job writes them.

use modelmon_formats::{
    Common, Constraints, FeatureConstraints, MonitoringConfig, NumConstraints, Statistics, StringConstraints,
};

/// One constraint per feature: its completeness and type; `is_non_negative` for numbers; the
/// domain of values for strings that have a categorical distribution (at most 120 values).
/// `monitoring_config` holds the container's defaults.
pub fn suggest_constraints(statistics: &Statistics) -> Constraints {
    let features = statistics
        .features
        .iter()
        .map(|feature| {
            let completeness = feature.common().map(Common::completeness);
            let num_constraints = feature.numerical_statistics.as_ref().map(|numbers| NumConstraints {
                is_non_negative: Some(numbers.min >= 0.0),
                monitoring_config_overrides: None,
            });
            let string_constraints = feature
                .string_statistics
                .as_ref()
                .and_then(|strings| strings.distribution.as_ref()?.categorical.as_ref())
                .map(|categorical| StringConstraints {
                    domains: Some(categorical.buckets.iter().map(|b| b.value.clone()).collect()),
                    monitoring_config_overrides: None,
                });
            FeatureConstraints {
                name: feature.name.clone(),
                inferred_type: feature.inferred_type,
                completeness,
                num_constraints,
                string_constraints,
                monitoring_config_overrides: None,
            }
        })
        .collect();
    Constraints {
        version: 0.0,
        features,
        monitoring_config: MonitoringConfig::default(),
    }
}
