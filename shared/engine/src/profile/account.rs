//! The account of records: every record read is analysed, rejected with a reason, or dropped by
//! the user's record preprocessor (which returned `[]` or `None` for it).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Examples kept per rejection reason; the count is always exact.
const EXAMPLES_PER_REASON: usize = 5;

/// Why a record was not analysed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    /// A CSV row with more or fewer fields than the header.
    WrongFieldCount,
    /// A CSV quoted field that is never closed.
    UnclosedQuote,
    /// Bytes that are not UTF-8.
    InvalidUtf8,
    /// A line that is not a JSON object.
    MalformedJson,
    /// A JSON value that is an object or array (only flat records are profiled).
    NestedValue,
    /// A capture payload that could not be decoded (bad base64, unknown encoding...).
    BadPayload,
    /// The record preprocessor raised on the record, or returned something that is no rows.
    Preprocessor,
}

impl RejectReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::WrongFieldCount => "wrong field count",
            RejectReason::UnclosedQuote => "unclosed quote",
            RejectReason::InvalidUtf8 => "invalid UTF-8",
            RejectReason::MalformedJson => "malformed JSON",
            RejectReason::NestedValue => "nested value",
            RejectReason::BadPayload => "bad payload",
            RejectReason::Preprocessor => "preprocessor error",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Rejections {
    pub count: u64,
    /// The first few, as `file:line: what`.
    pub examples: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RecordAccount {
    pub read: u64,
    pub analysed: u64,
    pub rejected: BTreeMap<RejectReason, Rejections>,
    /// Records the record preprocessor dropped (it returned `[]` or `None`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub dropped: u64,
    /// Input files that held no bytes at all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub empty_files: Vec<String>,
}

impl RecordAccount {
    pub fn analysed_one(&mut self) {
        self.read += 1;
        self.analysed += 1;
    }

    pub fn analysed_many(&mut self, records: u64) {
        self.read += records;
        self.analysed += records;
    }

    pub fn reject(&mut self, reason: RejectReason, example: impl FnOnce() -> String) {
        self.read += 1;
        let tally = self.rejected.entry(reason).or_default();
        tally.count += 1;
        if tally.examples.len() < EXAMPLES_PER_REASON {
            tally.examples.push(example());
        }
    }

    /// A record the record preprocessor dropped.
    pub fn dropped_one(&mut self) {
        self.read += 1;
        self.dropped += 1;
    }

    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().map(|r| r.count).sum()
    }

    pub fn merge(&mut self, other: &RecordAccount) {
        self.read += other.read;
        self.analysed += other.analysed;
        self.dropped += other.dropped;
        for (reason, tally) in &other.rejected {
            let mine = self.rejected.entry(*reason).or_default();
            mine.count += tally.count;
            let room = EXAMPLES_PER_REASON.saturating_sub(mine.examples.len());
            mine.examples.extend(tally.examples.iter().take(room).cloned());
        }
        self.empty_files.extend(other.empty_files.iter().cloned());
    }

    /// One line: `read 10, analysed 8, rejected 2 (wrong field count 2)`, and `, dropped by the
    /// preprocessor N` when it dropped any.
    pub fn summary(&self) -> String {
        let mut line = format!(
            "read {}, analysed {}, rejected {}",
            self.read,
            self.analysed,
            self.rejected_total()
        );
        if !self.rejected.is_empty() {
            let parts: Vec<String> = self
                .rejected
                .iter()
                .map(|(reason, tally)| format!("{} {}", reason.as_str(), tally.count))
                .collect();
            line.push_str(&format!(" ({})", parts.join(", ")));
        }
        if self.dropped > 0 {
            line.push_str(&format!(", dropped by the preprocessor {}", self.dropped));
        }
        line
    }
}

fn is_zero(count: &u64) -> bool {
    *count == 0
}
