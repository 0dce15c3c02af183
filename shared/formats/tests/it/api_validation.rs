//! Requests are validated against botocore's SageMaker model with SageMaker's own messages.

use modelmon_formats::api::{compile_pattern, is_known_operation, operation_names, validate_request};
use modelmon_formats::FormatError;
use serde_json::{json, Value};

const MODEL_JSON: &str = include_str!("../../src/api/sagemaker-model.json");

const OPERATIONS: [&str; 19] = [
    "AddTags",
    "CreateDataQualityJobDefinition",
    "CreateMonitoringSchedule",
    "CreateProcessingJob",
    "DeleteDataQualityJobDefinition",
    "DeleteMonitoringSchedule",
    "DeleteTags",
    "DescribeDataQualityJobDefinition",
    "DescribeMonitoringSchedule",
    "DescribeProcessingJob",
    "ListDataQualityJobDefinitions",
    "ListMonitoringExecutions",
    "ListMonitoringSchedules",
    "ListProcessingJobs",
    "ListTags",
    "StartMonitoringSchedule",
    "StopMonitoringSchedule",
    "StopProcessingJob",
    "UpdateMonitoringSchedule",
];

const NAME_PATTERN: &str = "[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}";

/// A request as the SageMaker Python SDK sends it for a data-quality schedule on an endpoint.
fn create_schedule() -> Value {
    json!({
        "MonitoringScheduleName": "churn-data-quality",
        "MonitoringScheduleConfig": {
            "ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)"},
            "MonitoringType": "DataQuality",
            "MonitoringJobDefinition": {
                "BaselineConfig": {
                    "ConstraintsResource": {"S3Uri": "s3://bucket/baseline/constraints.json"},
                    "StatisticsResource": {"S3Uri": "s3://bucket/baseline/statistics.json"}
                },
                "MonitoringInputs": [{
                    "EndpointInput": {
                        "EndpointName": "churn-endpoint",
                        "LocalPath": "/opt/ml/processing/input/endpoint",
                        "S3InputMode": "File",
                        "S3DataDistributionType": "FullyReplicated"
                    }
                }],
                "MonitoringOutputConfig": {
                    "MonitoringOutputs": [{
                        "S3Output": {
                            "S3Uri": "s3://bucket/reports",
                            "LocalPath": "/opt/ml/processing/output",
                            "S3UploadMode": "EndOfJob"
                        }
                    }]
                },
                "MonitoringResources": {
                    "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 20}
                },
                "MonitoringAppSpecification": {
                    "ImageUri": "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer"
                },
                "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
                "Environment": {"publish_cloudwatch_metrics": "Enabled"},
                "NetworkConfig": {"EnableNetworkIsolation": false},
                "RoleArn": "arn:aws:iam::123456789012:role/service-role/X"
            }
        },
        "Tags": [{"Key": "team", "Value": "ml"}]
    })
}

/// The single message of a failed validation.
fn message(operation: &str, body: &Value) -> String {
    match validate_request(operation, body) {
        Err(err @ FormatError::InvalidRequest { .. }) => err.to_string(),
        other => panic!("expected InvalidRequest, got {other:?}"),
    }
}

fn violation(value: &str, path: &str, constraint: &str) -> String {
    format!("1 validation error detected: Value {value} at '{path}' failed to satisfy constraint: {constraint}")
}

#[test]
fn a_realistic_create_monitoring_schedule_passes() {
    validate_request("CreateMonitoringSchedule", &create_schedule()).unwrap();
}

#[test]
fn unknown_and_null_optional_members_are_accepted() {
    let mut body = create_schedule();
    body["ClientToken"] = json!("added-by-a-newer-sdk");
    body["Tags"] = Value::Null;
    validate_request("CreateMonitoringSchedule", &body).unwrap();
}

#[test]
fn pattern() {
    let mut body = create_schedule();
    body["MonitoringScheduleName"] = json!("bad_name");
    assert_eq!(
        message("CreateMonitoringSchedule", &body),
        "1 validation error detected: Value 'bad_name' at 'monitoringScheduleName' failed to satisfy constraint: \
         Member must satisfy regular expression pattern: [a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"
    );
}

#[test]
fn required_member() {
    let mut body = create_schedule();
    body["MonitoringScheduleConfig"]["ScheduleConfig"] = json!({});
    assert_eq!(
        message("CreateMonitoringSchedule", &body),
        violation(
            "null",
            "monitoringScheduleConfig.scheduleConfig.scheduleExpression",
            "Member must not be null"
        )
    );
}

#[test]
fn minimum_length() {
    let mut body = create_schedule();
    body["MonitoringScheduleConfig"]["ScheduleConfig"]["ScheduleExpression"] = json!("");
    assert_eq!(
        message("CreateMonitoringSchedule", &body),
        violation(
            "''",
            "monitoringScheduleConfig.scheduleConfig.scheduleExpression",
            "Member must have length greater than or equal to 1"
        )
    );
}

#[test]
fn maximum_length_counts_characters_and_cuts_the_value_to_100() {
    let mut body = create_schedule();
    body["MonitoringScheduleConfig"]["ScheduleConfig"]["ScheduleExpression"] = json!("é".repeat(257));
    assert_eq!(
        message("CreateMonitoringSchedule", &body),
        violation(
            &format!("'{}'", "é".repeat(100)),
            "monitoringScheduleConfig.scheduleConfig.scheduleExpression",
            "Member must have length less than or equal to 256"
        )
    );
    body["MonitoringScheduleConfig"]["ScheduleConfig"]["ScheduleExpression"] = json!("é".repeat(256));
    validate_request("CreateMonitoringSchedule", &body).unwrap();
}

#[test]
fn several_violations_are_counted_and_joined() {
    let name = "a".repeat(64);
    let message = message("DescribeMonitoringSchedule", &json!({"MonitoringScheduleName": name}));
    assert_eq!(
        message,
        format!(
            "2 validation errors detected: \
             Value '{name}' at 'monitoringScheduleName' failed to satisfy constraint: \
             Member must have length less than or equal to 63; \
             Value '{name}' at 'monitoringScheduleName' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: {NAME_PATTERN}"
        )
    );
}

#[test]
fn the_message_lists_ten_violations_but_counts_all() {
    let mut body = create_schedule();
    body["Tags"] = json!((0..12).map(|i| json!({"Key": format!("k{i}")})).collect::<Vec<_>>());
    let err = validate_request("CreateMonitoringSchedule", &body).unwrap_err();
    let FormatError::InvalidRequest { errors } = &err else {
        panic!("expected InvalidRequest, got {err:?}");
    };
    assert_eq!(errors.len(), 12);
    assert_eq!(
        errors[11],
        "Value null at 'tags.12.member.value' failed to satisfy constraint: Member must not be null"
    );
    let message = err.to_string();
    let listed = message.strip_prefix("12 validation errors detected: ").unwrap();
    assert_eq!(listed, errors[..10].join("; "));
}

#[test]
fn enum_membership() {
    assert_eq!(
        message("ListMonitoringSchedules", &json!({"SortOrder": "Up"})),
        violation(
            "'Up'",
            "sortOrder",
            "Member must satisfy enum value set: [Ascending, Descending]"
        )
    );
}

#[test]
fn integer_range() {
    assert_eq!(
        message("ListMonitoringSchedules", &json!({"MaxResults": 101})),
        violation(
            "'101'",
            "maxResults",
            "Member must have value less than or equal to 100"
        )
    );
    assert_eq!(
        message("ListMonitoringSchedules", &json!({"MaxResults": 0})),
        violation("'0'", "maxResults", "Member must have value greater than or equal to 1")
    );
    validate_request("ListMonitoringSchedules", &json!({"MaxResults": 100})).unwrap();
}

#[test]
fn member_types() {
    for (body, value, path, kind) in [
        (json!({"MaxResults": "10"}), "'10'", "maxResults", "integer"),
        (json!({"MaxResults": 1.5}), "'1.5'", "maxResults", "integer"),
        (
            json!({"MaxResults": 4294967296_i64}),
            "'4294967296'",
            "maxResults",
            "integer",
        ),
        (json!({"SortOrder": 1}), "'1'", "sortOrder", "string"),
        (
            json!({"CreationTimeAfter": "yesterday"}),
            "'yesterday'",
            "creationTimeAfter",
            "timestamp",
        ),
        (
            json!({"CreationTimeAfter": true}),
            "'true'",
            "creationTimeAfter",
            "timestamp",
        ),
    ] {
        assert_eq!(
            message("ListMonitoringSchedules", &body),
            violation(value, path, &format!("Member must be of type {kind}"))
        );
    }
    let mut body = create_schedule();
    let definition = &mut body["MonitoringScheduleConfig"]["MonitoringJobDefinition"];
    definition["NetworkConfig"]["EnableNetworkIsolation"] = json!("false");
    definition["MonitoringInputs"] = json!({"EndpointInput": {}});
    definition["Environment"] = json!(["a=b"]);
    definition["MonitoringResources"] = json!("ml.m5.xlarge");
    let prefix = "monitoringScheduleConfig.monitoringJobDefinition";
    assert_eq!(
        message("CreateMonitoringSchedule", &body),
        format!(
            "4 validation errors detected: \
             Value '[a=b]' at '{prefix}.environment' failed to satisfy constraint: Member must be of type map; \
             Value '{{EndpointInput={{}}}}' at '{prefix}.monitoringInputs' failed to satisfy constraint: \
             Member must be of type list; \
             Value 'ml.m5.xlarge' at '{prefix}.monitoringResources' failed to satisfy constraint: \
             Member must be of type structure; \
             Value 'false' at '{prefix}.networkConfig.enableNetworkIsolation' failed to satisfy constraint: \
             Member must be of type boolean"
        )
    );
}

#[test]
fn timestamps_are_epoch_seconds_or_iso_8601() {
    for when in [
        json!(1_700_000_000),
        json!(1_700_000_000.5),
        json!("2024-03-01T12:00:00Z"),
    ] {
        validate_request("ListMonitoringExecutions", &json!({"ScheduledTimeBefore": when})).unwrap();
    }
}

#[test]
fn list_size_and_nested_list_paths() {
    let mut body = create_schedule();
    let definition = &mut body["MonitoringScheduleConfig"]["MonitoringJobDefinition"];
    definition["MonitoringInputs"][0]["EndpointInput"]["EndpointName"] = json!("bad_endpoint");
    definition["MonitoringOutputConfig"]["MonitoringOutputs"] = json!([]);
    let prefix = "monitoringScheduleConfig.monitoringJobDefinition";
    assert_eq!(
        message("CreateMonitoringSchedule", &body),
        format!(
            "2 validation errors detected: \
             Value 'bad_endpoint' at '{prefix}.monitoringInputs.1.member.endpointInput.endpointName' \
             failed to satisfy constraint: Member must satisfy regular expression pattern: {NAME_PATTERN}; \
             Value '[]' at '{prefix}.monitoringOutputConfig.monitoringOutputs' \
             failed to satisfy constraint: Member must have length greater than or equal to 1"
        )
    );
}

#[test]
fn map_keys_and_values() {
    let mut body = create_schedule();
    body["MonitoringScheduleConfig"]["MonitoringJobDefinition"]["Environment"] =
        json!({"1BAD": "x", "LONG": "v".repeat(257)});
    let path = "monitoringScheduleConfig.monitoringJobDefinition.environment";
    assert_eq!(
        message("CreateMonitoringSchedule", &body),
        format!(
            "2 validation errors detected: \
             Value '1BAD' at '{path}' failed to satisfy constraint: Map keys must satisfy constraint: \
             [Member must satisfy regular expression pattern: [a-zA-Z_][a-zA-Z0-9_]*]; \
             Value '{}' at '{path}.LONG' failed to satisfy constraint: \
             Member must have length less than or equal to 256",
            "v".repeat(100)
        )
    );
}

#[test]
fn the_body_must_be_an_object() {
    assert_eq!(
        message("ListMonitoringSchedules", &json!([])),
        "1 validation error detected: Request body must be a JSON object"
    );
}

#[test]
fn unknown_operation() {
    assert!(!is_known_operation("CreateEndpoint"));
    assert!(is_known_operation("CreateMonitoringSchedule"));
    let err = validate_request("CreateEndpoint", &json!({})).unwrap_err();
    assert!(matches!(&err, FormatError::UnknownOperation(name) if name == "CreateEndpoint"));
    assert_eq!(err.to_string(), "Unknown operation CreateEndpoint");
}

#[test]
fn the_model_holds_exactly_the_nineteen_operations() {
    assert_eq!(operation_names().collect::<Vec<_>>(), OPERATIONS);
    let model: Value = serde_json::from_str(MODEL_JSON).unwrap();
    let names: Vec<&str> = model["operations"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(names, OPERATIONS);
}

/// The validator resolves shapes by name and does not implement unions: a re-extracted model that
/// breaks either assumption must fail here rather than at request time.
#[test]
fn every_pattern_compiles_and_every_shape_is_supported() {
    let model: Value = serde_json::from_str(MODEL_JSON).unwrap();
    let shapes = model["shapes"].as_object().unwrap();
    let mut patterns = 0;
    for (name, shape) in shapes {
        if let Some(pattern) = shape["pattern"].as_str() {
            compile_pattern(pattern).unwrap_or_else(|err| panic!("{name}: {err}"));
            patterns += 1;
        }
        assert!(shape.get("union").is_none(), "{name} is a union");
        let references = ["member", "key", "value"].map(|key| &shape[key]["shape"]);
        let members = shape["members"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(_, m)| &m["shape"]);
        for reference in references.into_iter().chain(members).filter_map(Value::as_str) {
            assert!(shapes.contains_key(reference), "{name} refers to missing {reference}");
        }
    }
    assert!(patterns > 0);
    // Parses the embedded model as the validator does (which compiles the patterns once more).
    for operation in OPERATIONS {
        let input = model["operations"][operation]["input"].as_str().unwrap();
        assert!(shapes.contains_key(input));
        let _ = validate_request(operation, &json!({}));
    }
}
