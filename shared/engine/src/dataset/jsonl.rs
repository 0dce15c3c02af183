//! JSON Lines files: one flat object per line; a bad line is rejected with its number.

use serde_json::{Map, Value};

use super::files::for_each_line;
use super::parts::{Part, PartContext, PartReader, PartResult};
use super::PROGRESS_EVERY;
use crate::profile::{DatasetProfile, RejectReason};
use crate::EngineError;

/// Reads the parts of JSON Lines sources (chunks of big ones: a JSON text holds no raw line
/// break, so every line start is a record start).
pub(crate) struct JsonLinesParts;

impl PartReader for JsonLinesParts {
    type Extra = ();

    fn read(
        &self,
        part: &Part,
        mut profile: DatasetProfile,
        context: &PartContext<'_>,
    ) -> Result<PartResult<()>, EngineError> {
        let name = context.sources[part.source].name();
        let lines = for_each_line(context, part, |line_number, line, bytes_read| {
            let text = match std::str::from_utf8(line) {
                Ok(text) => text,
                Err(err) => {
                    let offset = err.valid_up_to();
                    profile.records.reject(RejectReason::InvalidUtf8, || {
                        format!("{name}:{line_number}: invalid UTF-8 at byte {}", offset + 1)
                    });
                    return Ok(());
                }
            };
            match serde_json::from_str::<Map<String, Value>>(text) {
                Ok(record) => {
                    if let Err((reason, message)) = observe_json_record(&mut profile, &record) {
                        profile
                            .records
                            .reject(reason, || format!("{name}:{line_number}: {message}"));
                    }
                }
                Err(err) => profile.records.reject(RejectReason::MalformedJson, || {
                    format!("{name}:{line_number}: {}", json_error_message(&err))
                }),
            }
            if profile.records.read.is_multiple_of(PROGRESS_EVERY) {
                context.progress(bytes_read, profile.records.read);
            }
            Ok(())
        })?;
        if lines == 0 && part.chunks == 1 {
            profile.records.empty_files.push(name.to_string());
        }
        Ok(PartResult::new(profile, lines, ()))
    }
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
