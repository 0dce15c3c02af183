//! `modelmon demo`: the whole job on an embedded default, with no AWS and no input files.

pub mod data;

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use modelmon_engine::dataset::{profile_dataset, DatasetFormat};
use modelmon_engine::suggest::suggest_constraints;

use crate::{summary, write_file, CliError};

/// Training records in the demo's baseline.
const TRAINING_ROWS: usize = 20_000;
const SEED: u64 = 20_261_125;

#[derive(Args)]
pub struct DemoArgs {
    /// Where the demo writes its dataset, baseline and reports.
    #[arg(long, value_name = "DIR", default_value = "modelmon-demo")]
    output: PathBuf,
}

pub fn run(args: DemoArgs) -> Result<(), CliError> {
    let started = Instant::now();
    let dir = &args.output;
    println!("modelmon demo: a churn model's training data, baselined as SageMaker Model Monitor would.\n");

    let training_path = dir.join("training/train.csv");
    write_file(&training_path, &data::training_csv(TRAINING_ROWS, SEED))?;
    println!(
        "1. Generated {TRAINING_ROWS} training records: {}",
        training_path.display()
    );

    let profile = profile_dataset(&[training_path], DatasetFormat::Csv { header: true }, &mut |_| {})?;
    let statistics = profile.to_statistics();
    let constraints = suggest_constraints(&statistics);
    let baseline_dir = dir.join("baseline");
    write_file(&baseline_dir.join("statistics.json"), &statistics.to_json())?;
    write_file(&baseline_dir.join("constraints.json"), &constraints.to_json())?;
    println!(
        "2. Baseline: {}/statistics.json and constraints.json",
        baseline_dir.display()
    );
    print!("{}", summary::records(&profile.records));
    print!("{}", summary::features(&statistics));
    println!("\nDone in {:.2} s.", started.elapsed().as_secs_f64());
    Ok(())
}
