//! Users' scripts through a [`ScriptRunner`]: a record preprocessor over many records, in
//! batches that fit the runner's payload limit; a post-analytics processor once after a
//! successful analysis.
//!
//! A batch is as many records as fit in the runner's payload limit (Lambda's 6 MB), up to
//! [`MAX_BATCH_RECORDS`]; several batches are in flight at once. An answer that would pass the
//! limit stops early, and the rest of its batch is sent again.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use modelmon_engine::analysis::InputFormat;
use modelmon_engine::dataset::DatasetFormat;
use modelmon_formats::scripts::{
    InputSource, PostprocessAnswer, PostprocessRequest, PreprocessAnswer, PreprocessRequest, Preprocessed, RecordError,
    RecordFormat, Script, ScriptInput,
};
use tokio::task::JoinSet;

use crate::ports::{ObjectStore, ScriptRunner};
use crate::{CloudError, ObjectUri};

/// Records per request at most, however small: bounds the work of one invocation (and so its
/// time against the function's timeout). BENCHMARKS.md has the measurements behind it.
pub const MAX_BATCH_RECORDS: usize = 10_000;

/// Bytes kept free below the runner's limit, in each request and answer, for what the protocol
/// and the Lambda runtime wrap around the payload.
const PAYLOAD_MARGIN: usize = 64 * 1024;

/// The longest script accepted (SageMaker's are single files of a few kilobytes).
pub const MAX_SCRIPT_BYTES: usize = 1024 * 1024;

/// How long a presigned URL for a post-analytics processor's input lives.
const INPUT_URL_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// What a record preprocessor's handler is given for input of `format`: SageMaker's record
/// object for capture, a CSV dataset's line, a JSON Lines dataset's value.
pub fn record_format(format: InputFormat) -> RecordFormat {
    match format {
        InputFormat::Capture => RecordFormat::Capture,
        InputFormat::Dataset(DatasetFormat::Csv { .. }) | InputFormat::BatchCapture(DatasetFormat::Csv { .. }) => {
            RecordFormat::Csv
        }
        InputFormat::Dataset(_) | InputFormat::BatchCapture(_) => RecordFormat::Json,
    }
}

/// The container's `dataset_format` variable for input of `format`, as a script sees it.
pub fn dataset_format_variable(format: InputFormat) -> String {
    let dataset = match format {
        InputFormat::Capture => {
            return r#"{"sagemakerCaptureJson": {"captureIndexNames": ["endpointInput", "endpointOutput"]}}"#.into()
        }
        InputFormat::Dataset(dataset) | InputFormat::BatchCapture(dataset) => dataset,
    };
    match dataset {
        DatasetFormat::Csv { header } => format!(r#"{{"csv": {{"header": {header}}}}}"#),
        DatasetFormat::JsonLines => r#"{"json": {"lines": true}}"#.into(),
        DatasetFormat::Parquet => r#"{"parquet": {}}"#.into(),
    }
}

/// A script from its bytes; `origin` names it in messages.
pub fn script_from_bytes(origin: &str, bytes: Vec<u8>) -> Result<Script, CloudError> {
    if bytes.len() > MAX_SCRIPT_BYTES {
        return Err(CloudError::Script(format!(
            "{origin}: the script is {} bytes; modelmon takes scripts of at most {MAX_SCRIPT_BYTES} bytes",
            bytes.len()
        )));
    }
    let source = String::from_utf8(bytes).map_err(|err| {
        CloudError::Script(format!(
            "{origin}: the script is not UTF-8 (byte {})",
            err.utf8_error().valid_up_to() + 1
        ))
    })?;
    Ok(Script {
        origin: origin.to_string(),
        source,
    })
}

/// The script at `uri` in `store`.
pub async fn load_script(store: &dyn ObjectStore, uri: &ObjectUri) -> Result<Script, CloudError> {
    let bytes = store.get(uri).await?;
    script_from_bytes(&uri.to_string(), bytes)
}

/// A record preprocessor (`preprocess_handler`) ready to run over records.
pub struct Preprocessor {
    scripts: Arc<dyn ScriptRunner>,
    script: Script,
    environment: BTreeMap<String, String>,
    format: RecordFormat,
}

impl Preprocessor {
    /// `environment` is what the script sees in `os.environ` besides the runner's own.
    pub fn new(
        scripts: Arc<dyn ScriptRunner>,
        script: Script,
        environment: BTreeMap<String, String>,
        format: RecordFormat,
    ) -> Preprocessor {
        Preprocessor {
            scripts,
            script,
            environment,
            format,
        }
    }

    pub fn script(&self) -> &Script {
        &self.script
    }

    /// The handler's outcome for each record, in order. An error means the script cannot run
    /// (it does not import, or lacks the handler), or the runner failed.
    pub async fn run(&self, records: &[&str]) -> Result<Vec<Preprocessed>, CloudError> {
        let limit = self.scripts.payload_limit().saturating_sub(PAYLOAD_MARGIN);
        let mut request = PreprocessRequest::new(&self.script, &self.environment, self.format);
        request.max_response_bytes = Some(limit);
        let mut outcomes: Vec<Option<Preprocessed>> = vec![None; records.len()];
        let mut queue = Vec::new();
        for batch in batches(records, &request, limit) {
            match batch {
                Batch::Send(range) => queue.push(range),
                Batch::TooLarge(i) => {
                    outcomes[i] = Some(Preprocessed::Raised(RecordError {
                        error_type: "RecordTooLarge".into(),
                        message: format!(
                            "the record is {} bytes; the script runner takes requests of at most {limit} bytes",
                            records[i].len()
                        ),
                        line: None,
                    }))
                }
            }
        }
        queue.reverse(); // popped from the end: first batch first
        let mut in_flight = JoinSet::new();
        let parallelism = self.scripts.parallelism().max(1);
        while !queue.is_empty() || !in_flight.is_empty() {
            while in_flight.len() < parallelism {
                let Some(range) = queue.pop() else { break };
                let body = request.write(records[range.clone()].iter().copied());
                let scripts = Arc::clone(&self.scripts);
                in_flight.spawn(async move { (range, scripts.answer(body).await) });
            }
            let Some(done) = in_flight.join_next().await else { break };
            let (range, answer) =
                done.map_err(|join| CloudError::Internal(format!("a preprocessor batch failed: {join}")))?;
            let answered = self.read_answer(&answer?)?;
            if answered.is_empty() || answered.len() > range.len() {
                return Err(CloudError::Script(format!(
                    "the script runner answered {} results for a batch of {} records",
                    answered.len(),
                    range.len()
                )));
            }
            let next = range.start + answered.len();
            for (slot, outcome) in outcomes[range.start..next].iter_mut().zip(answered) {
                *slot = Some(outcome);
            }
            if next < range.end {
                queue.push(next..range.end);
            }
        }
        Ok(outcomes
            .into_iter()
            .map(|outcome| outcome.expect("every record is answered or refused"))
            .collect())
    }

    fn read_answer(&self, body: &[u8]) -> Result<Vec<Preprocessed>, CloudError> {
        let answer: PreprocessAnswer = serde_json::from_slice(body).map_err(|err| protocol_error(body, &err))?;
        if let Some(failure) = answer.failure {
            return Err(CloudError::Script(format!(
                "the record preprocessor {} cannot run: {failure}",
                self.script.origin
            )));
        }
        answer.into_outcomes().map_err(CloudError::Script)
    }
}

/// The engine's side of a [`Preprocessor`]: the engine reads on a blocking thread and waits
/// here for each batch while the runtime runs it.
pub struct BlockingPreprocessor {
    preprocessor: Preprocessor,
    runtime: tokio::runtime::Handle,
}

impl BlockingPreprocessor {
    /// Its batches run on `runtime`; it must be called from outside it (a blocking thread).
    pub fn new(preprocessor: Preprocessor, runtime: tokio::runtime::Handle) -> BlockingPreprocessor {
        BlockingPreprocessor { preprocessor, runtime }
    }
}

impl modelmon_engine::preprocess::RecordPreprocessor for BlockingPreprocessor {
    fn origin(&self) -> &str {
        &self.preprocessor.script.origin
    }

    /// Enough records for a full batch on each request in flight.
    fn batch_records(&self) -> usize {
        MAX_BATCH_RECORDS * self.preprocessor.scripts.parallelism().max(1)
    }

    fn preprocess(&self, records: &[&str]) -> Result<Vec<Preprocessed>, String> {
        self.runtime
            .block_on(self.preprocessor.run(records))
            .map_err(|err| err.to_string())
    }
}

fn protocol_error(body: &[u8], err: &serde_json::Error) -> CloudError {
    let start: String = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
    CloudError::Script(format!(
        "the script runner's answer is not modelmon's protocol ({err}): {start}"
    ))
}

enum Batch {
    Send(Range<usize>),
    /// A record larger than a request can be.
    TooLarge(usize),
}

/// Consecutive records that fit in one request of at most `limit` bytes and
/// [`MAX_BATCH_RECORDS`] records.
fn batches(records: &[&str], request: &PreprocessRequest<'_>, limit: usize) -> Vec<Batch> {
    let room = limit.saturating_sub(request.overhead());
    let mut batches = Vec::new();
    let (mut start, mut used) = (0, 0);
    for (i, record) in records.iter().enumerate() {
        let size = request.record_size(record);
        if size > room {
            if start < i {
                batches.push(Batch::Send(start..i));
            }
            batches.push(Batch::TooLarge(i));
            (start, used) = (i + 1, 0);
            continue;
        }
        if used + size > room || i - start == MAX_BATCH_RECORDS {
            batches.push(Batch::Send(start..i));
            (start, used) = (i, 0);
        }
        used += size;
    }
    if start < records.len() {
        batches.push(Batch::Send(start..records.len()));
    }
    batches
}

/// A post-analytics processor (`postprocess_handler`).
pub struct PostAnalyticsProcessor {
    scripts: Arc<dyn ScriptRunner>,
    script: Script,
    environment: BTreeMap<String, String>,
}

/// A file the processor wrote under `output_path`: its path there (with `/`) and its bytes.
pub type WrittenFile = (String, Vec<u8>);

impl PostAnalyticsProcessor {
    pub fn new(
        scripts: Arc<dyn ScriptRunner>,
        script: Script,
        environment: BTreeMap<String, String>,
    ) -> PostAnalyticsProcessor {
        PostAnalyticsProcessor {
            scripts,
            script,
            environment,
        }
    }

    pub fn script(&self) -> &Script {
        &self.script
    }

    /// Runs the handler once. `inputs` are (path in the run's folder, object): the reports go
    /// under `output/`; `paths` names the environment variables that point into the folder
    /// (`output_path` -> `output`). The files it wrote under `output_path`, except its inputs.
    pub async fn run(
        &self,
        store: &dyn ObjectStore,
        inputs: &[(String, ObjectUri)],
        paths: BTreeMap<String, String>,
    ) -> Result<Vec<WrittenFile>, CloudError> {
        let mut given = Vec::new();
        for (path, uri) in inputs {
            let source = match store.presigned_get(uri, INPUT_URL_LIFETIME).await? {
                Some(url) => InputSource::Url(url),
                None => InputSource::Base64(base64::engine::general_purpose::STANDARD.encode(store.get(uri).await?)),
            };
            given.push(ScriptInput {
                path: path.clone(),
                source,
            });
        }
        self.run_with(given, paths).await
    }

    /// [`PostAnalyticsProcessor::run`] with its inputs at hand.
    pub async fn run_with(
        &self,
        given: Vec<ScriptInput>,
        paths: BTreeMap<String, String>,
    ) -> Result<Vec<WrittenFile>, CloudError> {
        let limit = self.scripts.payload_limit().saturating_sub(PAYLOAD_MARGIN);
        let request = PostprocessRequest {
            handler: "postprocess",
            script: &self.script,
            environment: &self.environment,
            inputs: given,
            paths,
            // The files come back in base64, a third larger.
            max_output_bytes: Some(limit / 4 * 3),
        };
        let body = serde_json::to_vec(&request).expect("a request serialises");
        let answer = self.scripts.answer(body).await?;
        let answer: PostprocessAnswer = serde_json::from_slice(&answer).map_err(|err| protocol_error(&answer, &err))?;
        if let Some(failure) = answer.failure {
            return Err(CloudError::Script(format!(
                "the post-analytics processor {} failed: {failure}",
                self.script.origin
            )));
        }
        answer
            .files
            .into_iter()
            .map(|file| {
                let safe = !file.path.is_empty()
                    && !file.path.starts_with('/')
                    && file.path.split('/').all(|s| !s.is_empty() && s != "." && s != "..");
                if !safe {
                    return Err(CloudError::Script(format!(
                        "the script runner returned a file named {:?}",
                        file.path
                    )));
                }
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(&file.base64)
                    .map_err(|err| CloudError::Script(format!("{}: not base64: {err}", file.path)))?;
                Ok((file.path, bytes))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request_parts() -> (Script, BTreeMap<String, String>) {
        let script = Script {
            origin: "pre.py".into(),
            source: String::new(),
        };
        (script, BTreeMap::new())
    }

    fn ranges(batches: &[Batch]) -> Vec<String> {
        batches
            .iter()
            .map(|b| match b {
                Batch::Send(r) => format!("{}..{}", r.start, r.end),
                Batch::TooLarge(i) => format!("too large {i}"),
            })
            .collect()
    }

    #[test]
    fn batches_fill_the_payload_and_refuse_what_cannot_fit() {
        let (script, environment) = request_parts();
        let request = PreprocessRequest::new(&script, &environment, RecordFormat::Json);
        let limit = request.overhead() + 3 * 11; // three records of ten bytes and a comma
        let ten = "[1,2,3,45]";
        let big = "[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30]";
        let records = [ten, ten, ten, ten, big, ten];
        assert_eq!(
            ranges(&batches(&records, &request, limit)),
            ["0..3", "3..4", "too large 4", "5..6"]
        );
        for range in [0..3, 3..4] {
            assert!(request.write(records[range].iter().copied()).len() <= limit);
        }
        assert!(batches(&[], &request, limit).is_empty());
    }

    #[test]
    fn batches_hold_at_most_max_batch_records() {
        let (script, environment) = request_parts();
        let request = PreprocessRequest::new(&script, &environment, RecordFormat::Json);
        let records = vec!["1"; MAX_BATCH_RECORDS * 2 + 1];
        let sizes: Vec<String> = ranges(&batches(&records, &request, usize::MAX / 2));
        let max = MAX_BATCH_RECORDS;
        assert_eq!(
            sizes,
            [
                format!("0..{max}"),
                format!("{max}..{}", 2 * max),
                format!("{}..{}", 2 * max, 2 * max + 1)
            ]
        );
    }

    #[test]
    fn scripts_must_be_utf8_and_not_huge() {
        let err = script_from_bytes("s3://b/pre.py", vec![b'a', 0xff]).unwrap_err();
        assert_eq!(err.to_string(), "s3://b/pre.py: the script is not UTF-8 (byte 2)");
        let err = script_from_bytes("big.py", vec![b'#'; MAX_SCRIPT_BYTES + 1]).unwrap_err();
        assert!(err.to_string().contains("modelmon takes scripts of at most"), "{err}");
        assert_eq!(
            script_from_bytes("ok.py", b"x = 1\n".to_vec()).unwrap().source,
            "x = 1\n"
        );
    }
}
