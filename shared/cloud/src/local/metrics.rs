//! [`MetricsSink`] into a JSON Lines file.

use std::path::PathBuf;

use async_trait::async_trait;
use serde::Serialize;

use super::fsutil::{append, blocking};
use crate::ports::{MetricDatum, MetricValue, MetricsSink};
use crate::CloudError;

/// Appends one JSON line per data point to `path` (created with its folder if missing):
/// `{"namespace":..,"name":..,"dimensions":{..},"value":..,"timestamp":"<RFC 3339>"}`, where a
/// statistic set is `"value":{"sample_count":..,"sum":..,"min":..,"max":..}`.
/// A whole `publish` goes out in one append, so lines of concurrent publishers (tasks or
/// processes) do not interleave. A value that is not finite is written as `null`.
#[derive(Debug, Clone)]
pub struct FileMetrics {
    pub path: PathBuf,
}

#[derive(Serialize)]
struct Line<'a> {
    namespace: &'a str,
    name: &'a str,
    dimensions: serde_json::Map<String, serde_json::Value>,
    value: serde_json::Value,
    timestamp: String,
}

impl FileMetrics {
    pub fn new(path: impl Into<PathBuf>) -> FileMetrics {
        FileMetrics { path: path.into() }
    }
}

#[async_trait]
impl MetricsSink for FileMetrics {
    async fn publish(&self, namespace: &str, data: &[MetricDatum]) -> Result<(), CloudError> {
        if data.is_empty() {
            return Ok(());
        }
        let mut lines = Vec::new();
        for datum in data {
            let line = Line {
                namespace,
                name: &datum.name,
                dimensions: datum
                    .dimensions
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone().into()))
                    .collect(),
                value: match datum.value {
                    MetricValue::Value(value) => value.into(),
                    MetricValue::Statistics {
                        sample_count,
                        sum,
                        min,
                        max,
                    } => {
                        serde_json::json!({"sample_count": sample_count, "sum": sum, "min": min, "max": max})
                    }
                },
                timestamp: datum.timestamp.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            };
            serde_json::to_writer(&mut lines, &line).expect("a metric line serializes");
            lines.push(b'\n');
        }
        let path = self.path.clone();
        blocking(move || append(&path, &lines)).await
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::sync::Arc;

    use chrono::{DateTime, TimeDelta, Utc};
    use serde_json::{json, Value};

    use super::*;

    fn datum(name: &str, value: f64, timestamp: DateTime<Utc>) -> MetricDatum {
        let dimensions = vec![
            ("Endpoint".to_string(), "ep-1".to_string()),
            ("Feature".to_string(), "age".to_string()),
        ];
        MetricDatum {
            name: name.to_string(),
            dimensions,
            value: MetricValue::Value(value),
            timestamp,
        }
    }

    fn read_lines(path: &std::path::Path) -> Vec<Value> {
        fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    #[tokio::test]
    async fn lines_parse_back() {
        let dir = tempfile::tempdir().unwrap();
        let metrics = FileMetrics::new(dir.path().join("out/metrics.jsonl"));
        let at = DateTime::parse_from_rfc3339("2026-03-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        metrics
            .publish(
                "aws/sagemaker/Endpoints/data-metrics",
                &[datum("feature_baseline_drift_age", 0.25, at)],
            )
            .await
            .unwrap();
        metrics
            .publish(
                "ns2",
                &[
                    datum("a", 1.0, at + TimeDelta::milliseconds(1500)),
                    datum("b", f64::NAN, at),
                ],
            )
            .await
            .unwrap();
        metrics.publish("ns3", &[]).await.unwrap();
        let lines = read_lines(&metrics.path);
        assert_eq!(
            lines[0],
            json!({
                "namespace": "aws/sagemaker/Endpoints/data-metrics",
                "name": "feature_baseline_drift_age",
                "dimensions": {"Endpoint": "ep-1", "Feature": "age"},
                "value": 0.25,
                "timestamp": "2026-03-01T10:00:00.000Z"
            })
        );
        assert_eq!(lines[1]["namespace"], "ns2");
        let stamp = DateTime::parse_from_rfc3339(lines[1]["timestamp"].as_str().unwrap()).unwrap();
        assert_eq!(stamp, at + TimeDelta::milliseconds(1500));
        assert_eq!(lines[2]["value"], Value::Null);
        assert_eq!(lines.len(), 3);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_publishers_do_not_interleave_lines() {
        let dir = tempfile::tempdir().unwrap();
        let metrics = Arc::new(FileMetrics::new(dir.path().join("metrics.jsonl")));
        let tasks: Vec<_> = (0..8)
            .map(|n| {
                let metrics = metrics.clone();
                tokio::spawn(async move {
                    let data: Vec<_> = (0..50)
                        .map(|i| datum(&format!("m{n}"), f64::from(i), Utc::now()))
                        .collect();
                    metrics.publish("ns", &data).await.unwrap();
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        let lines = read_lines(&metrics.path);
        assert_eq!(lines.len(), 400);
        // Each publish is one block of 50 lines of one name.
        for block in lines.chunks(50) {
            assert!(block.iter().all(|line| line["name"] == block[0]["name"]));
        }
    }
}
