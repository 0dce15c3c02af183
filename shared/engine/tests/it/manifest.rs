//! Batch-transform capture: manifests list data files; back-to-back windows read each once.

use crate::common;

use common::write;

use chrono::{DateTime, Utc};
use modelmon_engine::capture::Window;
use modelmon_engine::dataset::manifest_data_files;

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

#[test]
fn back_to_back_windows_read_each_manifest_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    for name in ["a.csv", "b.csv", "c.csv"] {
        write(&data.join(name), "1,2\n");
    }
    let destination = dir.path().join("capture");
    let prefix = format!("file://{}/", data.display());
    write(
        &destination.join("input/2026/11/25/12/manifest-1.jsonl"),
        format!(r#"[{{"prefix": "{prefix}"}}, "a.csv"]"#),
    );
    write(
        &destination.join("input/2026/11/25/13/manifest-2.jsonl"),
        format!(r#"[{{"prefix": "{prefix}"}}, "b.csv", "c.csv"]"#),
    );
    let hour = |start: &str, end: &str| Window {
        start: utc(start),
        end: utc(end),
    };
    let twelve = manifest_data_files(
        std::slice::from_ref(&destination),
        Some(hour("2026-11-25T12:00:00Z", "2026-11-25T13:00:00Z")),
    )
    .unwrap();
    let thirteen = manifest_data_files(
        std::slice::from_ref(&destination),
        Some(hour("2026-11-25T13:00:00Z", "2026-11-25T14:00:00Z")),
    )
    .unwrap();
    assert_eq!(twelve, vec![data.join("a.csv")]);
    assert_eq!(
        thirteen,
        vec![data.join("b.csv"), data.join("c.csv")],
        "the 12:00 manifest is not read again"
    );
    let everything = manifest_data_files(&[destination], None).unwrap();
    assert_eq!(everything.len(), 3);
}
