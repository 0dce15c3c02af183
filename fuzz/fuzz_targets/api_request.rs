//! The API request decoder: the first byte picks one of the operations, the rest is the request
//! body. The body goes through validation alone, then through the whole HTTP edge
//! (`control::api::handle`) with a control plane on the local adapters, in a fresh folder per
//! input so that a crash reproduces from its input alone. Every response must be JSON, and every
//! error must carry `__type`.
#![no_main]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use modelmon_cloud::control::api::handle;
use modelmon_cloud::control::{ControlPlane, ControlSettings};
use modelmon_cloud::local::{FileTable, LocalScheduler};
use modelmon_fuzz::scratch;
use serde_json::Value;

fn operations() -> &'static [&'static str] {
    static NAMES: OnceLock<Vec<&'static str>> = OnceLock::new();
    NAMES.get_or_init(|| modelmon_formats::api::operation_names().collect())
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let operation = operations()[pick as usize % operations().len()];

    if let Ok(request) = serde_json::from_slice::<Value>(body) {
        let _ = modelmon_formats::api::validate_request(operation, &request);
    }

    static RUN: AtomicU64 = AtomicU64::new(0);
    let dir = scratch().join(format!("api-{}", RUN.fetch_add(1, Ordering::Relaxed)));
    let table = Arc::new(FileTable::new(dir.join("table")));
    let scheduler = Arc::new(LocalScheduler::new(dir.join("scheduler.json")));
    let settings = ControlSettings {
        region: "us-east-1".into(),
        account_id: "123456789012".into(),
        max_schedules: 3,
    };
    let plane = ControlPlane::new(table, scheduler, settings);
    let target = format!("SageMaker.{operation}");
    let response = runtime().block_on(handle(&plane, Some(&target), body));
    let _ = std::fs::remove_dir_all(&dir);

    let json: Value = serde_json::from_slice(&response.body).unwrap_or_else(|err| {
        panic!(
            "{operation}: response {} is not JSON ({err}): {}",
            response.status,
            String::from_utf8_lossy(&response.body)
        )
    });
    if response.status != 200 {
        assert!(
            json.get("__type").and_then(Value::as_str).is_some(),
            "{operation}: error {} without __type: {json}",
            response.status
        );
        assert!(
            response.error_type.is_some(),
            "{operation}: error without X-Amzn-ErrorType"
        );
    }
});
