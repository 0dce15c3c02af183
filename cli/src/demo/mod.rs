//! `modelmon demo`: the whole job on an embedded default, with no AWS and no input files:
//! a training set, its baseline, an hour of captured traffic with planted drift, the analysis.

pub mod capture;
pub mod data;

use std::fmt::Write;
use std::path::PathBuf;
use std::time::Instant;

use chrono::{DateTime, Duration, TimeZone, Utc};
use clap::Args;
use modelmon_engine::analysis::{analyze, AnalysisRequest, Input, InputFormat};
use modelmon_engine::capture::Window;
use modelmon_engine::dataset::{profile_dataset, DatasetFormat, ReadOptions};
use modelmon_report::RunContext;

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
    // The story of the run, printed after the page's path (the one thing to open).
    let mut story = String::new();

    let training_path = dir.join("training/train.csv");
    write_file(&training_path, data::training_csv(TRAINING_ROWS, SEED))?;
    let _ = writeln!(
        story,
        "1. Training data: {TRAINING_ROWS} records -> {}",
        training_path.display()
    );

    let format = DatasetFormat::Csv { header: true };
    let profile = profile_dataset(std::slice::from_ref(&training_path), format, &mut |_| {})?;
    let baseline_dir = dir.join("baseline");
    let dataset = vec![training_path.display().to_string()];
    let (baseline, constraints) = write_baseline(&profile, &baseline_dir, dataset, format)?;
    let _ = writeln!(
        story,
        "2. Baseline -> {}/statistics.json, constraints.json (page: report.html)",
        baseline_dir.display()
    );
    story.push_str(&indent(&summary::features(&baseline)));

    let start = traffic_hour();
    let window = Window {
        start,
        end: start + Duration::hours(1),
    };
    let capture_root = dir.join("datacapture");
    let files = capture::write_hour(&capture_root, start, TRAFFIC_RECORDS, PLANTED, SEED + 1)?;
    let _ = writeln!(
        story,
        "\n3. One hour of captured traffic ({} invocations, {} files) -> {}/{}/{}/",
        TRAFFIC_RECORDS,
        files.len(),
        capture_root.display(),
        capture::ENDPOINT,
        capture::VARIANT
    );
    story.push_str("   planted: total_spend sent in cents (unit change), customers moving to the premium plan,\n");
    story
        .push_str("   monthly_charges missing in 8% of requests, age sent as \"unknown\" in 2%; the rest unchanged.\n");

    let endpoint_root = capture_root.join(capture::ENDPOINT);
    let request = AnalysisRequest {
        input: Input::Paths(std::slice::from_ref(&endpoint_root)),
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
    let context = RunContext {
        schedule: Some(SCHEDULE.to_string()),
        endpoint: Some(capture::ENDPOINT.to_string()),
        scheduled_time: Some(window.end),
        window: Some(window.into()),
        baseline_statistics: Some(baseline_dir.join("statistics.json").display().to_string()),
        baseline_constraints: Some(baseline_dir.join("constraints.json").display().to_string()),
        inputs: vec![endpoint_root.display().to_string()],
        input_format: Some(analyze_cmd::input_format_name(InputFormat::Capture)),
    };
    let page = analyze_cmd::write_outputs(&report_dir, &analysis, &constraints, context)?;
    let _ = writeln!(
        story,
        "\n4. Analysis of [{}, {}) -> {}/",
        window.start.format("%H:%M"),
        window.end.format("%H:%M"),
        report_dir.display()
    );
    story.push_str(&indent(&analyze_cmd::report(&analysis)));

    println!("Open {} to see the report.\n", page.display());
    println!("modelmon demo: a churn model's endpoint, monitored as SageMaker Model Monitor would, in seconds.\n");
    print!("{story}");
    println!(
        "\nDone in {:.2} s. Rerun with the same data and you get the same reports. The page again from its JSON: \
         modelmon report {}",
        started.elapsed().as_secs_f64(),
        report_dir.display()
    );
    Ok(())
}

fn indent(text: &str) -> String {
    text.lines().map(|line| format!("   {line}\n")).collect()
}
