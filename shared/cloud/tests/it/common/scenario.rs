//! The churn scenario the AWS tests share: a training set baselined by the baselining job, an
//! hour of capture (with drift in `age` when asked), and an hourly schedule over them, all in one
//! bucket.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use modelmon_cloud::aws::SchedulerSettings;
use modelmon_cloud::control::ControlSettings;
use modelmon_cloud::ports::ObjectStore;
use modelmon_cloud::run::{run_baseline, BaselineJob, BaselineOutputs};
use modelmon_cloud::{AllowedBuckets, ObjectUri};
use serde_json::{json, Value};

pub const ENDPOINT: &str = "churn-endpoint";

/// The scheduler's settings for the tests' schedule group, invoking `target_arn`.
pub fn scheduler_settings(group: &str, target_arn: &str) -> SchedulerSettings {
    SchedulerSettings {
        group_name: group.to_string(),
        target_arn: target_arn.to_string(),
        role_arn: "arn:aws:iam::123456789012:role/modelmon-scheduler".into(),
        dead_letter_arn: None,
        max_retry_attempts: 2,
        max_event_age_seconds: 3600,
    }
}

pub fn control_settings() -> ControlSettings {
    ControlSettings {
        region: "us-east-1".into(),
        account_id: "123456789012".into(),
        max_schedules: 100,
    }
}

pub fn uri(bucket: &str, key: &str) -> ObjectUri {
    ObjectUri::parse(&format!("s3://{bucket}/{key}")).unwrap()
}

/// 400 training rows of `age,plan` in `training/train.csv`, baselined into `baseline/`.
pub async fn baseline(store: &Arc<dyn ObjectStore>, bucket: &str) -> BaselineOutputs {
    let csv: String = std::iter::once("age,plan".to_string())
        .chain((0..400).map(|i| format!("{},{}", 20 + i % 40, if i % 3 == 0 { "pro" } else { "basic" })))
        .collect::<Vec<_>>()
        .join("\n");
    let data = uri(bucket, "training/train.csv");
    store.put(&data, (csv + "\n").into_bytes(), "text/csv").await.unwrap();
    let job = BaselineJob {
        dataset_source: data.to_string(),
        dataset_format: r#"{"csv": {"header": true, "output_columns_position": "START"}}"#.into(),
        output_path: uri(bucket, "baseline").to_string(),
    };
    run_baseline(store, &job, &AllowedBuckets::any(), None).await.unwrap()
}

/// One capture file per minute of `hour` under `datacapture/`, CSV payloads `age,plan`; `drift`
/// moves ages by 100.
pub async fn capture(store: &Arc<dyn ObjectStore>, bucket: &str, hour: DateTime<Utc>, drift: bool) {
    for minute in 0..60 {
        let time = hour + Duration::minutes(minute);
        let age = 20 + minute % 40 + if drift { 100 } else { 0 };
        let record = json!({
            "captureData": {"endpointInput": {"observedContentType": "text/csv", "mode": "INPUT", "data": format!("{age},basic"), "encoding": "CSV"}},
            "eventMetadata": {"eventId": format!("e{minute}"), "inferenceTime": time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)},
            "eventVersion": "0"
        });
        let key = format!(
            "datacapture/{ENDPOINT}/AllTraffic/{}/{}.jsonl",
            time.format("%Y/%m/%d/%H"),
            time.format("%M-00-000-f")
        );
        let body = (record.to_string() + "\n").into_bytes();
        store.put(&uri(bucket, &key), body, "application/jsonl").await.unwrap();
    }
}

/// CreateMonitoringSchedule over the scenario's baseline, with reports under `reports/`.
pub fn create_request(bucket: &str, name: &str, expression: &str) -> Value {
    json!({
        "MonitoringScheduleName": name,
        "MonitoringScheduleConfig": {
            "ScheduleConfig": {"ScheduleExpression": expression},
            "MonitoringJobDefinition": {
                "BaselineConfig": {
                    "ConstraintsResource": {"S3Uri": uri(bucket, "baseline/constraints.json").to_string()},
                    "StatisticsResource": {"S3Uri": uri(bucket, "baseline/statistics.json").to_string()}
                },
                "MonitoringInputs": [{"EndpointInput": {"EndpointName": ENDPOINT, "LocalPath": "/opt/ml/processing/input"}}],
                "MonitoringOutputConfig": {"MonitoringOutputs": [{"S3Output": {"S3Uri": uri(bucket, "reports").to_string(), "LocalPath": "/opt/ml/processing/output"}}]},
                "MonitoringResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 20}},
                "MonitoringAppSpecification": {"ImageUri": "analyzer"},
                "RoleArn": "arn:aws:iam::123456789012:role/monitoring"
            }
        }
    })
}
