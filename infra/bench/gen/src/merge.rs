//! `bench-merge CSV N...`: the cost of the fan-out's merge step (shared/cloud/src/run/fanout.rs)
//! as the number of partial profiles grows. Profiles the CSV once (the partial of one batch),
//! serializes it as the children write it, then for each N reads N such partials back
//! (serde_json) and merges them in order into the dataset's profile and its statistics, as the
//! merge step does. Prints one JSON line per N: the partial's size, and the seconds to parse,
//! to merge and in all. (The S3 GETs of the partials are not included: see BENCHMARKS.md.)

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use modelmon_engine::dataset::{profile_dataset, DatasetFormat};
use modelmon_engine::profile::DatasetProfile;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((csv, counts)) = args.split_first() else {
        eprintln!("usage: bench-merge CSV N...");
        return ExitCode::from(2);
    };
    let profile = match profile_dataset(&[PathBuf::from(csv)], DatasetFormat::Csv { header: true }, &mut |_| {}) {
        Ok(profile) => profile,
        Err(err) => {
            eprintln!("bench-merge: {err}");
            return ExitCode::FAILURE;
        }
    };
    let partial = serde_json::to_vec(&profile).expect("profiles serialize");
    for count in counts {
        let Ok(count) = count.parse::<usize>() else {
            eprintln!("bench-merge: {count:?} is not a number of partials");
            return ExitCode::from(2);
        };
        let (mut parse, mut merge) = (0.0, 0.0);
        let started = Instant::now();
        let mut merged = DatasetProfile::default();
        for _ in 0..count {
            let phase = Instant::now();
            let part: DatasetProfile = serde_json::from_slice(&partial).expect("a partial parses");
            parse += phase.elapsed().as_secs_f64();
            let phase = Instant::now();
            merged.merge(&part).expect("partials of one dataset merge");
            merge += phase.elapsed().as_secs_f64();
        }
        let statistics = merged.to_statistics().to_json();
        println!(
            "{{\"partials\": {count}, \"partial_bytes\": {}, \"parse_s\": {parse:.6}, \"merge_s\": {merge:.6}, \
             \"total_s\": {:.6}, \"statistics_bytes\": {}}}",
            partial.len(),
            started.elapsed().as_secs_f64(),
            statistics.len()
        );
    }
    ExitCode::SUCCESS
}
