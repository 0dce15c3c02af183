//! The fan-out's steps (run::fanout) against moto S3 through the real SDK client, as the
//! `BaselineFanOut` state machine runs them: the plan, the partial profiles of batches of many
//! objects (cut from the listing as the Map's ItemBatcher cuts it), the merge, and the failure
//! step. The state machine itself runs on moto's Step Functions in tests/test_fanout.py.

use crate::common;

use std::sync::Arc;

use modelmon_cloud::ports::ObjectStore;
use modelmon_cloud::run::fanout::{
    fail_fanout, merge_partials, plan_fanout, profile_batch, Batch, BatchInput, CaughtError, FanoutFailure, FanoutPlan,
    ListedObject, BATCH_BYTES,
};
use modelmon_cloud::run::{run_baseline, BaselineJob, BaselineOutputs};
use modelmon_cloud::{AllowedBuckets, CloudError, ObjectUri};
use modelmon_engine::random::SplitMix64;
use serde_json::Value;

use common::sdk_config;
use common::unique;
use modelmon_cloud::aws::S3Store;

async fn bucket() -> (Arc<dyn ObjectStore>, String) {
    let s3 = S3Store::new(&sdk_config().await);
    let bucket = unique("fanout");
    s3.client.create_bucket().bucket(&bucket).send().await.unwrap();
    (Arc::new(s3), bucket)
}

fn uri(bucket: &str, key: &str) -> ObjectUri {
    ObjectUri {
        bucket: bucket.to_string(),
        key: key.to_string(),
    }
}

/// `parts` CSV objects of `rows` seeded rows each under `data/` (plus a `_SUCCESS` marker, which
/// is not data), `age,income,plan`: enough rows for the KLL sketches to compact.
async fn dataset(store: &Arc<dyn ObjectStore>, bucket: &str, parts: usize, rows: usize) {
    let mut rng = SplitMix64::new(7);
    for part in 0..parts {
        let mut body = String::from("age,income,plan\n");
        for _ in 0..rows {
            let age = 18 + (rng.open01() * 60.0) as u32;
            let income = rng.normal() * 15_000.0 + 52_000.0;
            let plan = ["basic", "pro", "enterprise"][(rng.open01() * 3.0) as usize % 3];
            body.push_str(&format!("{age},{income:.2},{plan}\n"));
        }
        let key = format!("data/part-{part:05}.csv");
        store
            .put(&uri(bucket, &key), body.into_bytes(), "text/csv")
            .await
            .unwrap();
    }
    store
        .put(&uri(bucket, "data/_SUCCESS"), Vec::new(), "text/plain")
        .await
        .unwrap();
}

fn job(bucket: &str, output: &str) -> BaselineJob {
    BaselineJob {
        dataset_source: format!("s3://{bucket}/data"),
        dataset_format: r#"{"csv": {"header": true}}"#.into(),
        output_path: format!("s3://{bucket}/{output}"),
    }
}

/// The listing the Map's ItemReader makes (ListObjectsV2 of the plan's prefix), cut into
/// batches of `per_batch` objects as its ItemBatcher cuts it.
async fn batches(store: &Arc<dyn ObjectStore>, plan: &FanoutPlan, per_batch: usize) -> Vec<Batch> {
    let listing = store.list(&uri(&plan.bucket, &plan.prefix)).await.unwrap();
    let items: Vec<ListedObject> = listing
        .into_iter()
        .map(|o| ListedObject {
            key: o.uri.key,
            size: o.size,
        })
        .collect();
    items
        .chunks(per_batch)
        .map(|chunk| Batch {
            items: chunk.to_vec(),
            batch_input: BatchInput { plan: plan.clone() },
        })
        .collect()
}

/// The state machine's success path, with batches of `per_batch` objects profiled in reverse
/// order (the Map runs its children in any order).
async fn fan_out(store: &Arc<dyn ObjectStore>, job: &BaselineJob, per_batch: usize) -> (FanoutPlan, BaselineOutputs) {
    let allowed = AllowedBuckets::any();
    let plan = plan_fanout(store, &job.clone().into(), &unique("execution"), &allowed)
        .await
        .unwrap();
    for batch in batches(store, &plan, per_batch).await.iter().rev() {
        let outcome = profile_batch(store, batch, &allowed).await.unwrap();
        assert!(outcome.partial.starts_with(&plan.scratch), "{outcome:?}");
    }
    let outputs = merge_partials(store, &plan, &allowed).await.unwrap();
    (plan, outputs)
}

async fn json(store: &Arc<dyn ObjectStore>, uri: &str) -> Value {
    serde_json::from_slice(&store.get(&ObjectUri::parse(uri).unwrap()).await.unwrap()).unwrap()
}

/// Compares two statistics.json, exactly except where the order of merging may change the
/// last bits (sum, mean, std_dev: relative `float_tolerance`) or a KLL sketch's compactions
/// (the sketch's items and the buckets computed from them: every quantile within `rank_error`
/// of the other's rank). Returns the fields that differed at all.
fn assert_equivalent(single: &Value, merged: &Value, float_tolerance: f64, rank_error: f64) -> Vec<String> {
    let mut differed = Vec::new();
    assert_eq!(single["dataset"], merged["dataset"]);
    let (a, b) = (
        single["features"].as_array().unwrap(),
        merged["features"].as_array().unwrap(),
    );
    assert_eq!(a.len(), b.len());
    for (fa, fb) in a.iter().zip(b) {
        let name = fa["name"].as_str().unwrap();
        assert_eq!(fa["name"], fb["name"]);
        assert_eq!(fa["inferred_type"], fb["inferred_type"], "{name}");
        if fa.get("string_statistics").is_some() {
            assert_eq!(fa, fb, "{name}: string statistics are exact");
            continue;
        }
        let (na, nb) = (&fa["numerical_statistics"], &fb["numerical_statistics"]);
        for exact in ["common", "min", "max"] {
            assert_eq!(na[exact], nb[exact], "{name}.{exact}");
        }
        for close in ["mean", "sum", "std_dev"] {
            let (x, y) = (na[close].as_f64().unwrap(), nb[close].as_f64().unwrap());
            if x != y {
                differed.push(format!("{name}.{close}"));
            }
            assert!(
                (x - y).abs() <= float_tolerance * x.abs().max(1.0),
                "{name}.{close}: {x} and {y}"
            );
        }
        let (ka, kb) = (&na["distribution"]["kll"], &nb["distribution"]["kll"]);
        if ka != kb {
            differed.push(format!("{name}.distribution.kll"));
            let ranks = |kll: &Value| -> Vec<(f64, f64)> {
                // (value, weight) of the sketch's items, sorted.
                let mut items: Vec<(f64, f64)> = kll["sketch"]["data"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .enumerate()
                    .flat_map(|(level, values)| {
                        let weight = 2f64.powi(level as i32);
                        values
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(move |v| (v.as_f64().unwrap(), weight))
                    })
                    .collect();
                items.sort_by(|x, y| x.0.total_cmp(&y.0));
                items
            };
            let (ra, rb) = (ranks(ka), ranks(kb));
            let total: f64 = ra.iter().map(|i| i.1).sum();
            let rank = |items: &[(f64, f64)], value: f64| -> f64 {
                items.iter().take_while(|i| i.0 <= value).map(|i| i.1).sum::<f64>() / total
            };
            for &(value, _) in ra.iter().chain(&rb).step_by(7) {
                let (x, y) = (rank(&ra, value), rank(&rb, value));
                assert!((x - y).abs() <= rank_error, "{name}: rank of {value}: {x} and {y}");
            }
        }
    }
    differed
}

#[tokio::test]
async fn the_fan_out_of_batches_of_many_objects_equals_the_single_function() {
    let (store, bucket) = bucket().await;
    dataset(&store, &bucket, 12, 3000).await;
    let allowed = AllowedBuckets::any();
    let single = run_baseline(&store, &job(&bucket, "single"), &allowed, None)
        .await
        .unwrap();
    let single_stats = json(&store, &single.statistics).await;
    let single_constraints = json(&store, &single.constraints).await;
    for per_batch in [1, 5, 13] {
        let output = format!("fanout-{per_batch}");
        let (plan, merged) = fan_out(&store, &job(&bucket, &output), per_batch).await;
        assert_eq!(plan.objects, 12);
        assert_eq!(plan.prefix, "data/");
        assert_eq!(merged.records, single.records, "batches of {per_batch}");
        let merged_stats = json(&store, &merged.statistics).await;
        let differed = assert_equivalent(&single_stats, &merged_stats, 1e-12, 0.01);
        // Counts, min, max and the string columns are exact; so is everything in one batch.
        if per_batch == 13 {
            assert_eq!(merged_stats, single_stats);
        } else {
            assert!(differed.iter().all(|f| !f.starts_with("plan")), "{differed:?}");
        }
        assert_eq!(json(&store, &merged.constraints).await, single_constraints);
        // The scratch prefix is gone once merged.
        assert!(store
            .list(&ObjectUri::parse(&plan.scratch).unwrap())
            .await
            .unwrap()
            .is_empty());
    }
}

#[tokio::test]
async fn the_plan_batches_by_bytes() {
    let (store, bucket) = bucket().await;
    dataset(&store, &bucket, 3, 10).await;
    let plan = plan_fanout(&store, &job(&bucket, "out").into(), "run-1", &AllowedBuckets::any())
        .await
        .unwrap();
    assert_eq!((plan.bucket.as_str(), plan.objects), (bucket.as_str(), 3));
    assert!(!plan.single_object);
    // Small objects: the whole dataset is one function's worth, one batch.
    assert_eq!(plan.objects_per_batch, 3);
    assert!(plan.bytes > 0 && plan.bytes < BATCH_BYTES);
    assert_eq!(plan.scratch, format!("s3://{bucket}/out/_modelmon-fanout/run-1/"));
    let one = BaselineJob {
        dataset_source: format!("s3://{bucket}/data/part-00001.csv"),
        ..job(&bucket, "out")
    };
    let plan = plan_fanout(&store, &one.clone().into(), "run-2", &AllowedBuckets::any())
        .await
        .unwrap();
    assert_eq!(
        (plan.prefix.as_str(), plan.single_object, plan.objects),
        ("data/part-00001.csv", true, 1)
    );
    let empty = BaselineJob {
        dataset_source: format!("s3://{bucket}/nothing"),
        ..job(&bucket, "out")
    };
    let err = plan_fanout(&store, &empty.clone().into(), "run-3", &AllowedBuckets::any())
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("s3://{bucket}/nothing: no objects to baseline")
    );
}

#[tokio::test]
async fn bad_rows_in_one_batch_are_counted_in_the_merged_account() {
    let (store, bucket) = bucket().await;
    dataset(&store, &bucket, 4, 50).await;
    let bad = "age,income,plan\n40,2.5\n41,3.5,pro\n42,4.5,pro,extra\n";
    store
        .put(
            &uri(&bucket, "data/part-00002.csv"),
            bad.as_bytes().to_vec(),
            "text/csv",
        )
        .await
        .unwrap();
    let (_, merged) = fan_out(&store, &job(&bucket, "out"), 2).await;
    let records = &merged.records;
    assert_eq!(records.read, 3 * 50 + 3);
    assert_eq!(records.analysed, 3 * 50 + 1);
    assert_eq!(records.rejected_total(), 2);
    let examples: Vec<&String> = records.rejected.values().flat_map(|r| &r.examples).collect();
    let object = format!("s3://{bucket}/data/part-00002.csv");
    assert!(
        examples.iter().any(|e| e.starts_with(&format!("{object}:2:"))),
        "{examples:?}"
    );
    assert!(
        examples.iter().any(|e| e.starts_with(&format!("{object}:4:"))),
        "{examples:?}"
    );
    let single = run_baseline(&store, &job(&bucket, "single"), &AllowedBuckets::any(), None)
        .await
        .unwrap();
    assert_eq!(merged.records, single.records);
}

#[tokio::test]
async fn the_merge_refuses_a_dataset_not_profiled_exactly_once() {
    let (store, bucket) = bucket().await;
    dataset(&store, &bucket, 3, 10).await;
    let allowed = AllowedBuckets::any();
    let plan = plan_fanout(&store, &job(&bucket, "out").into(), "run", &allowed)
        .await
        .unwrap();
    // The listing in key order: data/_SUCCESS (a batch with no data), then the three parts.
    let batches = batches(&store, &plan, 1).await;
    assert_eq!(batches[0].items[0].key, "data/_SUCCESS");
    // The Map's listing missed an object (moto's ItemReader stops at 1,000): no baseline.
    profile_batch(&store, &batches[1], &allowed).await.unwrap();
    profile_batch(&store, &batches[3], &allowed).await.unwrap();
    let err = merge_partials(&store, &plan, &allowed).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "s3://{bucket}/data/part-00001.csv was not profiled: the fan-out profiled 2 of the dataset's 3 \
             objects (the Map's listing missed some, or the dataset changed during the baseline)"
        )
    );
    // An object in two batches.
    let mut twice = batches[2].clone();
    twice.items.push(batches[3].items[0].clone());
    profile_batch(&store, &twice, &allowed).await.unwrap();
    let err = merge_partials(&store, &plan, &allowed).await.unwrap_err();
    assert!(err.to_string().ends_with("was profiled twice"), "{err}");
    assert!(store.get(&uri(&bucket, "out/statistics.json")).await.is_err());
}

#[tokio::test]
async fn a_header_that_differs_between_batches_is_an_error_naming_both_objects() {
    let (store, bucket) = bucket().await;
    dataset(&store, &bucket, 2, 10).await;
    store
        .put(
            &uri(&bucket, "data/part-00001.csv"),
            b"age,salary,plan\n1,2,pro\n".to_vec(),
            "text/csv",
        )
        .await
        .unwrap();
    let allowed = AllowedBuckets::any();
    let plan = plan_fanout(&store, &job(&bucket, "out").into(), "run", &allowed)
        .await
        .unwrap();
    for batch in batches(&store, &plan, 1).await {
        profile_batch(&store, &batch, &allowed).await.unwrap();
    }
    let err = merge_partials(&store, &plan, &allowed).await.unwrap_err();
    let single = run_baseline(&store, &job(&bucket, "single"), &allowed, None)
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), single.to_string());
    assert!(err.to_string().contains("part-00001.csv"), "{err}");
}

#[tokio::test]
async fn a_failed_batch_fails_the_fan_out_with_its_reason_and_the_scratch_is_removed() {
    let (store, bucket) = bucket().await;
    dataset(&store, &bucket, 3, 10).await;
    let bad_header = b"age,\xff\xfe,plan\n1,2,pro\n".to_vec();
    store
        .put(&uri(&bucket, "data/part-00001.csv"), bad_header, "text/csv")
        .await
        .unwrap();
    let allowed = AllowedBuckets::any();
    let plan = plan_fanout(&store, &job(&bucket, "out").into(), "run", &allowed)
        .await
        .unwrap();
    let mut failures = Vec::new();
    for batch in batches(&store, &plan, 1).await {
        if let Err(err) = profile_batch(&store, &batch, &allowed).await {
            failures.push(err);
        }
    }
    assert_eq!(failures.len(), 1);
    let reason = failures[0].to_string();
    assert!(reason.contains("part-00001.csv"), "{reason}");
    let scratch = ObjectUri::parse(&plan.scratch).unwrap();
    assert!(!store.list(&scratch).await.unwrap().is_empty());
    // What Step Functions catches of a Distributed Map whose child failed.
    let failure = FanoutFailure {
        plan: Some(plan.clone()),
        error: Some(CaughtError {
            error: "States.ExceedToleratedFailureThreshold".into(),
            cause: "The specified tolerated failure threshold was exceeded".into(),
        }),
        processing_job: None,
    };
    let failed = fail_fanout(&store, &failure).await;
    assert!(matches!(failed, CloudError::Data(_)));
    assert_eq!(
        failed.to_string(),
        format!("the batch of 1 objects from s3://{bucket}/data/part-00001.csv failed: {reason}")
    );
    assert!(store.list(&scratch).await.unwrap().is_empty());
    // A batch that timed out or crashed noted nothing: the caught error, and what it means.
    assert_eq!(
        fail_fanout(&store, &failure).await.to_string(),
        "States.ExceedToleratedFailureThreshold: The specified tolerated failure threshold was exceeded: \
         no batch noted a failure of its own, so one timed out or its function crashed (the execution's \
         history in Step Functions names it)"
    );
    // Before a plan there is only the caught error to tell.
    let early = FanoutFailure {
        plan: None,
        error: Some(CaughtError {
            error: "JobFailed".into(),
            cause: r#"{"errorType":"JobFailed","errorMessage":"s3://b/none: no objects to baseline"}"#.into(),
        }),
        processing_job: None,
    };
    assert_eq!(
        fail_fanout(&store, &early).await.to_string(),
        "JobFailed: s3://b/none: no objects to baseline"
    );
}
