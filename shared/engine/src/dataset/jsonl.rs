//! JSON Lines files: one flat object per line; a bad line is rejected with its number.

use std::path::Path;

use serde_json::{Map, Value};

use super::files::for_each_line;
use super::{Reading, PROGRESS_EVERY};
use crate::profile::{DatasetProfile, RejectReason};
use crate::EngineError;

pub(crate) fn profile_jsonl_file(
    path: &Path,
    profile: &mut DatasetProfile,
    reading: &mut Reading<'_>,
) -> Result<(), EngineError> {
    let display = path.display();
    let lines = for_each_line(path, |line_number, line, bytes_read| {
        let text = match std::str::from_utf8(line) {
            Ok(text) => text,
            Err(err) => {
                let offset = err.valid_up_to();
                profile.records.reject(RejectReason::InvalidUtf8, || {
                    format!("{display}:{line_number}: invalid UTF-8 at byte {}", offset + 1)
                });
                return Ok(());
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
        Ok(())
    })?;
    if lines == 0 {
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
        profile.columns[i].observe_json(value);
    }
    profile.records.analysed_one();
    Ok(())
}
