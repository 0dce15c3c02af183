//! [`MetricsSink`] on CloudWatch metrics.

use async_trait::async_trait;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum as CwDatum, StatisticSet};

use crate::ports::{MetricDatum, MetricValue, MetricsSink};
use crate::CloudError;

const SERVICE: &str = "cloudwatch";

/// Data points per PutMetricData call: CloudWatch's limit is 1,000; moto 5.2.5 enforces no
/// limit (it took 1,001 and more), so the service's limit is the largest both accept.
pub const MAX_DATUMS_PER_REQUEST: usize = 1000;

/// CloudWatch also caps a PutMetricData request at 1 MB. A batch is closed before its estimated
/// encoded size passes this, which leaves room for the envelope and the estimate's slack.
const MAX_REQUEST_BYTES: usize = 900_000;

#[derive(Debug, Clone)]
pub struct CloudWatchMetrics {
    pub client: aws_sdk_cloudwatch::Client,
}

impl CloudWatchMetrics {
    pub fn new(config: &aws_config::SdkConfig) -> CloudWatchMetrics {
        CloudWatchMetrics {
            client: aws_sdk_cloudwatch::Client::new(config),
        }
    }
}

/// An upper bound of a datum's size in a PutMetricData request (query encoding: every field
/// carries a `MetricData.member.N.` prefix, and percent-encoding at most triples a string).
fn encoded_size(datum: &MetricDatum) -> usize {
    let dimensions: usize = datum
        .dimensions
        .iter()
        .map(|(name, value)| 100 + 3 * (name.len() + value.len()))
        .sum();
    200 + 3 * datum.name.len() + dimensions
}

/// Splits `data` into consecutive batches within both of PutMetricData's limits.
fn batches(data: &[MetricDatum]) -> Vec<&[MetricDatum]> {
    let mut batches = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, datum) in data.iter().enumerate() {
        let size = encoded_size(datum);
        if i > start && (i - start == MAX_DATUMS_PER_REQUEST || bytes + size > MAX_REQUEST_BYTES) {
            batches.push(&data[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += size;
    }
    if start < data.len() {
        batches.push(&data[start..]);
    }
    batches
}

fn to_cloudwatch(datum: &MetricDatum) -> CwDatum {
    let timestamp = aws_smithy_types::DateTime::from_secs_and_nanos(
        datum.timestamp.timestamp(),
        datum.timestamp.timestamp_subsec_nanos(),
    );
    let builder = CwDatum::builder()
        .metric_name(&datum.name)
        .set_dimensions(Some(
            datum
                .dimensions
                .iter()
                .map(|(name, value)| Dimension::builder().name(name).value(value).build())
                .collect(),
        ))
        .timestamp(timestamp);
    match datum.value {
        MetricValue::Value(value) => builder.value(value),
        MetricValue::Statistics {
            sample_count,
            sum,
            min,
            max,
        } => builder.statistic_values(
            StatisticSet::builder()
                .sample_count(sample_count)
                .sum(sum)
                .minimum(min)
                .maximum(max)
                .build(),
        ),
    }
    .build()
}

#[async_trait]
impl MetricsSink for CloudWatchMetrics {
    async fn publish(&self, namespace: &str, data: &[MetricDatum]) -> Result<(), CloudError> {
        for batch in batches(data) {
            self.client
                .put_metric_data()
                .namespace(namespace)
                .set_metric_data(Some(batch.iter().map(to_cloudwatch).collect()))
                .send()
                .await
                .map_err(|err| CloudError::aws(SERVICE, "PutMetricData", err))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;

    fn datum(name: &str, dimension_value_len: usize) -> MetricDatum {
        MetricDatum {
            name: name.to_string(),
            dimensions: vec![("Feature".to_string(), "x".repeat(dimension_value_len))],
            value: MetricValue::Value(1.0),
            timestamp: Utc::now(),
        }
    }

    #[test]
    fn batches_of_at_most_a_thousand() {
        let data: Vec<_> = (0..2500).map(|i| datum(&format!("m{i}"), 10)).collect();
        let sizes: Vec<_> = batches(&data).iter().map(|b| b.len()).collect();
        assert_eq!(sizes, [1000, 1000, 500]);
        assert!(batches(&[]).is_empty());
    }

    #[test]
    fn large_data_points_close_a_batch_early() {
        let data: Vec<_> = (0..1000).map(|i| datum(&format!("m{i}"), 1000)).collect();
        let parts = batches(&data);
        assert!(parts.len() > 1);
        assert_eq!(parts.iter().map(|b| b.len()).sum::<usize>(), 1000);
        for part in parts {
            assert!(part.iter().map(encoded_size).sum::<usize>() <= MAX_REQUEST_BYTES);
        }
    }
}
