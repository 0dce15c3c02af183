//! The usual capture line, read without serde: objects and plain strings in any key order, no
//! escapes. serde_json took about a third of an analysis run's instructions on such lines; this
//! reader takes about 70% of serde_json's instructions per line (callgrind, the bench capture).
//!
//! It answers only when serde would produce the same record: anything it does not handle (an
//! escape, a number, `null`, an array, a duplicate or missing field, an unknown encoding, trailing
//! text) returns `None`, and [`CaptureRecord::from_line`](super::CaptureRecord::from_line) asks
//! serde_json instead, which also words every error. Tested against serde_json on a byte deleted
//! or inserted at every position of real lines, and fuzzed
//! (`fuzz/fuzz_targets/capture_fast_path.rs`).

use std::borrow::Cow;

use super::{CaptureData, CaptureRecord, Encoding, EventData, EventMetadata};

/// How deep an unknown key's value may nest before the slow path takes over.
const MAX_SKIPPED_DEPTH: usize = 8;

pub(super) fn parse(line: &str) -> Option<CaptureRecord<'_>> {
    // An escape anywhere sends the line to serde_json anyway: decide with one scan rather than
    // after reading most of the line (JSON payloads are escaped inside `data`).
    if memchr::memchr(b'\\', line.as_bytes()).is_some() {
        return None;
    }
    let mut scanner = Scanner { line, at: 0 };
    let (mut capture_data, mut event_metadata, mut event_version) = (None, None, None);
    scanner.object(|scanner, key| match key {
        "captureData" => set(&mut capture_data, scanner.capture_data()?),
        "eventMetadata" => set(&mut event_metadata, scanner.event_metadata()?),
        "eventVersion" => set(&mut event_version, scanner.string()?),
        _ => scanner.skip_value(0),
    })?;
    scanner.skip_whitespace();
    (scanner.at == line.len()).then_some(())?;
    Some(CaptureRecord {
        capture_data: capture_data?,
        event_metadata: event_metadata?,
        event_version: event_version.map(Cow::Borrowed),
    })
}

/// Fills an empty slot; a second value for a field is serde's "duplicate field" error.
fn set<T>(slot: &mut Option<T>, value: T) -> Option<()> {
    slot.is_none().then(|| *slot = Some(value))
}

/// Where a string's text ends: the first `"`, `\` or control character, eight bytes at a time
/// (a byte loop made this reader a third slower).
fn string_end(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGH_BITS: u64 = ONES * 0x80;
    // The high bit of each byte below `limit` (of each zero byte when `limit` is 1). Bits above
    // the first such byte may be false (a borrow carries), so only the lowest set bit is used.
    let below = |word: u64, limit: u64| word.wrapping_sub(ONES * limit) & !word & HIGH_BITS;
    let mut chunks = bytes.chunks_exact(8);
    for (index, chunk) in chunks.by_ref().enumerate() {
        let word = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        let quote = below(word ^ (ONES * u64::from(b'"')), 1);
        let backslash = below(word ^ (ONES * u64::from(b'\\')), 1);
        let found = quote | backslash | below(word, 0x20);
        if found != 0 {
            return Some(index * 8 + found.trailing_zeros() as usize / 8);
        }
    }
    let rest = chunks.remainder();
    let position = rest.iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
    Some(bytes.len() - rest.len() + position)
}

struct Scanner<'a> {
    line: &'a str,
    at: usize,
}

impl<'a> Scanner<'a> {
    fn skip_whitespace(&mut self) {
        let bytes = self.line.as_bytes();
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = bytes.get(self.at) {
            self.at += 1;
        }
    }

    /// The next byte after whitespace, not consumed.
    fn peek(&mut self) -> Option<u8> {
        self.skip_whitespace();
        self.line.as_bytes().get(self.at).copied()
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.at += 1)
    }

    /// A string without escapes or control characters (which serde_json rejects), borrowed.
    fn string(&mut self) -> Option<&'a str> {
        self.expect(b'"')?;
        let start = self.at;
        let end = start + string_end(&self.line.as_bytes()[start..])?;
        (self.line.as_bytes()[end] == b'"').then_some(())?;
        self.at = end + 1;
        // Both ends are next to an ASCII quote, so they are character boundaries.
        Some(&self.line[start..end])
    }

    /// An object; `member` reads the value of each key.
    fn object(&mut self, mut member: impl FnMut(&mut Self, &'a str) -> Option<()>) -> Option<()> {
        self.expect(b'{')?;
        if self.peek()? == b'}' {
            self.at += 1;
            return Some(());
        }
        loop {
            let key = self.string()?;
            self.expect(b':')?;
            member(self, key)?;
            match self.peek()? {
                b',' => self.at += 1,
                b'}' => {
                    self.at += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// The value of a key serde ignores, when it is a string or an object of such values.
    fn skip_value(&mut self, depth: usize) -> Option<()> {
        match self.peek()? {
            b'"' => self.string().map(drop),
            b'{' if depth < MAX_SKIPPED_DEPTH => self.object(|scanner, _| scanner.skip_value(depth + 1)),
            _ => None,
        }
    }

    fn capture_data(&mut self) -> Option<CaptureData<'a>> {
        let (mut endpoint_input, mut endpoint_output) = (None, None);
        self.object(|scanner, key| match key {
            "endpointInput" => set(&mut endpoint_input, scanner.event_data()?),
            "endpointOutput" => set(&mut endpoint_output, scanner.event_data()?),
            _ => scanner.skip_value(0),
        })?;
        Some(CaptureData {
            endpoint_input,
            endpoint_output,
        })
    }

    fn event_data(&mut self) -> Option<EventData<'a>> {
        let (mut content_type, mut mode, mut data, mut encoding) = (None, None, None, None);
        self.object(|scanner, key| match key {
            "observedContentType" => set(&mut content_type, scanner.string()?),
            "mode" => set(&mut mode, scanner.string()?),
            "data" => set(&mut data, scanner.string()?),
            "encoding" => {
                let text = scanner.string()?;
                let known = [Encoding::Csv, Encoding::Json, Encoding::Base64];
                set(&mut encoding, known.into_iter().find(|known| known.as_str() == text)?)
            }
            _ => scanner.skip_value(0),
        })?;
        Some(EventData {
            observed_content_type: content_type.map(Cow::Borrowed),
            mode: mode.map(Cow::Borrowed),
            data: Cow::Borrowed(data?),
            encoding: encoding?,
        })
    }

    fn event_metadata(&mut self) -> Option<EventMetadata<'a>> {
        let (mut event_id, mut inference_id, mut inference_time, mut invocation_source) = (None, None, None, None);
        self.object(|scanner, key| match key {
            "eventId" => set(&mut event_id, scanner.string()?),
            "inferenceId" => set(&mut inference_id, scanner.string()?),
            "inferenceTime" => set(&mut inference_time, scanner.string()?),
            "invocationSource" => set(&mut invocation_source, scanner.string()?),
            _ => scanner.skip_value(0),
        })?;
        Some(EventMetadata {
            event_id: event_id.map(Cow::Borrowed),
            inference_id: inference_id.map(Cow::Borrowed),
            inference_time: Cow::Borrowed(inference_time?),
            invocation_source: invocation_source.map(Cow::Borrowed),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Real layouts: both parts, input only with every metadata field, and keys SageMaker may add.
    const LINES: [&str; 3] = [
        r#"{"captureData":{"endpointInput":{"observedContentType":"text/csv","mode":"INPUT","data":"46,15993.56,FR,true","encoding":"CSV"},"endpointOutput":{"observedContentType":"text/csv; charset=utf-8","mode":"OUTPUT","data":"0.900761","encoding":"CSV"}},"eventMetadata":{"eventId":"2d0d723f","inferenceTime":"2026-11-25T13:00:00Z"},"eventVersion":"0"}"#,
        r#"{ "captureData" : { "endpointInput" : { "data" : "eyJhIjogMX0=", "encoding" : "BASE64", "observedContentType" : "application/json" } },
            "eventMetadata" : { "inferenceId" : "i-1", "invocationSource" : "ShadowExperiment", "inferenceTime" : "2026-11-25T13:00:00.123Z", "eventId" : "e" } }"#,
        r#"{"eventVersion":"0","future":{"a":"b","c":{}},"captureData":{"extra":"x","endpointOutput":{"data":"[1, 2]","encoding":"JSON","note":{"k":"v"}}},"eventMetadata":{"inferenceTime":"t"}}"#,
    ];

    fn serde_reading(line: &str) -> Option<CaptureRecord<'_>> {
        serde_json::from_str(line).ok()
    }

    #[test]
    fn string_end_finds_the_first_quote_backslash_or_control_character() {
        let naive = |bytes: &[u8]| bytes.iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20);
        // Every byte value at every position of a 15-byte text of ASCII and UTF-8 bytes, alone
        // and before a later stop byte.
        let filler: Vec<u8> = "ab\u{e9}c d\u{20ac}e-fgh".bytes().collect();
        for at in 0..filler.len() {
            for byte in 0..=255u8 {
                let mut text = filler.clone();
                text[at] = byte;
                assert_eq!(string_end(&text), naive(&text), "{byte:#x} at {at}");
                text.extend_from_slice(b"xy\"\\\x1f");
                assert_eq!(string_end(&text), naive(&text), "{byte:#x} at {at}, stops after");
            }
        }
        assert_eq!(string_end(b""), None);
    }

    #[test]
    fn real_lines_take_the_fast_path_and_read_as_serde_reads_them() {
        for line in LINES {
            let fast = parse(line).unwrap_or_else(|| panic!("fast path declined {line}"));
            assert_eq!(Some(&fast), serde_reading(line).as_ref(), "{line}");
            assert!(matches!(
                fast.capture_data.endpoint_input.as_ref().map(|d| &d.data),
                None | Some(Cow::Borrowed(_))
            ));
        }
    }

    /// Every single-byte deletion, and every insertion of a byte that JSON gives meaning to, at
    /// every position: where the fast path answers, serde_json answers the same; where serde_json
    /// fails, the fast path declines (so serde_json words the error).
    #[test]
    fn every_single_byte_edit_reads_as_serde_reads_it_or_is_declined() {
        let inserted = [b'"', b'\\', b'{', b'}', b'[', b',', b':', b' ', b'1', b'n', b'x', 0x01];
        let (mut answered, mut declined) = (0, 0);
        for line in LINES {
            for at in 0..line.len() {
                let mut edits = vec![[&line.as_bytes()[..at], &line.as_bytes()[at + 1..]].concat()];
                for byte in inserted {
                    edits.push([&line.as_bytes()[..at], &[byte], &line.as_bytes()[at..]].concat());
                }
                for edit in edits {
                    let Ok(edited) = std::str::from_utf8(&edit) else {
                        continue;
                    };
                    match parse(edited) {
                        Some(fast) => {
                            answered += 1;
                            assert_eq!(Some(fast), serde_reading(edited), "{edited}");
                        }
                        None => declined += 1,
                    }
                }
            }
        }
        // Both outcomes are exercised: edits inside values and whitespace keep the fast path.
        assert!(
            answered > 1000 && declined > 1000,
            "answered {answered}, declined {declined}"
        );
    }

    #[test]
    fn declines_what_serde_reads_differently_or_rejects() {
        let declined = [
            r#"{"captureData":{"endpointOutput":{"data":"a\"b","encoding":"CSV"}},"eventMetadata":{"inferenceTime":"t"}}"#,
            r#"{"captureData":{"endpointOutput":{"data":"1","encoding":"CSV","mode":null}},"eventMetadata":{"inferenceTime":"t"}}"#,
            r#"{"captureData":{"endpointOutput":{"data":"1","encoding":"csv"}},"eventMetadata":{"inferenceTime":"t"}}"#,
            r#"{"captureData":{"endpointOutput":{"data":"1","data":"2","encoding":"CSV"}},"eventMetadata":{"inferenceTime":"t"}}"#,
            r#"{"captureData":{"endpointOutput":{"encoding":"CSV"}},"eventMetadata":{"inferenceTime":"t"}}"#,
            r#"{"captureData":{},"eventMetadata":{"inferenceTime":"t"}} x"#,
            r#"{"captureData":{},"eventMetadata":{"inferenceTime":"t"},"n":1}"#,
            r#"{"captureData":{},"eventMetadata":{}}"#,
        ];
        for line in declined {
            assert_eq!(parse(line), None, "{line}");
        }
        let nested = format!("{}\"\"{}", r#"{"a":"#.repeat(9), "}".repeat(9));
        let deep = format!(r#"{{"captureData":{{}},"eventMetadata":{{"inferenceTime":"t"}},"x":{nested}}}"#);
        assert!(serde_reading(&deep).is_some() && parse(&deep).is_none());
    }
}
