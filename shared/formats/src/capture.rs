//! SageMaker data capture: one JSON object per line for each endpoint invocation.

use serde::{Deserialize, Serialize};

/// One captured invocation (`captureData` + `eventMetadata`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaptureRecord {
    pub capture_data: CaptureData,
    pub event_metadata: EventMetadata,
    #[serde(default)]
    pub event_version: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaptureData {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_input: Option<EventData>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_output: Option<EventData>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventData {
    #[serde(default)]
    pub observed_content_type: Option<String>,
    #[serde(default)]
    pub mode: Option<String>,
    pub data: String,
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
pub struct EventMetadata {
    #[serde(default)]
    pub event_id: Option<String>,
    #[serde(default)]
    pub inference_id: Option<String>,
    /// ISO-8601 UTC, e.g. `2022-04-18T00:21:48Z`.
    pub inference_time: String,
    /// `ShadowExperiment` for shadow-variant traffic, which the analyzer skips.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invocation_source: Option<String>,
}

impl EventMetadata {
    pub fn is_shadow(&self) -> bool {
        self.invocation_source.as_deref() == Some("ShadowExperiment")
    }
}
