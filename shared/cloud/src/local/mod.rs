//! Adapters of the ports to the local machine, for `modelmon serve --state DIR`: the whole system
//! on a laptop, no AWS account needed.
//!
//! - [`FsObjectStore`]: objects as files, `s3://bucket/key` at `root/bucket/key`;
//! - [`FileTable`]: table items as JSON files, one per item, with conditional writes that hold
//!   across tasks and processes;
//! - [`LocalScheduler`]: timers in a JSON file; the serve loop polls [`LocalScheduler::due`];
//! - [`FileMetrics`]: metric data points appended to a JSON Lines file;
//! - [`InProcessLauncher`]: processing jobs run in a task of the serving process;
//! - [`FileJobLog`]: processing jobs' log lines in one file per stream.
//!
//! Every file is written to a temp file (`.modelmon-tmp-*`) beside it and renamed into place,
//! so readers never see half a file; writes that must not race take an OS file lock (`flock`),
//! which the OS releases when a process dies. The adapters do their file I/O on tokio's
//! blocking pool.

mod fsutil;
mod job_log;
mod launcher;
mod metrics;
mod scheduler;
mod store;
mod table;

pub use job_log::FileJobLog;
pub use launcher::InProcessLauncher;
pub use metrics::FileMetrics;
pub use scheduler::LocalScheduler;
pub use store::FsObjectStore;
pub use table::FileTable;
