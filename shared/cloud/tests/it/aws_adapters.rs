//! The AWS adapters against moto server (infra/moto.sh), checked through the ports and, where the
//! port hides what was written, through the raw SDK clients.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use modelmon_cloud::aws::{
    create_group, create_table, CloudWatchJobLog, CloudWatchMetrics, DynamoTable, EventBridgeScheduler, S3Store,
    SchedulerSettings, KIND_INDEX, PROCESSING_JOBS_LOG_GROUP,
};
use modelmon_cloud::ports::{
    Cadence, Item, ItemKey, ItemKind, JobLog, LogLine, MetricDatum, MetricValue, MetricsSink, ObjectStore,
    ScheduleSpec, Scheduler, Table,
};
use modelmon_cloud::{CloudError, ObjectUri};
use serde_json::json;

// ---- S3 ----

async fn s3_bucket() -> (S3Store, String) {
    let config = common::sdk_config().await;
    let store = S3Store::new(&config);
    let bucket = common::unique("bucket");
    store
        .client
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("CreateBucket");
    (store, bucket)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_put_get_and_list_across_pages() {
    let (store, bucket) = s3_bucket().await;
    let store = Arc::new(store);
    let uri = |key: &str| ObjectUri {
        bucket: bucket.clone(),
        key: key.to_string(),
    };

    // 1,050 objects under the prefix (ListObjectsV2 returns at most 1,000 a page), a few beside it.
    let keys: Vec<String> = (0..1050).map(|i| format!("capture/ep/{i:05}.jsonl")).collect();
    let mut tasks = tokio::task::JoinSet::new();
    let permits = Arc::new(tokio::sync::Semaphore::new(32));
    let beside = [(7, "capture/other.jsonl".to_string())];
    for (i, key) in keys.iter().cloned().enumerate().chain(beside) {
        let (store, uri, permits) = (store.clone(), uri(&key), permits.clone());
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await.unwrap();
            store.put(&uri, vec![b'x'; i % 17], "application/jsonl").await
        });
    }
    while let Some(result) = tasks.join_next().await {
        result.unwrap().expect("put");
    }

    let listed = store.list(&uri("capture/ep/")).await.expect("list");
    let listed_keys: Vec<&str> = listed.iter().map(|o| o.uri.key.as_str()).collect();
    assert_eq!(
        listed_keys,
        keys.iter().map(String::as_str).collect::<Vec<_>>(),
        "all pages, in key order"
    );
    for (i, object) in listed.iter().enumerate() {
        assert_eq!(object.size, (i % 17) as u64, "{}", object.uri);
        assert_eq!(object.uri.bucket, bucket);
    }
    // A prefix is a string prefix, not a folder.
    assert_eq!(store.list(&uri("capture/")).await.unwrap().len(), 1051);
    assert!(store.list(&uri("nothing/")).await.unwrap().is_empty());

    let body = br#"{"a":1}"#.to_vec();
    store
        .put(&uri("reports/r.json"), body.clone(), "application/json")
        .await
        .unwrap();
    assert_eq!(store.get(&uri("reports/r.json")).await.unwrap(), body);
    let head = store
        .client
        .head_object()
        .bucket(&bucket)
        .key("reports/r.json")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_type(), Some("application/json"));
    // put replaces
    store
        .put(&uri("reports/r.json"), b"{}".to_vec(), "application/json")
        .await
        .unwrap();
    assert_eq!(store.get(&uri("reports/r.json")).await.unwrap(), b"{}");
}

#[tokio::test]
async fn s3_missing_object_is_object_not_found() {
    let (store, bucket) = s3_bucket().await;
    let uri = ObjectUri {
        bucket: bucket.clone(),
        key: "no/such/key.json".to_string(),
    };
    match store.get(&uri).await {
        Err(CloudError::ObjectNotFound { uri: missing }) => assert_eq!(missing, uri.to_string()),
        other => panic!("expected ObjectNotFound, got {other:?}"),
    }
    // A missing bucket is not a missing object: the SDK's error comes through.
    let gone = ObjectUri {
        bucket: common::unique("nobucket"),
        key: "k".to_string(),
    };
    assert!(matches!(
        store.get(&gone).await,
        Err(CloudError::Aws {
            service: "s3",
            operation: "GetObject",
            ..
        })
    ));
}

// ---- DynamoDB ----

async fn dynamo_table() -> DynamoTable {
    let config = common::sdk_config().await;
    let table_name = common::unique("modelmon");
    let table = DynamoTable::new(&config, &table_name);
    create_table(&table.client, &table_name).await.expect("create_table");
    table
}

fn execution(schedule: &str, minute: i64, padding: usize) -> Item {
    let scheduled_time = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + Duration::minutes(minute);
    Item {
        key: ItemKey::Execution {
            schedule: schedule.to_string(),
            scheduled_time,
        },
        version: 1,
        body: json!({ "ExecutionStatus": "Completed", "minute": minute, "padding": "p".repeat(padding) }),
    }
}

#[tokio::test]
async fn dynamodb_table_has_the_expected_layout() {
    let table = dynamo_table().await;
    let described = table
        .client
        .describe_table()
        .table_name(&table.table_name)
        .send()
        .await
        .unwrap();
    let described = described.table().unwrap();
    assert_eq!(described.table_status().map(|s| s.as_str()), Some("ACTIVE"));
    let keys: Vec<_> = described
        .key_schema()
        .iter()
        .map(|k| (k.attribute_name(), k.key_type().as_str()))
        .collect();
    assert_eq!(keys, [("pk", "HASH"), ("sk", "RANGE")]);
    let index = &described.global_secondary_indexes()[0];
    assert_eq!(index.index_name(), Some(KIND_INDEX));
    let keys: Vec<_> = index
        .key_schema()
        .iter()
        .map(|k| (k.attribute_name(), k.key_type().as_str()))
        .collect();
    assert_eq!(keys, [("kind", "HASH"), ("sk", "RANGE")]);
    assert_eq!(
        index.projection().and_then(|p| p.projection_type()).map(|p| p.as_str()),
        Some("ALL")
    );
    let billing = described
        .billing_mode_summary()
        .and_then(|b| b.billing_mode())
        .map(|b| b.as_str());
    assert_eq!(billing, Some("PAY_PER_REQUEST"));
}

#[tokio::test]
async fn dynamodb_insert_get_update_delete() {
    let table = dynamo_table().await;
    let key = ItemKey::Schedule("churn-hourly".to_string());
    let mut item = Item {
        key: key.clone(),
        version: 1,
        body: json!({ "MonitoringScheduleName": "churn-hourly" }),
    };

    assert_eq!(table.get(&key).await.unwrap(), None);
    table.insert(&item).await.unwrap();
    assert_eq!(table.get(&key).await.unwrap(), Some(item.clone()));

    // The stored attributes are exactly the six of the layout.
    let raw = table
        .client
        .get_item()
        .table_name(&table.table_name)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S("schedule#churn-hourly".into()),
        )
        .key("sk", aws_sdk_dynamodb::types::AttributeValue::S("schedule".into()))
        .send()
        .await
        .unwrap();
    let raw: BTreeMap<_, _> = raw
        .item()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.as_str(), format!("{v:?}")))
        .collect();
    assert_eq!(
        raw.keys().copied().collect::<Vec<_>>(),
        ["body", "kind", "pk", "sk", "version", "write"]
    );
    assert_eq!(raw["kind"], r#"S("schedule")"#);
    assert_eq!(raw["version"], r#"N("1")"#);

    // A second insert of the key conflicts and leaves the item alone.
    let other = Item {
        body: json!({ "other": true }),
        ..item.clone()
    };
    assert!(matches!(
        table.insert(&other).await,
        Err(CloudError::AlreadyExists { .. })
    ));
    assert_eq!(table.get(&key).await.unwrap(), Some(item.clone()));

    item.version = 2;
    item.body["Status"] = json!("Scheduled");
    table.update(&item).await.unwrap();
    assert_eq!(table.get(&key).await.unwrap(), Some(item.clone()));

    // A writer that read version 1 lost the race.
    let stale = Item {
        version: 2,
        body: json!({ "stale": true }),
        ..item.clone()
    };
    match table.update(&stale).await {
        Err(CloudError::VersionConflict { what }) => assert!(what.contains("churn-hourly"), "{what}"),
        other => panic!("expected VersionConflict, got {other:?}"),
    }
    assert_eq!(table.get(&key).await.unwrap(), Some(item.clone()));

    // A delete is conditional on the version too.
    match table.delete(&key, 1).await {
        Err(CloudError::VersionConflict { what }) => assert!(what.contains("churn-hourly"), "{what}"),
        other => panic!("expected VersionConflict, got {other:?}"),
    }
    assert_eq!(table.get(&key).await.unwrap(), Some(item.clone()));
    table.delete(&key, 2).await.unwrap();
    assert_eq!(table.get(&key).await.unwrap(), None);
    assert!(matches!(
        table.delete(&key, 2).await,
        Err(CloudError::ItemNotFound { .. })
    ));

    item.version = 3;
    assert!(matches!(
        table.update(&item).await,
        Err(CloudError::ItemNotFound { .. })
    ));
    assert_eq!(table.get(&key).await.unwrap(), None, "a failed update creates nothing");

    // Executions and job definitions round-trip through their keys too.
    let run = execution("churn-hourly", 61, 0);
    table.insert(&run).await.unwrap();
    assert_eq!(table.get(&run.key).await.unwrap(), Some(run.clone()));
    let job = Item {
        key: ItemKey::JobDefinition("churn-job".into()),
        version: 1,
        body: json!([1, 2.5, null]),
    };
    table.insert(&job).await.unwrap();
    assert_eq!(table.get(&job.key).await.unwrap(), Some(job));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn dynamodb_concurrent_inserts_of_one_key_admit_one() {
    let table = Arc::new(dynamo_table().await);
    let item = execution("racy", 0, 0);
    let mut tasks = tokio::task::JoinSet::new();
    let barrier = Arc::new(tokio::sync::Barrier::new(16));
    for writer in 0..16 {
        let (table, barrier) = (table.clone(), barrier.clone());
        let item = Item {
            body: json!({ "writer": writer }),
            ..item.clone()
        };
        tasks.spawn(async move {
            barrier.wait().await;
            table.insert(&item).await.map(|()| writer)
        });
    }
    let (mut winners, mut conflicts) = (Vec::new(), 0);
    while let Some(result) = tasks.join_next().await {
        match result.unwrap() {
            Ok(writer) => winners.push(writer),
            Err(CloudError::AlreadyExists { .. }) => conflicts += 1,
            Err(other) => panic!("unexpected error: {other}"),
        }
    }
    assert_eq!((winners.len(), conflicts), (1, 15), "winners {winners:?}");
    let stored = table.get(&item.key).await.unwrap().unwrap();
    assert_eq!(stored.body, json!({ "writer": winners[0] }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn dynamodb_concurrent_deletes_of_one_version_admit_one() {
    let table = Arc::new(dynamo_table().await);
    let item = execution("deleted-once", 0, 0);
    table.insert(&item).await.unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    let barrier = Arc::new(tokio::sync::Barrier::new(16));
    for _ in 0..16 {
        let (table, barrier, key) = (table.clone(), barrier.clone(), item.key.clone());
        tasks.spawn(async move {
            barrier.wait().await;
            table.delete(&key, 1).await
        });
    }
    let (mut deleted, mut gone) = (0, 0);
    while let Some(result) = tasks.join_next().await {
        match result.unwrap() {
            Ok(()) => deleted += 1,
            Err(CloudError::ItemNotFound { .. }) => gone += 1,
            Err(other) => panic!("unexpected error: {other}"),
        }
    }
    assert_eq!((deleted, gone), (1, 15));
    assert_eq!(table.get(&item.key).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb_lists_by_kind_and_executions_across_pages() {
    let table = Arc::new(dynamo_table().await);
    // DynamoDB (and moto) cut a Query page at 1 MB: 2 x 160 executions of ~8 KB take several pages.
    let per_schedule = 160;
    let padding = 8 * 1024;
    let mut items = Vec::new();
    for schedule in ["alpha", "beta"] {
        items.push(Item {
            key: ItemKey::Schedule(schedule.to_string()),
            version: 1,
            body: json!({ "MonitoringScheduleName": schedule }),
        });
        for minute in 0..per_schedule {
            items.push(execution(schedule, minute * 60, padding));
        }
    }
    items.push(Item {
        key: ItemKey::JobDefinition("job".to_string()),
        version: 1,
        body: json!({}),
    });
    let permits = Arc::new(tokio::sync::Semaphore::new(16));
    let mut tasks = tokio::task::JoinSet::new();
    for item in items {
        let (table, permits) = (table.clone(), permits.clone());
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await.unwrap();
            table.insert(&item).await
        });
    }
    while let Some(result) = tasks.join_next().await {
        result.unwrap().expect("insert");
    }

    // The raw query proves the data set spans pages, so the adapter's paging is exercised.
    let first_page = table
        .client
        .query()
        .table_name(&table.table_name)
        .key_condition_expression("pk = :pk AND begins_with(sk, :e)")
        .expression_attribute_values(
            ":pk",
            aws_sdk_dynamodb::types::AttributeValue::S("schedule#alpha".into()),
        )
        .expression_attribute_values(":e", aws_sdk_dynamodb::types::AttributeValue::S("execution#".into()))
        .send()
        .await
        .unwrap();
    assert!(
        first_page.last_evaluated_key().is_some(),
        "one schedule's executions should need more than a page"
    );
    assert!((first_page.count() as i64) < per_schedule);

    let alpha = table.list_executions("alpha").await.unwrap();
    assert_eq!(alpha.len(), per_schedule as usize);
    let times: Vec<DateTime<Utc>> = alpha
        .iter()
        .map(|item| match &item.key {
            ItemKey::Execution {
                schedule,
                scheduled_time,
            } if schedule == "alpha" => *scheduled_time,
            other => panic!("not an execution of alpha: {other:?}"),
        })
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] < w[1]),
        "executions in scheduled-time order"
    );
    assert_eq!(alpha[5], execution("alpha", 300, padding));
    assert!(table.list_executions("gamma").await.unwrap().is_empty());

    let executions = table.list(ItemKind::Execution).await.unwrap();
    assert_eq!(executions.len(), 2 * per_schedule as usize);
    assert!(executions.iter().all(|item| item.key.kind() == ItemKind::Execution));
    let schedules: Vec<_> = table
        .list(ItemKind::Schedule)
        .await
        .unwrap()
        .into_iter()
        .map(|item| item.key)
        .collect();
    assert_eq!(
        schedules,
        [ItemKey::Schedule("alpha".into()), ItemKey::Schedule("beta".into())]
    );
    let jobs = table.list(ItemKind::JobDefinition).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].key, ItemKey::JobDefinition("job".into()));
}

// ---- EventBridge Scheduler ----

async fn scheduler(dead_letter: bool) -> EventBridgeScheduler {
    let config = common::sdk_config().await;
    let group_name = common::unique("group");
    let settings = SchedulerSettings {
        group_name: group_name.clone(),
        target_arn: "arn:aws:lambda:us-east-1:123456789012:function:modelmon-analyze".to_string(),
        role_arn: "arn:aws:iam::123456789012:role/modelmon-scheduler".to_string(),
        dead_letter_arn: dead_letter.then(|| "arn:aws:sqs:us-east-1:123456789012:modelmon-dlq".to_string()),
        max_retry_attempts: 3,
        max_event_age_seconds: 3600,
    };
    let scheduler = EventBridgeScheduler::new(&config, settings);
    create_group(&scheduler.client, &group_name)
        .await
        .expect("create_group");
    create_group(&scheduler.client, &group_name)
        .await
        .expect("create_group again is fine");
    scheduler
}

#[tokio::test]
async fn scheduler_create_update_delete() {
    let scheduler = scheduler(true).await;
    let group = scheduler.settings.group_name.clone();
    let spec = ScheduleSpec {
        name: "churn-hourly".to_string(),
        cadence: Cadence::Hours {
            first_hour: 0,
            every_hours: 1,
        },
        enabled: true,
    };
    scheduler.create(&spec).await.unwrap();

    let got = scheduler
        .client
        .get_schedule()
        .group_name(&group)
        .name("churn-hourly")
        .send()
        .await
        .unwrap();
    assert_eq!(got.group_name(), Some(group.as_str()));
    assert_eq!(got.name(), Some("churn-hourly"));
    assert_eq!(got.schedule_expression(), Some("cron(0 * * * ? *)"));
    assert_eq!(got.schedule_expression_timezone(), Some("UTC"));
    assert_eq!(got.state().map(|s| s.as_str()), Some("ENABLED"));
    assert_eq!(got.flexible_time_window().map(|w| w.mode().as_str()), Some("OFF"));
    assert_eq!(got.action_after_completion().map(|a| a.as_str()), Some("NONE"));
    let target = got.target().expect("target");
    assert_eq!(
        target.arn(),
        "arn:aws:lambda:us-east-1:123456789012:function:modelmon-analyze"
    );
    assert_eq!(target.role_arn(), "arn:aws:iam::123456789012:role/modelmon-scheduler");
    assert_eq!(
        target.input(),
        Some(r#"{"schedule_name":"churn-hourly","scheduled_time":"<aws.scheduler.scheduled-time>"}"#)
    );
    let retry = target.retry_policy().expect("retry policy");
    assert_eq!(retry.maximum_retry_attempts(), Some(3));
    assert_eq!(retry.maximum_event_age_in_seconds(), Some(3600));
    assert_eq!(
        target.dead_letter_config().and_then(|d| d.arn()),
        Some("arn:aws:sqs:us-east-1:123456789012:modelmon-dlq")
    );

    // Update: new cadence, disabled; everything else carried over.
    let spec = ScheduleSpec {
        cadence: Cadence::Hours {
            first_hour: 3,
            every_hours: 6,
        },
        enabled: false,
        ..spec
    };
    scheduler.update(&spec).await.unwrap();
    let got = scheduler
        .client
        .get_schedule()
        .group_name(&group)
        .name("churn-hourly")
        .send()
        .await
        .unwrap();
    assert_eq!(got.schedule_expression(), Some("cron(0 3/6 * * ? *)"));
    assert_eq!(got.state().map(|s| s.as_str()), Some("DISABLED"));
    assert_eq!(got.schedule_expression_timezone(), Some("UTC"));
    let target = got.target().expect("target");
    assert_eq!(
        target.arn(),
        "arn:aws:lambda:us-east-1:123456789012:function:modelmon-analyze"
    );
    assert!(target.input().unwrap().contains(r#""schedule_name":"churn-hourly""#));
    assert_eq!(target.retry_policy().and_then(|r| r.maximum_retry_attempts()), Some(3));
    assert!(target.dead_letter_config().is_some());

    scheduler.delete("churn-hourly").await.unwrap();
    scheduler
        .delete("churn-hourly")
        .await
        .expect("deleting a missing schedule is fine");
    let gone = scheduler
        .client
        .get_schedule()
        .group_name(&group)
        .name("churn-hourly")
        .send()
        .await;
    assert!(gone
        .unwrap_err()
        .as_service_error()
        .is_some_and(|e| e.is_resource_not_found_exception()));

    // Updating a schedule that is gone says so.
    assert!(matches!(
        scheduler.update(&spec).await,
        Err(CloudError::ItemNotFound { .. })
    ));
}

#[tokio::test]
async fn scheduler_create_twice_is_already_exists() {
    let scheduler = scheduler(false).await;
    let group = scheduler.settings.group_name.clone();
    let at = Utc.with_ymd_and_hms(2030, 6, 1, 12, 30, 0).unwrap();
    let spec = ScheduleSpec {
        name: "once".to_string(),
        cadence: Cadence::Once { at },
        enabled: true,
    };
    scheduler.create(&spec).await.unwrap();
    match scheduler.create(&spec).await {
        Err(CloudError::AlreadyExists { what }) => assert!(what.contains("once"), "{what}"),
        other => panic!("expected AlreadyExists, got {other:?}"),
    }
    let got = scheduler
        .client
        .get_schedule()
        .group_name(&group)
        .name("once")
        .send()
        .await
        .unwrap();
    assert_eq!(got.schedule_expression(), Some("at(2030-06-01T12:30:00)"));
    let target = got.target().unwrap();
    assert!(target.dead_letter_config().is_none(), "no dead-letter queue configured");

    // Schedules of the same name in other groups are other schedules.
    let other = EventBridgeScheduler::new(
        &common::sdk_config().await,
        SchedulerSettings {
            group_name: common::unique("group"),
            ..scheduler.settings.clone()
        },
    );
    create_group(&other.client, &other.settings.group_name).await.unwrap();
    other.create(&spec).await.unwrap();

    let minutes = ScheduleSpec {
        name: "every-5".to_string(),
        cadence: Cadence::Minutes { minutes: 5 },
        enabled: true,
    };
    scheduler.create(&minutes).await.unwrap();
    let got = scheduler
        .client
        .get_schedule()
        .group_name(&group)
        .name("every-5")
        .send()
        .await
        .unwrap();
    assert_eq!(got.schedule_expression(), Some("cron(0/5 * * * ? *)"));
}

// ---- CloudWatch ----

#[tokio::test]
async fn cloudwatch_publishes_in_batches() {
    use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};

    let config = common::sdk_config().await;
    let sink = CloudWatchMetrics::new(&config);
    let namespace = format!("modelmon/test/{}", common::unique("ns"));
    // The schedule dimension is unique too: moto 5.2.5's GetMetricData drops the namespace filter
    // when a query has dimensions, so equal dimensions of another run would be counted.
    let schedule = common::unique("schedule");
    let base = Utc::now() - Duration::minutes(30);
    // 2,500 data points: 50 metrics (5 names x 50 features, name fixed by the feature), 50 points each.
    let data: Vec<MetricDatum> = (0..2500)
        .map(|i| MetricDatum {
            name: format!("feature_baseline_drift_{}", i % 5),
            dimensions: vec![
                ("MonitoringSchedule".to_string(), schedule.clone()),
                ("Feature".to_string(), format!("f{:02}", i % 50)),
            ],
            value: MetricValue::Value(i as f64),
            timestamp: base + Duration::seconds(i / 50),
        })
        .collect();
    sink.publish(&namespace, &data).await.unwrap();
    sink.publish(&namespace, &[]).await.unwrap();

    let mut pages = sink.client.list_metrics().namespace(&namespace).into_paginator().send();
    let mut metrics = BTreeSet::new();
    while let Some(page) = pages.next().await {
        for metric in page.unwrap().metrics() {
            let dimensions: Vec<(String, String)> = metric
                .dimensions()
                .iter()
                .map(|d| (d.name().unwrap().to_string(), d.value().unwrap().to_string()))
                .collect();
            metrics.insert((metric.metric_name().unwrap().to_string(), dimensions));
        }
    }
    let expected: BTreeSet<_> = data.iter().map(|d| (d.name.clone(), d.dimensions.clone())).collect();
    assert_eq!(expected.len(), 50);
    assert_eq!(metrics, expected);

    // One metric's 50 points, summed by GetMetricData: f07 has i = 7, 57, ..., 2457.
    let dimensions = [("MonitoringSchedule", schedule.as_str()), ("Feature", "f07")];
    let metric = Metric::builder()
        .namespace(&namespace)
        .metric_name("feature_baseline_drift_2")
        .set_dimensions(Some(
            dimensions
                .iter()
                .map(|(n, v)| Dimension::builder().name(*n).value(*v).build())
                .collect(),
        ))
        .build();
    let query = |id: &str, stat: &str| {
        MetricDataQuery::builder()
            .id(id)
            .metric_stat(
                MetricStat::builder()
                    .metric(metric.clone())
                    .period(3600)
                    .stat(stat)
                    .build(),
            )
            .build()
    };
    let to_smithy = |t: DateTime<Utc>| aws_smithy_types::DateTime::from_secs(t.timestamp());
    let result = sink
        .client
        .get_metric_data()
        .metric_data_queries(query("total", "Sum"))
        .metric_data_queries(query("count", "SampleCount"))
        .start_time(to_smithy(base - Duration::hours(2)))
        .end_time(to_smithy(base + Duration::hours(2)))
        .send()
        .await
        .unwrap();
    let sum_of = |id: &str| -> f64 {
        result
            .metric_data_results()
            .iter()
            .filter(|r| r.id() == Some(id))
            .flat_map(|r| r.values())
            .sum()
    };
    assert_eq!(sum_of("count"), 50.0);
    assert_eq!(sum_of("total"), (0..50).map(|k| (7 + 50 * k) as f64).sum::<f64>());
    // (ListMetrics' dimension filter is not checked here: moto 5.2.5 ignores it in awsQuery requests.)
}

// ---- CloudWatch Logs ----

#[tokio::test]
async fn cloudwatch_logs_makes_the_stream_and_keeps_the_lines_in_order() {
    let config = common::sdk_config().await;
    let log = CloudWatchJobLog::new(&config);
    let stream = format!("{}/algo-1-1795611600", common::unique("job"));
    let at = Utc.with_ymd_and_hms(2026, 11, 25, 13, 0, 0).unwrap();
    let line = |seconds: i64, message: &str| LogLine {
        time: at + Duration::seconds(seconds),
        message: message.into(),
    };
    log.append(&stream, &[line(0, "first"), line(1, "second")])
        .await
        .unwrap();
    log.append(&stream, &[line(2, "third")]).await.unwrap();
    log.append(&stream, &[]).await.unwrap();
    let events = log
        .client
        .get_log_events()
        .log_group_name(PROCESSING_JOBS_LOG_GROUP)
        .log_stream_name(&stream)
        .start_from_head(true)
        .send()
        .await
        .unwrap();
    let lines: Vec<(i64, &str)> = events
        .events()
        .iter()
        .map(|e| (e.timestamp().unwrap(), e.message().unwrap()))
        .collect();
    let ms = at.timestamp_millis();
    assert_eq!(lines, [(ms, "first"), (ms + 1000, "second"), (ms + 2000, "third")]);
}
