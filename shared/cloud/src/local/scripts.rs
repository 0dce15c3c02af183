//! [`ScriptRunner`] on this machine's Python 3: the runner of the scripts function
//! (`functions/scripts/runner.py`, built into modelmon) as worker processes, each answering one
//! request per line. A worker imports a script once and keeps it for the batches that follow;
//! up to one worker per core runs at a time. What scripts print or log goes to modelmon's stderr.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::ports::ScriptRunner;
use crate::CloudError;

/// The runner, the same file the scripts Lambda function deploys.
const RUNNER: &str = include_str!("../../../../functions/scripts/runner.py");

/// Requests up to this size are sent (no service limit applies here; this bounds memory).
const PAYLOAD_LIMIT: usize = 64 * 1024 * 1024;

/// Lines of a worker's stderr kept to explain its exit.
const STDERR_TAIL: usize = 20;

/// Python 3 worker processes for users' scripts.
#[derive(Clone)]
pub struct LocalPython {
    inner: Arc<Inner>,
}

struct Inner {
    python: OsString,
    /// Holds runner.py while modelmon runs.
    folder: tempfile::TempDir,
    idle: Mutex<Vec<Worker>>,
    parallelism: usize,
}

impl LocalPython {
    /// The Python of `MODELMON_PYTHON`, else `python3` from `PATH`. Nothing runs until the first
    /// request; a missing Python is an error then, naming what was looked for.
    pub fn from_env() -> Result<LocalPython, CloudError> {
        let python = std::env::var_os("MODELMON_PYTHON")
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "python3".into());
        LocalPython::new(python)
    }

    pub fn new(python: impl Into<OsString>) -> Result<LocalPython, CloudError> {
        let folder = tempfile::Builder::new()
            .prefix("modelmon-scripts-")
            .tempdir()
            .map_err(|e| CloudError::io(std::env::temp_dir(), e))?;
        let runner = folder.path().join("runner.py");
        std::fs::write(&runner, RUNNER).map_err(|e| CloudError::io(&runner, e))?;
        Ok(LocalPython {
            inner: Arc::new(Inner {
                python: python.into(),
                folder,
                idle: Mutex::new(Vec::new()),
                parallelism: std::thread::available_parallelism().map_or(1, |n| n.get()),
            }),
        })
    }

    /// Starts a worker now, so a missing or too old Python is reported before any work rather
    /// than at the first record; the Python's version.
    pub async fn check(&self) -> Result<String, CloudError> {
        let answer = self.answer(br#"{"handler":"ping"}"#.to_vec()).await?;
        let answer: serde_json::Value = serde_json::from_slice(&answer)
            .map_err(|err| CloudError::Script(format!("the script runner's answer to a ping is not JSON: {err}")))?;
        Ok(answer["python"].as_str().unwrap_or("unknown").to_string())
    }
}

#[async_trait]
impl ScriptRunner for LocalPython {
    fn payload_limit(&self) -> usize {
        PAYLOAD_LIMIT
    }

    fn parallelism(&self) -> usize {
        self.inner.parallelism
    }

    async fn answer(&self, request: Vec<u8>) -> Result<Vec<u8>, CloudError> {
        let inner = Arc::clone(&self.inner);
        blocking(move || {
            let idle = inner.idle.lock().expect("the worker list").pop();
            let mut worker = match idle {
                Some(worker) => worker,
                None => inner.spawn()?,
            };
            // A worker that failed is dropped (and so ended); a good one waits for the next call.
            let answer = worker.ask(&request)?;
            inner.idle.lock().expect("the worker list").push(worker);
            Ok(answer)
        })
        .await
    }
}

async fn blocking(work: impl FnOnce() -> Result<Vec<u8>, CloudError> + Send + 'static) -> Result<Vec<u8>, CloudError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|join| CloudError::Internal(format!("a script runner task failed: {join}")))?
}

impl Inner {
    fn spawn(&self) -> Result<Worker, CloudError> {
        let runner = self.folder.path().join("runner.py");
        let python = PathBuf::from(&self.python);
        let mut child = Command::new(&self.python)
            .arg(&runner)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|err| {
                if err.kind() == std::io::ErrorKind::NotFound {
                    CloudError::Config(format!(
                        "`{}` was not found: modelmon runs record preprocessor and post-analytics processor \
                         scripts with Python 3 (install it, or set MODELMON_PYTHON to its path)",
                        python.display()
                    ))
                } else {
                    CloudError::io(&python, err)
                }
            })?;
        let (Some(stdin), Some(stdout), Some(stderr)) = (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            unreachable!("all three are piped");
        };
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        let kept = Arc::clone(&tail);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                eprintln!("{line}");
                let mut kept = kept.lock().expect("the stderr tail");
                if kept.len() == STDERR_TAIL {
                    kept.pop_front();
                }
                kept.push_back(line);
            }
        });
        Ok(Worker {
            python,
            child,
            stdin,
            stdout: BufReader::new(stdout),
            tail,
        })
    }
}

struct Worker {
    python: PathBuf,
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    tail: Arc<Mutex<VecDeque<String>>>,
}

impl Worker {
    /// Sends one request (a line of JSON) and reads its answer.
    fn ask(&mut self, request: &[u8]) -> Result<Vec<u8>, CloudError> {
        let sent = self
            .stdin
            .write_all(request)
            .and_then(|()| self.stdin.write_all(b"\n"))
            .and_then(|()| self.stdin.flush());
        if sent.is_err() {
            return Err(self.exited());
        }
        let mut answer = Vec::new();
        match self.stdout.read_until(b'\n', &mut answer) {
            Ok(n) if n > 0 && answer.ends_with(b"\n") => {
                answer.pop();
                Ok(answer)
            }
            _ => Err(self.exited()),
        }
    }

    /// Why the worker stopped answering: its exit status and the end of its stderr.
    fn exited(&mut self) -> CloudError {
        let status = match self.child.wait() {
            Ok(status) => status.to_string(),
            Err(err) => format!("an unknown status ({err})"),
        };
        // Let the stderr thread read what the process wrote last.
        std::thread::sleep(std::time::Duration::from_millis(50));
        let tail: Vec<String> = self.tail.lock().expect("the stderr tail").iter().cloned().collect();
        let said = if tail.is_empty() {
            String::new()
        } else {
            format!(": {}", tail.join(" | "))
        };
        CloudError::Script(format!(
            "the script runner (`{}`) stopped with {status}{said}",
            self.python.display()
        ))
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // An idle runner exits when its stdin closes; one stuck in a script is ended.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
