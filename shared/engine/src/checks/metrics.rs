//! Per-feature metric values, named as SageMaker's container names its CloudWatch metrics
//! (`feature_<what>_<feature>`).

use super::{Drift, MetricData, MetricValue};
use crate::profile::ColumnProfile;

/// The metrics of one current column the baseline knows, in a fixed order.
pub(super) fn feature_metrics(column: &ColumnProfile, item_count: u64, drift: Option<&Drift>) -> Vec<MetricValue> {
    let name = &column.name;
    let kinds = &column.kinds;
    let present = column.present();
    let completeness = column.completeness(item_count);
    let mut metrics = vec![
        value(format!("feature_non_null_{name}"), completeness),
        value(
            format!("feature_null_{name}"),
            item_count.saturating_sub(present) as f64,
        ),
        value(format!("feature_integral_counts_{name}"), kinds.integral as f64),
        value(format!("feature_fractional_counts_{name}"), kinds.fractional as f64),
        value(format!("feature_string_counts_{name}"), kinds.string as f64),
        value(format!("feature_boolean_counts_{name}"), kinds.boolean as f64),
        value(
            format!("feature_estimated_unique_values_{name}"),
            column.distinct_count() as f64,
        ),
    ];
    let numbers = &column.numeric;
    if kinds.inferred_type().is_numeric() && numbers.count > 0 {
        metrics.push(MetricValue {
            name: format!("feature_data_{name}"),
            value: MetricData::StatisticSet {
                sample_count: numbers.count as f64,
                sum: numbers.sum(),
                min: numbers.min,
                max: numbers.max,
            },
        });
    }
    if let Some(drift) = drift {
        metrics.push(value(format!("feature_baseline_drift_{name}"), drift.value));
    }
    metrics
}

fn value(name: String, value: f64) -> MetricValue {
    MetricValue {
        name,
        value: MetricData::Value(value),
    }
}
