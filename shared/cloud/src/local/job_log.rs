//! [`JobLog`] into files: the stream `<job>/algo-1-<epoch>` is `dir/<job>/algo-1-<epoch>.log`,
//! one `<RFC 3339 time> <message>` line per log line.

use std::path::PathBuf;

use async_trait::async_trait;

use super::fsutil::{append, blocking};
use crate::ports::{JobLog, LogLine};
use crate::CloudError;

#[derive(Debug, Clone)]
pub struct FileJobLog {
    pub dir: PathBuf,
}

impl FileJobLog {
    pub fn new(dir: impl Into<PathBuf>) -> FileJobLog {
        FileJobLog { dir: dir.into() }
    }

    /// The stream's file; a segment that is not a plain name (`..`, empty) is refused.
    pub fn path_of(&self, stream: &str) -> Result<PathBuf, CloudError> {
        let plain = |segment: &str| {
            !segment.is_empty()
                && segment != "."
                && segment != ".."
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        };
        if !stream.split('/').all(plain) {
            return Err(CloudError::Validation(format!(
                "log stream name {stream:?} is not a plain path"
            )));
        }
        Ok(self.dir.join(format!("{stream}.log")))
    }
}

#[async_trait]
impl JobLog for FileJobLog {
    async fn append(&self, stream: &str, lines: &[LogLine]) -> Result<(), CloudError> {
        let path = self.path_of(stream)?;
        let mut text = String::new();
        for line in lines {
            let time = line.time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            text.push_str(&format!("{time} {}\n", line.message));
        }
        blocking(move || append(&path, text.as_bytes())).await
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use chrono::{TimeZone, Utc};

    use super::*;

    #[tokio::test]
    async fn lines_append_to_the_streams_file() {
        let dir = tempfile::tempdir().unwrap();
        let log = FileJobLog::new(dir.path());
        let at = Utc.with_ymd_and_hms(2026, 11, 25, 13, 0, 0).unwrap();
        let line = |message: &str| LogLine {
            time: at,
            message: message.into(),
        };
        log.append("job-1/algo-1-1795611600", &[line("started")]).await.unwrap();
        log.append("job-1/algo-1-1795611600", &[line("a"), line("b")])
            .await
            .unwrap();
        let text = fs::read_to_string(dir.path().join("job-1/algo-1-1795611600.log")).unwrap();
        assert_eq!(
            text,
            "2026-11-25T13:00:00.000Z started\n2026-11-25T13:00:00.000Z a\n2026-11-25T13:00:00.000Z b\n"
        );
        for bad in ["../x", "job//x", "job/./x", "a b"] {
            assert!(log.append(bad, &[line("no")]).await.is_err(), "{bad}");
        }
    }
}
