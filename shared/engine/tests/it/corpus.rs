//! The bad-input corpus (`tests/corpus/` at the repository root, described in its README): one
//! test per input kind walks its folder, runs every case and checks its `.expect`. Adding a case
//! is adding two files. Every run that does not fail must account for every record it read
//! (read = analysed + rejected); every failure must be an error, never a panic.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use modelmon_engine::analysis::{analyze, Analysis, AnalysisRequest, Input, InputFormat};
use modelmon_engine::capture::Window;
use modelmon_engine::dataset::{profile_dataset, DatasetFormat, ReadOptions};
use modelmon_engine::profile::RecordAccount;
use modelmon_engine::suggest::suggest_constraints;
use modelmon_formats::{Constraints, Statistics};

/// The training data of the baseline that capture and analysed datasets are checked against:
/// `age` (Integral), `income` (Fractional), `plan` (String in {basic, pro}).
fn training_csv() -> String {
    let mut text = String::from("age,income,plan\n");
    for i in 0..200 {
        let plan = if i % 3 == 0 { "pro" } else { "basic" };
        text.push_str(&format!("{},{}.5,{plan}\n", 20 + i % 40, 1000 + 10 * i));
    }
    text
}

fn corpus_baseline() -> (Statistics, Constraints) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("train.csv");
    std::fs::write(&path, training_csv()).unwrap();
    let profile = profile_dataset(&[path], DatasetFormat::Csv { header: true }, &mut |_| {}).unwrap();
    let statistics = profile.to_statistics();
    let constraints = suggest_constraints(&statistics);
    (statistics, constraints)
}

fn corpus_dir(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/corpus")
        .join(kind)
}

// ---------------------------------------------------------------------------------------------
// Cases and expectations

/// One case: its name, its `.expect`, and its data files (`<name>.<suffix>`, by suffix).
struct Case {
    name: String,
    expect: Expect,
    files: Vec<(String, PathBuf)>,
}

impl Case {
    fn file(&self, suffix: &str) -> Option<&Path> {
        self.files.iter().find(|(s, _)| s == suffix).map(|(_, p)| p.as_path())
    }

    /// The one data file of the case, or where it would be (a case without one tests a missing
    /// file).
    fn only_file(&self, dir: &Path, default_suffix: &str) -> PathBuf {
        match self.files.as_slice() {
            [] => dir.join(format!("{}.{default_suffix}", self.name)),
            [(_, path)] => path.clone(),
            more => panic!("{}: more than one data file: {more:?}", self.name),
        }
    }
}

/// The cases of a corpus folder, in name order. Every file must belong to a case.
fn cases(kind: &str) -> Vec<Case> {
    let dir = corpus_dir(kind);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let case_names: Vec<String> = names
        .iter()
        .filter_map(|n| n.strip_suffix(".expect").map(String::from))
        .collect();
    let mut cases: Vec<Case> = case_names
        .iter()
        .map(|name| {
            let text = std::fs::read_to_string(dir.join(format!("{name}.expect"))).unwrap();
            Case {
                name: name.clone(),
                expect: Expect::parse(&text).unwrap_or_else(|e| panic!("{kind}/{name}.expect: {e}")),
                files: Vec::new(),
            }
        })
        .collect();
    for file in names.iter().filter(|n| !n.ends_with(".expect") && *n != "README.md") {
        let case = cases
            .iter_mut()
            .filter(|c| file.starts_with(&format!("{}.", c.name)))
            .max_by_key(|c| c.name.len())
            .unwrap_or_else(|| panic!("{kind}/{file} belongs to no case (no `<case>.expect` beside it)"));
        let suffix = file[case.name.len() + 1..].to_string();
        case.files.push((suffix, dir.join(file)));
    }
    assert!(!cases.is_empty(), "{}: no cases", dir.display());
    cases
}

/// A case's expectations, one per line: `key=value` pairs separated by blanks, or
/// `key~=text` (the rest of the line is a substring to find). `#` starts a comment line.
#[derive(Default)]
struct Expect {
    pairs: Vec<(String, String)>,
    contains: Vec<(String, String)>,
}

impl Expect {
    fn parse(text: &str) -> Result<Expect, String> {
        let mut expect = Expect::default();
        for line in text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let key_end = line.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'));
            if let Some(end) = key_end.filter(|&end| line[end..].starts_with("~=")) {
                expect
                    .contains
                    .push((line[..end].to_string(), line[end + 2..].to_string()));
                continue;
            }
            for token in line.split_whitespace() {
                let (key, value) = token
                    .split_once('=')
                    .ok_or_else(|| format!("`{token}` is not key=value"))?;
                expect.pairs.push((key.to_string(), value.to_string()));
            }
        }
        Ok(expect)
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    fn texts<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.contains
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn expects_error(&self) -> bool {
        self.texts("error").next().is_some()
    }

    /// Fails on keys this runner does not know (a typo must not make a case pass).
    fn only_keys(&self, known: &[&str]) -> Result<(), String> {
        let unknown: Vec<&str> = self
            .pairs
            .iter()
            .chain(&self.contains)
            .map(|(k, _)| k.as_str())
            .filter(|k| !known.contains(k))
            .collect();
        if unknown.is_empty() {
            Ok(())
        } else {
            Err(format!("unknown expectation keys {unknown:?} (known: {known:?})"))
        }
    }
}

/// Case data may write `{{repeat:N:text}}` (text up to the next `}}`, `{n}` in it replaced by
/// the repetition's index) for what is too big to keep in a file.
fn expand(bytes: &[u8]) -> Vec<u8> {
    const OPEN: &[u8] = b"{{repeat:";
    let mut out = Vec::with_capacity(bytes.len());
    let mut rest = bytes;
    while let Some(start) = find(rest, OPEN) {
        out.extend_from_slice(&rest[..start]);
        let after = &rest[start + OPEN.len()..];
        let colon = find(after, b":").expect("{{repeat:N:text}}: no `:` after N");
        let count: usize = std::str::from_utf8(&after[..colon])
            .unwrap()
            .parse()
            .expect("{{repeat:N:...: N");
        let body = &after[colon + 1..];
        let end = find(body, b"}}").expect("{{repeat:...: no closing `}}`");
        for i in 0..count {
            let text = String::from_utf8_lossy(&body[..end]).replace("{n}", &i.to_string());
            out.extend_from_slice(text.as_bytes());
        }
        rest = &body[end + 2..];
    }
    out.extend_from_slice(rest);
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The case's data, expanded, in a temporary folder under the same file name.
fn materialise(path: &Path, dir: &Path) -> PathBuf {
    let target = dir.join(path.file_name().unwrap());
    if let Ok(bytes) = std::fs::read(path) {
        std::fs::write(&target, expand(&bytes)).unwrap();
    }
    target
}

// ---------------------------------------------------------------------------------------------
// Checking results

/// What a case did: an error, or records (with the analysis when there was one).
enum Ran {
    Failed(String),
    Records(RecordAccount, Option<Box<Analysis>>),
}

fn check(case: &Case, ran: &Ran, file: &Path) -> Result<(), String> {
    let expect = &case.expect;
    let shown = file.display().to_string();
    let sub = |text: &str| text.replace("{file}", &shown);
    let (records, analysis) = match ran {
        Ran::Failed(message) => {
            if !expect.expects_error() {
                return Err(format!("failed: {message}"));
            }
            for text in expect.texts("error").map(sub) {
                if !message.contains(&text) {
                    return Err(format!("the error does not contain {text:?}: {message}"));
                }
            }
            return Ok(());
        }
        Ran::Records(records, analysis) => (records, analysis.as_deref()),
    };
    if expect.expects_error() {
        return Err(format!("expected an error, got records {records:?}"));
    }
    if records.read != records.analysed + records.rejected_total() {
        return Err(format!("read != analysed + rejected: {records:?}"));
    }
    let number = |key: &str, actual: u64| match expect.get(key) {
        Some(value) if value.parse::<u64>() != Ok(actual) => Err(format!("{key}: expected {value}, got {actual}")),
        _ => Ok(()),
    };
    number("read", records.read)?;
    number("analysed", records.analysed)?;
    number("rejected", records.rejected_total())?;
    number("empty_files", records.empty_files.len() as u64)?;
    if let Some(reasons) = expect.get("reason") {
        let expected: BTreeSet<&str> = reasons.split(',').filter(|r| *r != "none").collect();
        let actual: BTreeSet<String> = records
            .rejected
            .keys()
            .map(|r| serde_json::to_value(r).unwrap().as_str().unwrap().to_string())
            .collect();
        let actual: BTreeSet<&str> = actual.iter().map(String::as_str).collect();
        if expected != actual {
            return Err(format!("reasons: expected {expected:?}, got {actual:?}"));
        }
    }
    let examples: Vec<&String> = records.rejected.values().flat_map(|r| &r.examples).collect();
    for text in expect.texts("example").map(sub) {
        if !examples.iter().any(|e| e.contains(&text)) {
            return Err(format!("no rejection example contains {text:?}: {examples:#?}"));
        }
    }
    if let Some(analysis) = analysis {
        if let Some(outcome) = expect.get("outcome") {
            let actual = format!("{:?}", analysis.outcome);
            if outcome != actual {
                return Err(format!(
                    "outcome: expected {outcome}, got {actual} ({})",
                    analysis.exit_message
                ));
            }
        }
        if let Some(checks) = expect.get("violations") {
            let expected: BTreeSet<&str> = checks.split(',').filter(|c| *c != "none").collect();
            let violations = analysis.violations().violations;
            let actual: BTreeSet<&str> = violations.iter().map(|v| v.constraint_check_type.as_str()).collect();
            if expected != actual {
                return Err(format!("violations: expected {expected:?}, got {violations:#?}"));
            }
        }
        for text in expect.texts("violation") {
            let violations = analysis.violations().violations;
            if !violations.iter().any(|v| {
                format!(
                    "{} {}: {}",
                    v.feature_name,
                    v.constraint_check_type.as_str(),
                    v.description
                )
                .contains(text)
            }) {
                return Err(format!(
                    "no violation `feature check: description` contains {text:?}: {violations:#?}"
                ));
            }
        }
        if let Some(capture) = &analysis.capture {
            number("outside_window", capture.outside_window)?;
            number("shadow", capture.shadow_skipped)?;
        }
    } else if expect.get("outcome").is_some() || expect.get("violations").is_some() {
        return Err("outcome/violations expected, but the case was not analysed (mode=analyze)".into());
    }
    Ok(())
}

/// Runs `run` on every case of `kind` (catching panics) and fails listing every case that did
/// not meet its expectation.
fn run_corpus(kind: &str, known: &[&str], run: impl Fn(&Case, &Path) -> (Ran, PathBuf)) {
    const COMMON: &[&str] = &[
        "error",
        "read",
        "analysed",
        "rejected",
        "reason",
        "example",
        "empty_files",
        "outcome",
        "violations",
        "violation",
    ];
    let cases = cases(kind);
    let mut failures = Vec::new();
    for case in &cases {
        let keys: Vec<&str> = COMMON.iter().chain(known).copied().collect();
        if let Err(e) = case.expect.only_keys(&keys) {
            failures.push(format!("{kind}/{}: {e}", case.name));
            continue;
        }
        let dir = tempfile::tempdir().unwrap();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(case, dir.path())));
        let outcome = match result {
            Ok((ran, file)) => check(case, &ran, &file),
            Err(panic) => Err(format!(
                "panicked: {}",
                panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default()
            )),
        };
        if let Err(e) = outcome {
            failures.push(format!("{kind}/{}: {e}", case.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    eprintln!("{kind}: {} cases", cases.len());
}

fn analysed(result: Result<Analysis, modelmon_engine::EngineError>) -> Ran {
    match result {
        Ok(analysis) => Ran::Records(analysis.records.clone(), Some(Box::new(analysis))),
        Err(e) => Ran::Failed(e.to_string()),
    }
}

fn window(case: &Case) -> Option<Window> {
    let text = case.expect.get("window")?;
    let (start, end) = text.split_once('/').expect("window=START/END");
    let parse = |t: &str| chrono::DateTime::parse_from_rfc3339(t).unwrap().to_utc();
    Some(Window {
        start: parse(start),
        end: parse(end),
    })
}

// ---------------------------------------------------------------------------------------------
// The kinds

/// `capture/<case>.jsonl`: SageMaker capture files analysed against the corpus baseline.
#[test]
fn capture_corpus() {
    let (statistics, constraints) = corpus_baseline();
    let dir = corpus_dir("capture");
    run_corpus("capture", &["window", "outside_window", "shadow"], |case, tmp| {
        let file = materialise(&case.only_file(&dir, "jsonl"), tmp);
        let request = AnalysisRequest {
            input: Input::Paths(std::slice::from_ref(&file)),
            format: InputFormat::Capture,
            window: window(case),
            baseline: &statistics,
            constraints: &constraints,
            read: ReadOptions::default(),
            preprocessor: None,
        };
        (analysed(analyze(&request, &mut |_| {})), file)
    });
}

/// A dataset case: profiled as a baseline would be, or with `mode=analyze` checked against the
/// corpus baseline.
fn dataset_corpus(kind: &str, suffix: &str, format: impl Fn(&Case) -> DatasetFormat) {
    let (statistics, constraints) = corpus_baseline();
    let dir = corpus_dir(kind);
    run_corpus(kind, &["mode", "header"], |case, tmp| {
        let file = materialise(&case.only_file(&dir, suffix), tmp);
        let format = format(case);
        let paths = std::slice::from_ref(&file);
        let ran = match case.expect.get("mode") {
            None | Some("baseline") => match profile_dataset(paths, format, &mut |_| {}) {
                Ok(profile) => {
                    // What a baseline would write must be valid, readable JSON.
                    let json = profile.to_statistics().to_json();
                    Statistics::from_json_slice(json.as_bytes(), "written statistics").unwrap();
                    Ran::Records(profile.records, None)
                }
                Err(e) => Ran::Failed(e.to_string()),
            },
            Some("analyze") => analysed(analyze(
                &AnalysisRequest {
                    input: Input::Paths(paths),
                    format: InputFormat::Dataset(format),
                    window: None,
                    baseline: &statistics,
                    constraints: &constraints,
                    read: ReadOptions::default(),
                    preprocessor: None,
                },
                &mut |_| {},
            )),
            Some(other) => panic!("mode={other}: baseline or analyze"),
        };
        (ran, file)
    });
}

/// `dataset-csv/<case>.csv` (`header=false` for header-less data).
#[test]
fn dataset_csv_corpus() {
    dataset_corpus("dataset-csv", "csv", |case| DatasetFormat::Csv {
        header: case.expect.get("header") != Some("false"),
    });
}

/// `dataset-jsonl/<case>.jsonl`.
#[test]
fn dataset_jsonl_corpus() {
    dataset_corpus("dataset-jsonl", "jsonl", |_| DatasetFormat::JsonLines);
}

/// `baseline/<case>.statistics.json` and/or `<case>.constraints.json` (the corpus baseline's
/// file stands in for the one not given), read as a run reads them, then the corpus training data
/// (or `<case>.csv`, with a header) analysed against them.
#[test]
fn baseline_corpus() {
    let (statistics, constraints) = corpus_baseline();
    let dir = corpus_dir("baseline");
    run_corpus("baseline", &[], |case, tmp| {
        let mut shown = dir.join(&case.name);
        let statistics = match case.file("statistics.json") {
            Some(path) => {
                let file = materialise(path, tmp);
                shown = file.clone();
                match Statistics::from_json_slice(&std::fs::read(&file).unwrap(), &file.display().to_string()) {
                    Ok(s) => s,
                    Err(e) => return (Ran::Failed(e.to_string()), file),
                }
            }
            None => statistics.clone(),
        };
        let constraints = match case.file("constraints.json") {
            Some(path) => {
                let file = materialise(path, tmp);
                shown = file.clone();
                match Constraints::from_json_slice(&std::fs::read(&file).unwrap(), &file.display().to_string()) {
                    Ok(c) => c,
                    Err(e) => return (Ran::Failed(e.to_string()), file),
                }
            }
            None => constraints.clone(),
        };
        let data = match case.file("csv") {
            Some(path) => materialise(path, tmp),
            None => {
                let path = tmp.join("train.csv");
                std::fs::write(&path, training_csv()).unwrap();
                path
            }
        };
        let request = AnalysisRequest {
            input: Input::Paths(std::slice::from_ref(&data)),
            format: InputFormat::Dataset(DatasetFormat::Csv { header: true }),
            window: None,
            baseline: &statistics,
            constraints: &constraints,
            read: ReadOptions::default(),
            preprocessor: None,
        };
        (analysed(analyze(&request, &mut |_| {})), shown)
    });
}
