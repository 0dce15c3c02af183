//! Shared set-up of the AWS adapter tests: they run against an emulator (moto server) that
//! infra/moto.sh starts, and fail, not skip, without one.

use std::sync::atomic::{AtomicUsize, Ordering};

// Only aws_faults uses the proxy; aws_stack and aws_faults the scenario.
#[allow(dead_code)]
pub mod fault_proxy;
#[allow(dead_code)]
pub mod scenario;

/// The SDK configuration for the emulator; panics (failing the test) outside `infra/test.sh`.
pub async fn sdk_config() -> aws_config::SdkConfig {
    if std::env::var("MODELMON_TEST_AWS").as_deref() != Ok("1") {
        panic!(
            "the AWS adapter tests need an AWS emulator: run them via infra/test.sh, or by hand with \
             `source infra/moto.sh && moto_start && cargo test -p modelmon-cloud --test it aws_` \
             (MODELMON_TEST_AWS=1 is not set)"
        );
    }
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
    assert!(
        endpoint.starts_with("http://127.0.0.1:") || endpoint.starts_with("http://localhost:"),
        "MODELMON_TEST_AWS=1 but AWS_ENDPOINT_URL ({endpoint:?}) is not a local emulator; \
         these tests create and delete resources, so they only run against one (infra/moto.sh)"
    );
    modelmon_cloud::aws::load_sdk_config().await
}

/// A new DynamoDB table (modelmon's layout) and EventBridge Scheduler group in the emulator.
pub async fn table_and_group(sdk: &aws_config::SdkConfig) -> (String, String) {
    let table_name = unique("table");
    modelmon_cloud::aws::create_table(&aws_sdk_dynamodb::Client::new(sdk), &table_name)
        .await
        .unwrap();
    let group = unique("group");
    modelmon_cloud::aws::create_group(&aws_sdk_scheduler::Client::new(sdk), &group)
        .await
        .unwrap();
    (table_name, group)
}

/// A name no other test (or earlier run against the same emulator) uses: lower case, digits and
/// '-', so it is valid for buckets, tables, groups, schedules and namespaces alike.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}-{}-{n}-{nanos:x}", std::process::id())
}
