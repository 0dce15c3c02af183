//! The work the scheduler and the baselining API start: one analysis run of a schedule, and one
//! baselining job (directly, or as a processing job with its lifecycle). Both stream their input
//! objects into the engine through the object store (`objects`) and write their outputs back
//! through the store.

mod analyze;
mod baseline;
pub mod execution_job;
pub mod fanout;
mod objects;
mod processing;
pub mod scripts;

pub use analyze::{AnalysisRunner, RunResult, RunSettings, RunTimings, ScheduledRun};
pub use baseline::{run_baseline, run_baseline_with, BaselineJob, BaselineOptions, BaselineOutputs};
pub use objects::{data_objects, engine_failure, object_sources, PARTS_AHEAD, PART_BYTES};
pub use processing::{
    FanoutSettings, JobRunResult, JobRunSettings, ProcessingJobRunner, DEFAULT_FANOUT_THRESHOLD_BYTES,
};

/// SageMaker's ExitMessage and FailureReason hold at most 1,024 characters.
fn truncate(text: &str) -> String {
    const LIMIT: usize = 1024;
    if text.chars().count() <= LIMIT {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(LIMIT - 3).collect();
    cut.push_str("...");
    cut
}
