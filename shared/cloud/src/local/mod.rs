//! Adapters of the ports to the local machine, for `modelmon serve --state DIR`: the whole system
//! on a laptop, no AWS account needed.
//!
//! - [`FsObjectStore`]: objects as files, `s3://bucket/key` at `root/bucket/key`;
//! - [`FileTable`]: table items as JSON files, one per item, with conditional writes that hold
//!   across tasks and processes;
//! - [`LocalScheduler`]: timers in a JSON file; the serve loop polls [`LocalScheduler::due`];
//! - [`FileMetrics`]: metric data points appended to a JSON Lines file;
//! - [`InProcessLauncher`]: processing jobs run in a task of the serving process;
//! - [`FileJobLog`]: processing jobs' log lines in one file per stream;
//! - [`LocalPython`]: users' scripts run by this machine's Python 3.
//!
//! Every file is written to a temp file (`.modelmon-tmp-*`) beside it, flushed to disk and
//! renamed into place, and its folder flushed, before a write returns: readers never see half a
//! file, and an acknowledged write survives a crash of the process or of the machine. Writes
//! that must not race take an OS file lock (`flock`), which the OS releases when a process
//! dies. [`FileTable::check`] and [`LocalScheduler::check`] read everything back at start-up
//! and name what cannot be read. The adapters do their file I/O on tokio's blocking pool.

mod fsutil;
mod job_log;
mod launcher;
mod metrics;
mod scheduler;
mod scripts;
mod store;
mod table;

use std::collections::BTreeMap;

use crate::CloudError;

/// What a start-up check of local state found.
#[derive(Debug, Default)]
pub struct StateCheck {
    /// Readable entries by kind (`schedule`, `job-definition`, `execution`, `timer`).
    pub counts: BTreeMap<String, usize>,
    /// What could not be read back, each error naming its file and why. Such files are left in
    /// place and reported, never dropped.
    pub unreadable: Vec<CloudError>,
    /// Temp files of writes that a crash interrupted (never acknowledged), removed.
    pub temps_removed: usize,
}

pub use job_log::FileJobLog;
pub use launcher::InProcessLauncher;
pub use metrics::FileMetrics;
pub use scheduler::LocalScheduler;
pub use scripts::LocalPython;
pub use store::FsObjectStore;
pub use table::FileTable;
