//! The work the scheduler and the baselining API start: one analysis run of a schedule, and one
//! baselining job. Both stream their input objects into the engine through the object store
//! (`objects`) and write their outputs back through the store.

mod analyze;
mod baseline;
mod objects;

pub use analyze::{AnalysisRunner, RunResult, RunSettings, RunTimings, ScheduledRun};
pub use baseline::{run_baseline, BaselineJob, BaselineOutputs};
pub use objects::{data_objects, engine_failure, object_sources, PARTS_AHEAD, PART_BYTES};
