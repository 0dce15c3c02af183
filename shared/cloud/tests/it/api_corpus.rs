//! The bad-input corpus's API requests (`tests/corpus/api/` at the repository root, described in
//! its README): `<Operation>.<case>.json` is sent as the body of `SageMaker.<Operation>` to the
//! control plane on the local adapters, and `<Operation>.<case>.expect` says what must come back
//! (`status=`, `type=`, `message~=`). A refused request must leave no trace: the table and the
//! scheduler hold exactly what they held before.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use modelmon_cloud::control::api::handle;
use modelmon_cloud::control::{ControlPlane, ControlSettings};
use modelmon_cloud::local::{FileTable, LocalScheduler};
use serde_json::Value;

/// `{{repeat:N:text}}` (text up to the next `}}`, `{n}` in it replaced by the index) stands for
/// what is too big to keep in a file.
fn expand(bytes: &[u8]) -> Vec<u8> {
    const OPEN: &[u8] = b"{{repeat:";
    let find = |haystack: &[u8], needle: &[u8]| haystack.windows(needle.len()).position(|w| w == needle);
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

/// Every file under `dir` with its contents: the state of the local adapters.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(dir: &Path, into: &mut BTreeMap<String, Vec<u8>>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, into);
            } else {
                into.insert(path.display().to_string(), std::fs::read(&path).unwrap());
            }
        }
    }
    let mut files = BTreeMap::new();
    walk(dir, &mut files);
    files
}

struct Expect {
    pairs: Vec<(String, String)>,
    messages: Vec<String>,
}

fn parse_expect(text: &str) -> Result<Expect, String> {
    let mut expect = Expect {
        pairs: Vec::new(),
        messages: Vec::new(),
    };
    for line in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        if let Some(message) = line.strip_prefix("message~=") {
            expect.messages.push(message.to_string());
            continue;
        }
        for token in line.split_whitespace() {
            let (key, value) = token
                .split_once('=')
                .ok_or_else(|| format!("`{token}` is not key=value"))?;
            if !["status", "type"].contains(&key) {
                return Err(format!("unknown key `{key}` (status=, type=, message~=)"));
            }
            expect.pairs.push((key.to_string(), value.to_string()));
        }
    }
    if !expect.pairs.iter().any(|(k, _)| k == "status") {
        return Err("no status=".into());
    }
    Ok(expect)
}

async fn run_case(operation: &str, body: &[u8], expect: &Expect) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let table = Arc::new(FileTable::new(dir.path().join("table")));
    let scheduler = Arc::new(LocalScheduler::new(dir.path().join("scheduler.json")));
    let settings = ControlSettings {
        region: "us-east-1".into(),
        account_id: "123456789012".into(),
        max_schedules: 3,
    };
    let plane = ControlPlane::new(table, scheduler, settings);
    let before = snapshot(dir.path());
    let response = handle(&plane, Some(&format!("SageMaker.{operation}")), body).await;
    let text = String::from_utf8_lossy(&response.body).into_owned();
    let json: Value =
        serde_json::from_slice(&response.body).map_err(|e| format!("the response is not JSON ({e}): {text}"))?;
    for (key, value) in &expect.pairs {
        let actual = match key.as_str() {
            "status" => response.status.to_string(),
            _ => json["__type"].as_str().unwrap_or("").to_string(),
        };
        if actual != *value {
            return Err(format!("{key}: expected {value}, got {actual}: {text}"));
        }
    }
    for message in &expect.messages {
        if !json["message"].as_str().unwrap_or("").contains(message.as_str()) {
            return Err(format!("the message does not contain {message:?}: {text}"));
        }
    }
    if response.status != 200 {
        if json["__type"] != response.error_type.as_deref().unwrap_or("") || !json["message"].is_string() {
            return Err(format!("an error must be {{\"__type\", \"message\"}}: {text}"));
        }
        let after = snapshot(dir.path());
        if after != before {
            let changed: Vec<&String> = after.keys().filter(|k| before.get(*k) != after.get(*k)).collect();
            return Err(format!("a refused request changed the state: {changed:?}"));
        }
    }
    Ok(())
}

#[tokio::test]
async fn api_corpus() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/corpus/api");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "README.md")
        .collect();
    names.sort();
    let mut failures = Vec::new();
    let mut count = 0;
    for name in &names {
        let Some(case) = name.strip_suffix(".expect") else {
            if !names.contains(&format!("{}.expect", name.strip_suffix(".json").unwrap_or(name))) {
                failures.push(format!("api/{name}: no `.expect` beside it"));
            }
            continue;
        };
        count += 1;
        let Some((operation, _)) = case.split_once('.') else {
            failures.push(format!("api/{name}: not `<Operation>.<case>.expect`"));
            continue;
        };
        let expect = match parse_expect(&std::fs::read_to_string(dir.join(name)).unwrap()) {
            Ok(expect) => expect,
            Err(e) => {
                failures.push(format!("api/{name}: {e}"));
                continue;
            }
        };
        // A case without a body sends none (an empty body is `{}`).
        let body = std::fs::read(dir.join(format!("{case}.json")))
            .map(|b| expand(&b))
            .unwrap_or_default();
        let operation = operation.to_string();
        // A panic in the handler fails this case, not the whole corpus.
        let result = tokio::spawn(async move { run_case(&operation, &body, &expect).await }).await;
        match result {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failures.push(format!("api/{case}: {e}")),
            Err(e) => failures.push(format!("api/{case}: panicked: {e}")),
        }
    }
    assert!(count > 0, "{}: no cases", dir.display());
    assert!(
        failures.is_empty(),
        "{} of {count} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    eprintln!("api: {count} cases");
}
