//! `--record-preprocessor` and `--post-analytics-processor` of `modelmon analyze` and
//! `modelmon baseline`: the users' scripts on this machine's Python 3, through the runner the
//! scripts Lambda function runs (modelmon_cloud's `LocalPython`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use modelmon_cloud::local::LocalPython;
use modelmon_cloud::ports::ScriptRunner;
use modelmon_cloud::run::scripts::{script_from_bytes, BlockingPreprocessor, PostAnalyticsProcessor, Preprocessor};
use modelmon_formats::scripts::{InputSource, RecordFormat, Script, ScriptInput};

use crate::CliError;

/// A runtime and the local Python workers, started when a command names a script.
pub struct LocalScripts {
    runtime: tokio::runtime::Runtime,
    python: Arc<LocalPython>,
}

impl LocalScripts {
    /// Starts a worker at once, so a missing Python is said before any record is read.
    pub fn start() -> Result<LocalScripts, CliError> {
        let runtime =
            tokio::runtime::Runtime::new().map_err(|e| CliError::Usage(format!("cannot start tokio: {e}")))?;
        let python = Arc::new(LocalPython::from_env().map_err(CliError::Script)?);
        runtime.block_on(python.check()).map_err(CliError::Script)?;
        Ok(LocalScripts { runtime, python })
    }

    /// The record preprocessor at `path`, for the engine, its records being `format`.
    pub fn preprocessor(&self, path: &Path, format: RecordFormat) -> Result<BlockingPreprocessor, CliError> {
        let runner: Arc<dyn ScriptRunner> = self.python.clone();
        let preprocessor = Preprocessor::new(runner, read_script(path)?, BTreeMap::new(), format);
        Ok(BlockingPreprocessor::new(preprocessor, self.runtime.handle().clone()))
    }

    /// Runs the post-analytics processor at `path` on the reports in `output` (statistics.json,
    /// constraint_violations.json, report.json) with `environment`, and writes the files it wrote
    /// under `output_path` into `output`. Their names.
    pub fn post_analytics(
        &self,
        path: &Path,
        output: &Path,
        baseline: [(&str, &Path); 2],
        environment: BTreeMap<String, String>,
    ) -> Result<Vec<String>, CliError> {
        let mut inputs = Vec::new();
        let mut paths = BTreeMap::from([("output_path".to_string(), "output".to_string())]);
        for name in ["statistics.json", "constraint_violations.json", "report.json"] {
            let file = output.join(name);
            if file.exists() {
                inputs.push(input(&format!("output/{name}"), &file)?);
            }
        }
        for (variable, file) in baseline {
            let name = format!("baseline/{variable}.json");
            inputs.push(input(&name, file)?);
            paths.insert(variable.to_string(), name);
        }
        let runner: Arc<dyn ScriptRunner> = self.python.clone();
        let processor = PostAnalyticsProcessor::new(runner, read_script(path)?, environment);
        let files = self
            .runtime
            .block_on(processor.run_with(inputs, paths))
            .map_err(CliError::Script)?;
        let mut names = Vec::new();
        for (name, bytes) in files {
            let target = output.join(&name);
            if let Some(folder) = target.parent() {
                std::fs::create_dir_all(folder).map_err(|source| CliError::Write {
                    path: folder.to_path_buf(),
                    source,
                })?;
            }
            std::fs::write(&target, bytes).map_err(|source| CliError::Write { path: target, source })?;
            names.push(name);
        }
        Ok(names)
    }
}

fn read_script(path: &Path) -> Result<Script, CliError> {
    let bytes = std::fs::read(path).map_err(|source| CliError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    script_from_bytes(&path.display().to_string(), bytes).map_err(CliError::Script)
}

fn input(name: &str, file: &Path) -> Result<ScriptInput, CliError> {
    let bytes = std::fs::read(file).map_err(|source| CliError::Read {
        path: PathBuf::from(file),
        source,
    })?;
    Ok(ScriptInput {
        path: name.to_string(),
        source: InputSource::Base64(base64::engine::general_purpose::STANDARD.encode(bytes)),
    })
}
