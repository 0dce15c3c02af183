//! The work the scheduler and the baselining API start: one analysis run of a schedule, and one
//! baselining job. Both fetch their inputs through the object store into a scratch folder,
//! run the engine there, and write their outputs back through the store.

mod analyze;
mod baseline;
mod fetch;
pub mod scripts;

pub use analyze::{AnalysisRunner, RunResult, RunSettings, ScheduledRun};
pub use baseline::{run_baseline, BaselineJob, BaselineOutputs};
