//! `dataset_format`: the JSON string by which SageMaker's analyzer is told how its input is laid
//! out, e.g. `{"csv": {"header": true, "output_columns_position": "START"}}`.

use serde::Deserialize;

use crate::FormatError;

/// The dataset layouts of a baselining job or a batch input.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum DatasetFormatSpec {
    Csv(CsvSpec),
    Json(JsonSpec),
    Parquet(EmptySpec),
    /// Endpoint capture (`{"sagemakerCaptureJson": {...}}`).
    SagemakerCaptureJson(serde_json::Value),
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct CsvSpec {
    /// The container's default is no header.
    #[serde(default)]
    pub header: bool,
    /// `START` or `END`: where a batch job's output columns sit (only `START` is read here).
    #[serde(default)]
    pub output_columns_position: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct JsonSpec {
    /// The SDK writes `lines`, the docs `line`; both mean JSON Lines.
    #[serde(default, alias = "line")]
    pub lines: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct EmptySpec {}

impl DatasetFormatSpec {
    /// Parses the JSON text, naming `source` (e.g. `dataset_format`) on error.
    pub fn parse(text: &str, source: &str) -> Result<DatasetFormatSpec, FormatError> {
        crate::from_json_slice(text.as_bytes(), source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_sdk_and_docs_spellings() {
        let csv = DatasetFormatSpec::parse(r#"{"csv": {"header": true, "output_columns_position": "START"}}"#, "f");
        assert_eq!(
            csv.unwrap(),
            DatasetFormatSpec::Csv(CsvSpec {
                header: true,
                output_columns_position: Some("START".into())
            })
        );
        assert_eq!(
            DatasetFormatSpec::parse(r#"{"csv": {}}"#, "f").unwrap(),
            DatasetFormatSpec::Csv(CsvSpec::default())
        );
        for json in [r#"{"json": {"lines": true}}"#, r#"{"json": {"line": true}}"#] {
            assert!(matches!(
                DatasetFormatSpec::parse(json, "f").unwrap(),
                DatasetFormatSpec::Json(JsonSpec { lines: Some(true) })
            ));
        }
        assert_eq!(
            DatasetFormatSpec::parse(r#"{"parquet": {}}"#, "f").unwrap(),
            DatasetFormatSpec::Parquet(EmptySpec {})
        );
    }

    #[test]
    fn names_what_is_wrong() {
        let err = DatasetFormatSpec::parse(r#"{"tsv": {}}"#, "dataset_format")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("dataset_format: line 1"), "{err}");
        assert!(err.contains("tsv"), "{err}");
        let err = DatasetFormatSpec::parse(r#"{"csv": {"header": "yes"}}"#, "dataset_format")
            .unwrap_err()
            .to_string();
        assert!(err.contains("csv.header"), "{err}");
    }
}
