//! The demo's live traffic: one hour of SageMaker data capture, in SageMaker's layout.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use super::data::{csv_line, record, Drift, Rng};
use crate::{write_file, CliError};

pub const ENDPOINT: &str = "churn-endpoint";
pub const VARIANT: &str = "AllTraffic";

/// Capture files roll every few minutes, named after their first record as SageMaker does.
const FILE_MINUTES: i64 = 5;

/// Writes `records` invocations spread evenly over `[start, start + 1h)` under
/// `{root}/{endpoint}/{variant}/yyyy/mm/dd/hh/`, plus a few records just before the hour (outside
/// the window), two shadow-variant records and two broken lines. Returns the files written.
pub fn write_hour(
    root: &Path,
    start: DateTime<Utc>,
    records: usize,
    drift: Drift,
    seed: u64,
) -> Result<Vec<PathBuf>, CliError> {
    let mut rng = Rng::new(seed);
    let mut files: Vec<(DateTime<Utc>, Vec<String>)> = Vec::new();
    // The previous hour's last file: records the window must leave out.
    let before = start - Duration::seconds(30);
    files.push((
        before,
        (0..3)
            .map(|i| capture_line(&mut rng, before + Duration::seconds(i), drift, None))
            .collect(),
    ));
    let step = 3600.0 / records as f64;
    for i in 0..records {
        let time = start + Duration::milliseconds((i as f64 * step * 1000.0) as i64);
        let file_start = start + Duration::minutes((time - start).num_minutes() / FILE_MINUTES * FILE_MINUTES);
        if files.last().map(|(t, _)| *t) != Some(file_start) {
            files.push((file_start, Vec::new()));
        }
        let source = (i % 1500 == 7).then_some("ShadowExperiment");
        let line = capture_line(&mut rng, time, drift, source);
        files.last_mut().expect("a file was just pushed").1.push(line);
    }
    // What a truncated upload or a misbehaving client leaves behind: counted, never fatal.
    if let Some((_, lines)) = files.get_mut(3) {
        lines.push(
            r#"{"captureData":{"endpointInput":{"observedContentType":"text/csv","mode":"INPUT","data":"#.to_string(),
        );
        lines.push(
            json!({
                "captureData": {
                    "endpointInput": {"observedContentType": "text/csv", "mode": "INPUT", "data": "%%%not-base64%%%", "encoding": "BASE64"},
                    "endpointOutput": {"observedContentType": "text/csv", "mode": "OUTPUT", "data": "MC41", "encoding": "BASE64"}
                },
                "eventMetadata": {"eventId": "broken-1", "inferenceTime": (start + Duration::minutes(16)).format("%Y-%m-%dT%H:%M:%SZ").to_string()},
                "eventVersion": "0"
            })
            .to_string(),
        );
    }
    let mut written = Vec::new();
    for (file_start, lines) in files {
        let path = root
            .join(ENDPOINT)
            .join(VARIANT)
            .join(file_start.format("%Y/%m/%d/%H").to_string())
            .join(format!(
                "{}-{:08x}.jsonl",
                file_start.format("%M-%S-%3f"),
                rng.next_u64() as u32
            ));
        write_file(&path, &(lines.join("\n") + "\n"))?;
        written.push(path);
    }
    Ok(written)
}

/// One invocation: the features as the CSV request body, the score as the CSV response.
fn capture_line(rng: &mut Rng, time: DateTime<Utc>, drift: Drift, invocation_source: Option<&str>) -> String {
    let fields = record(rng, drift);
    let (output, input) = fields.split_at(1);
    let mut metadata = json!({
        "eventId": format!("{:016x}{:016x}", rng.next_u64(), rng.next_u64()),
        "inferenceTime": time.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
    });
    if let Some(source) = invocation_source {
        metadata["invocationSource"] = json!(source);
    }
    json!({
        "captureData": {
            "endpointInput": {"observedContentType": "text/csv", "mode": "INPUT", "data": csv_line(input), "encoding": "CSV"},
            "endpointOutput": {"observedContentType": "text/csv; charset=utf-8", "mode": "OUTPUT", "data": csv_line(output), "encoding": "CSV"}
        },
        "eventMetadata": metadata,
        "eventVersion": "0"
    })
    .to_string()
}
