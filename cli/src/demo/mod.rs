//! `modelmon demo`: the whole job on an embedded default, with no AWS and no input files:
//! a training set, its baseline, an hour of captured traffic with planted drift, the analysis.

pub mod capture;
pub mod data;

use std::path::PathBuf;
use std::time::Instant;

use chrono::{DateTime, Duration, TimeZone, Utc};
use clap::Args;
use modelmon_engine::analysis::{analyze, AnalysisRequest, Input, InputFormat};
use modelmon_engine::capture::Window;
use modelmon_engine::dataset::{profile_dataset, DatasetFormat, ReadOptions};

use crate::baseline::write_baseline;
use crate::{analyze as analyze_cmd, summary, write_file, CliError};
use data::Drift;

/// Training records in the demo's baseline, and invocations in its hour of traffic.
const TRAINING_ROWS: usize = 20_000;
const TRAFFIC_RECORDS: usize = 3_600;
const SEED: u64 = 20_261_125;
const SCHEDULE: &str = "churn-hourly";

/// What changed between training and the live hour: each one should be caught, and nothing else.
pub const PLANTED: Drift = Drift {
    spend_in_cents: true,
    shifted_plans: true,
    missing_charges: 0.08,
    age_as_text: 0.02,
};

#[derive(Args)]
pub struct DemoArgs {
    /// Where the demo writes its dataset, baseline, captured traffic and reports.
    #[arg(long, value_name = "DIR", default_value = "modelmon-demo")]
    output: PathBuf,
}

/// The hour the demo's traffic was captured (fixed, so every run gives the same reports).
pub fn traffic_hour() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 13, 0, 0)
        .single()
        .expect("a valid fixed date")
}

pub fn run(args: DemoArgs) -> Result<(), CliError> {
    let started = Instant::now();
    let dir = &args.output;
    println!("modelmon demo: a churn model's endpoint, monitored as SageMaker Model Monitor would, in seconds.\n");

    let training_path = dir.join("training/train.csv");
    write_file(&training_path, &data::training_csv(TRAINING_ROWS, SEED))?;
    println!(
        "1. Training data: {TRAINING_ROWS} records -> {}",
        training_path.display()
    );

    let profile = profile_dataset(&[training_path], DatasetFormat::Csv { header: true }, &mut |_| {})?;
    let baseline_dir = dir.join("baseline");
    let (baseline, constraints) = write_baseline(&profile, &baseline_dir)?;
    println!(
        "2. Baseline -> {}/statistics.json, constraints.json",
        baseline_dir.display()
    );
    print!("{}", indent(&summary::features(&baseline)));

    let start = traffic_hour();
    let window = Window {
        start,
        end: start + Duration::hours(1),
    };
    let capture_root = dir.join("datacapture");
    let files = capture::write_hour(&capture_root, start, TRAFFIC_RECORDS, PLANTED, SEED + 1)?;
    println!(
        "\n3. One hour of captured traffic ({} invocations, {} files) -> {}/{}/{}/",
        TRAFFIC_RECORDS,
        files.len(),
        capture_root.display(),
        capture::ENDPOINT,
        capture::VARIANT
    );
    println!("   planted: total_spend sent in cents (unit change), customers moving to the premium plan,");
    println!("   monthly_charges missing in 8% of requests, age sent as \"unknown\" in 2%; the rest unchanged.");

    let request = AnalysisRequest {
        input: Input::Paths(&[capture_root.join(capture::ENDPOINT)]),
        format: InputFormat::Capture,
        window: Some(window),
        baseline: &baseline,
        constraints: &constraints,
        read: ReadOptions::default(),
        preprocessor: None,
    };
    let analysis = analyze(&request, &mut |_| {})?;
    // SageMaker's layout: the run scheduled at 14:00 reports on 13:00-14:00 under hour 14.
    let report_dir = dir
        .join("reports")
        .join(capture::ENDPOINT)
        .join(SCHEDULE)
        .join(window.end.format("%Y/%m/%d/%H").to_string());
    analyze_cmd::write_outputs(&report_dir, &analysis)?;
    println!(
        "\n4. Analysis of [{}, {}) -> {}/",
        window.start.format("%H:%M"),
        window.end.format("%H:%M"),
        report_dir.display()
    );
    print!("{}", indent(&analyze_cmd::report(&analysis)));
    println!(
        "\nDone in {:.2} s. Rerun with the same data and you get the same reports.",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn indent(text: &str) -> String {
    text.lines().map(|line| format!("   {line}\n")).collect()
}
