//! SageMaker data capture: one JSON object per line for each endpoint invocation.
//!
//! Text fields borrow from the line they are read from when it holds them unescaped: an analysis
//! reads millions of records, and a copy of every field showed in its profile.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

mod fast_path;

/// One captured invocation (`captureData` + `eventMetadata`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaptureRecord<'a> {
    #[serde(borrow)]
    pub capture_data: CaptureData<'a>,
    #[serde(borrow)]
    pub event_metadata: EventMetadata<'a>,
    #[serde(default, borrow, deserialize_with = "borrowed_text")]
    pub event_version: Option<Cow<'a, str>>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaptureData<'a> {
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub endpoint_input: Option<EventData<'a>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub endpoint_output: Option<EventData<'a>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventData<'a> {
    #[serde(default, borrow, deserialize_with = "borrowed_text")]
    pub observed_content_type: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "borrowed_text")]
    pub mode: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub data: Cow<'a, str>,
    pub encoding: Encoding,
}

/// How `data` holds the payload: verbatim CSV or JSON text, or base64 of anything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Encoding {
    Csv,
    Json,
    Base64,
}

impl Encoding {
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Csv => "CSV",
            Encoding::Json => "JSON",
            Encoding::Base64 => "BASE64",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventMetadata<'a> {
    #[serde(default, borrow, deserialize_with = "borrowed_text")]
    pub event_id: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "borrowed_text")]
    pub inference_id: Option<Cow<'a, str>>,
    /// ISO-8601 UTC, e.g. `2022-04-18T00:21:48Z`.
    #[serde(borrow)]
    pub inference_time: Cow<'a, str>,
    /// `ShadowExperiment` for shadow-variant traffic, which the analyzer skips.
    #[serde(
        default,
        borrow,
        deserialize_with = "borrowed_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub invocation_source: Option<Cow<'a, str>>,
}

impl EventMetadata<'_> {
    pub fn is_shadow(&self) -> bool {
        self.invocation_source.as_deref() == Some("ShadowExperiment")
    }
}

impl<'a> CaptureRecord<'a> {
    /// Reads one line of a capture file, borrowing from it. Usual lines take a fast path
    /// (`capture/fast_path.rs`); any other goes to serde_json, which words the error when there
    /// is one. Both read a line the same way.
    pub fn from_line(line: &'a str) -> Result<Self, serde_json::Error> {
        match fast_path::parse(line) {
            Some(record) => Ok(record),
            None => serde_json::from_str(line),
        }
    }
}

/// An optional text field that borrows from the input like a plain `Cow<str>` field does (serde
/// borrows a `Cow` only when it is the field's whole type, so `Option<Cow>` would allocate).
fn borrowed_text<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Cow<'de, str>>, D::Error> {
    #[derive(Deserialize)]
    struct Text<'a>(#[serde(borrow)] Cow<'a, str>);
    Ok(Option::<Text<'de>>::deserialize(deserializer)?.map(|text| text.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescaped_text_is_borrowed_and_escaped_text_is_not() {
        let line = r#"{"captureData":{"endpointInput":{"observedContentType":"text/csv","mode":"INPUT","data":"1,\"a\"","encoding":"CSV"}},"eventMetadata":{"eventId":"e1","inferenceId":"i\n1","inferenceTime":"2024-01-01T00:00:00Z"},"eventVersion":"0"}"#;
        let record: CaptureRecord = serde_json::from_str(line).unwrap();
        let input = record.capture_data.endpoint_input.as_ref().unwrap();
        let borrowed = |text: &Option<Cow<'_, str>>| matches!(text, Some(Cow::Borrowed(_)));
        assert!(borrowed(&input.observed_content_type) && borrowed(&input.mode));
        assert!(borrowed(&record.event_metadata.event_id) && borrowed(&record.event_version));
        assert!(matches!(record.event_metadata.inference_time, Cow::Borrowed(_)));
        assert_eq!(record.event_metadata.inference_id.as_deref(), Some("i\n1"));
        assert!(
            matches!(input.data, Cow::Owned(_)),
            "an escaped payload is unescaped into a copy"
        );
        assert_eq!(input.data, "1,\"a\"");
        assert_eq!(record.event_metadata.invocation_source, None);
    }
}
