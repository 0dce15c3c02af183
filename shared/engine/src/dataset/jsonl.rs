//! JSON Lines files: one flat object per line; a bad line is rejected with its number.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use serde_json::{Map, Value};

use super::{Reading, PROGRESS_EVERY};
use crate::profile::{DatasetProfile, RejectReason};
use crate::types::ValueKind;
use crate::EngineError;

pub(crate) fn profile_jsonl_file(
    path: &Path,
    profile: &mut DatasetProfile,
    reading: &mut Reading<'_>,
) -> Result<(), EngineError> {
    let file = File::open(path).map_err(|e| EngineError::io(path, e))?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut line = Vec::with_capacity(4096);
    let mut line_number = 0u64;
    let mut bytes_read = 0u64;
    let display = path.display();
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| EngineError::io(path, e))?;
        if n == 0 {
            break;
        }
        bytes_read += n as u64;
        line_number += 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        // A byte-order mark some editors put at the start of a file is not part of the record.
        let bytes = if line_number == 1 {
            line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&line)
        } else {
            &line
        };
        let text = match std::str::from_utf8(bytes) {
            Ok(text) => text,
            Err(err) => {
                let offset = err.valid_up_to();
                profile.records.reject(RejectReason::InvalidUtf8, || {
                    format!("{display}:{line_number}: invalid UTF-8 at byte {}", offset + 1)
                });
                continue;
            }
        };
        match serde_json::from_str::<Map<String, Value>>(text) {
            Ok(record) => {
                if let Err((reason, message)) = observe_json_record(profile, &record) {
                    profile
                        .records
                        .reject(reason, || format!("{display}:{line_number}: {message}"));
                }
            }
            Err(err) => profile.records.reject(RejectReason::MalformedJson, || {
                format!("{display}:{line_number}: {}", json_error_message(&err))
            }),
        }
        if profile.records.read.is_multiple_of(PROGRESS_EVERY) {
            reading.report(bytes_read, profile.records.read);
        }
    }
    if line_number == 0 {
        profile.records.empty_files.push(display.to_string());
    }
    Ok(())
}

/// serde_json's message without its own "at line 1 column N" (we name the real line).
pub(crate) fn json_error_message(err: &serde_json::Error) -> String {
    let message = err.to_string();
    match message.rfind(" at line ") {
        Some(cut) => format!("{} (column {})", &message[..cut], err.column()),
        None => message,
    }
}

/// Adds one flat JSON record to the profile, or says why it cannot be analysed (nothing is
/// recorded then: a record counts whole or not at all).
pub fn observe_json_record(
    profile: &mut DatasetProfile,
    record: &Map<String, Value>,
) -> Result<(), (RejectReason, String)> {
    if let Some((key, value)) = record.iter().find(|(_, v)| v.is_object() || v.is_array()) {
        let what = if value.is_object() { "an object" } else { "an array" };
        return Err((
            RejectReason::NestedValue,
            format!("field `{key}` holds {what}; only flat records are profiled (flatten it first)"),
        ));
    }
    for (key, value) in record {
        let i = profile.column_index(key);
        let column = &mut profile.columns[i];
        match value {
            Value::Null => {}
            Value::Bool(b) => column.observe_bool(*b),
            Value::Number(number) => {
                let kind = if number.is_f64() {
                    ValueKind::Fractional
                } else {
                    ValueKind::Integral
                };
                match number.as_f64().filter(|v| v.is_finite()) {
                    Some(v) => column.observe_number(v, kind),
                    None => column.observe_text(&number.to_string()),
                }
            }
            Value::String(text) => column.observe_text(text),
            Value::Array(_) | Value::Object(_) => {} // rejected above
        }
    }
    profile.records.analysed_one();
    Ok(())
}
