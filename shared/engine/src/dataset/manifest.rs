//! Batch-transform data capture: under a capture destination, `input/yyyy/mm/dd/hh/` holds
//! manifest files listing the data files a transform job read:
//! `[{"prefix": "s3://bucket/data/"}, "part-0.csv", "part-1.csv"]`.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::capture::{list_hour_files, Window};
use crate::EngineError;

/// The data files listed by the manifests under `destinations` (their `input/` folders when
/// present), manifests taken from the window's own hour folders when a window is given.
pub fn manifest_data_files(destinations: &[PathBuf], window: Option<Window>) -> Result<Vec<PathBuf>, EngineError> {
    let roots: Vec<PathBuf> = destinations
        .iter()
        .map(|root| {
            if root.join("input").is_dir() {
                root.join("input")
            } else {
                root.clone()
            }
        })
        .collect();
    let mut files = Vec::new();
    for manifest in list_hour_files(&roots, window.map(|w| w.own_hour_folders()))? {
        let text = std::fs::read_to_string(&manifest).map_err(|e| EngineError::io(&manifest, e))?;
        files.extend(parse_manifest(&text, &manifest, &|prefix, name| {
            local_prefix(prefix).map(|base| base.join(name))
        })?);
    }
    Ok(files)
}

/// The data files one manifest lists (a JSON array, or one JSON array per line), each made from
/// its array's prefix and its name by `locate` (a local path here; an S3 URI in the cloud layer).
pub fn parse_manifest<T>(
    text: &str,
    manifest: &Path,
    locate: &dyn Fn(&str, &str) -> Result<T, String>,
) -> Result<Vec<T>, EngineError> {
    let arrays: Vec<(u64, Value)> = match serde_json::from_str::<Value>(text) {
        Ok(value) => vec![(1, value)],
        Err(_) => text
            .lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty())
            .map(|(i, line)| {
                serde_json::from_str(line)
                    .map(|v| (i as u64 + 1, v))
                    .map_err(|err| EngineError::Manifest {
                        path: manifest.to_path_buf(),
                        line: i as u64 + 1,
                        message: crate::dataset::json_error_message(&err),
                    })
            })
            .collect::<Result<_, _>>()?,
    };
    let mut files = Vec::new();
    for (line, array) in arrays {
        let bad = |message: &str| EngineError::Manifest {
            path: manifest.to_path_buf(),
            line,
            message: message.to_string(),
        };
        let items = array.as_array().ok_or_else(|| bad("a manifest is a JSON array"))?;
        let (first, names) = items.split_first().ok_or_else(|| bad("the manifest is empty"))?;
        let prefix = first
            .get("prefix")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("the first element must be {\"prefix\": \"...\"}"))?;
        for name in names {
            let name = name.as_str().ok_or_else(|| bad("data file names must be strings"))?;
            files.push(locate(prefix, name).map_err(|message| bad(&message))?);
        }
    }
    Ok(files)
}

/// A manifest prefix as a local folder. `s3://` prefixes are read by the cloud layer, which
/// downloads the listed objects first.
fn local_prefix(prefix: &str) -> Result<PathBuf, String> {
    if prefix.starts_with("s3://") {
        return Err(format!(
            "prefix {prefix} is in S3: the local engine reads local files (file:// or a path)"
        ));
    }
    Ok(PathBuf::from(prefix.strip_prefix("file://").unwrap_or(prefix)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_local(text: &str, manifest: &Path) -> Result<Vec<PathBuf>, EngineError> {
        parse_manifest(text, manifest, &|prefix, name| {
            local_prefix(prefix).map(|base| base.join(name))
        })
    }

    #[test]
    fn manifests_list_files_under_their_prefix() {
        let files = parse_local(
            r#"[{"prefix": "file:///data/in/"}, "a.csv", "b.csv"]"#,
            Path::new("m.jsonl"),
        )
        .unwrap();
        assert_eq!(
            files,
            vec![PathBuf::from("/data/in/a.csv"), PathBuf::from("/data/in/b.csv")]
        );
        let lines = "[{\"prefix\": \"/x\"}, \"1.csv\"]\n[{\"prefix\": \"/y\"}, \"2.csv\"]\n";
        let files = parse_local(lines, Path::new("m.jsonl")).unwrap();
        assert_eq!(files, vec![PathBuf::from("/x/1.csv"), PathBuf::from("/y/2.csv")]);
    }

    #[test]
    fn bad_manifests_say_what_is_wrong() {
        let err = parse_local(r#"[{"prefix": "s3://b/k/"}, "a.csv"]"#, Path::new("m.jsonl")).unwrap_err();
        assert!(
            err.to_string().contains("m.jsonl: line 1: prefix s3://b/k/ is in S3"),
            "{err}"
        );
        let err = parse_local(r#"["a.csv"]"#, Path::new("m.jsonl")).unwrap_err();
        assert!(err.to_string().contains("first element"), "{err}");
        let err = parse_local("[{\"prefix\": \"/x\"}]\n{oops\n", Path::new("m.jsonl")).unwrap_err();
        assert!(err.to_string().starts_with("m.jsonl: line 2:"), "{err}");
    }
}
