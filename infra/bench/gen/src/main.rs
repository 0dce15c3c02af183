//! `bench-gen`: deterministic data for modelmon's benchmarks (infra/bench/run.sh).
//!
//! - `bench-gen csv --rows N --out FILE` (or `--mb M`): a CSV with a header and twelve columns:
//!   integers, floats (two heavy-tailed), about 5% missing values (empty fields) in three
//!   columns, low-cardinality strings (one quoted value holds a comma), exactly 120 device
//!   names, a high-cardinality id and a boolean.
//! - `bench-gen capture --records N --out DIR --start 2026-11-25T13:00:00Z`: SageMaker
//!   data-capture JSON Lines for the same columns, spread evenly over one hour under
//!   `DIR/bench-endpoint/AllTraffic/yyyy/mm/dd/hh/`, one file per minute. The output (`score`,
//!   the CSV's first column) and the input (the other columns) map by position onto a baseline of
//!   the CSV, as SageMaker's analyzer maps them.
//!
//! Same arguments, same bytes: the PRNG is splitmix64 and every value is computed with `+ - * /`
//! and `sqrt` only (IEEE-exact on every platform), then written with Rust's exact float
//! formatting. A smaller file made with the same seed is a prefix of a larger one.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::{DateTime, Duration, Timelike, Utc};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "bench-gen", about = "Deterministic benchmark data for modelmon")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// A CSV with a header: as many rows as --rows, or rows until the file holds --mb MiB.
    Csv {
        #[arg(long, conflicts_with = "mb", required_unless_present = "mb")]
        rows: Option<u64>,
        /// Size of the file in MiB (2^20 bytes): rows are written until it is reached.
        #[arg(long)]
        mb: Option<f64>,
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 6)]
        seed: u64,
    },
    /// SageMaker data capture (JSON Lines), spread over one hour from --start.
    Capture {
        #[arg(long)]
        records: u64,
        /// The capture root: files go under DIR/bench-endpoint/AllTraffic/yyyy/mm/dd/hh/.
        #[arg(long)]
        out: PathBuf,
        /// The first record's inferenceTime (RFC 3339).
        #[arg(long, default_value = "2026-11-25T13:00:00Z")]
        start: String,
        #[arg(long, default_value_t = 7)]
        seed: u64,
    },
}

const ENDPOINT: &str = "bench-endpoint";
const VARIANT: &str = "AllTraffic";

/// The CSV's columns, in order. `score` (the model's output) comes first.
const COLUMNS: [&str; 12] = [
    "score",
    "age",
    "income",
    "balance",
    "purchases",
    "tenure_days",
    "latency_ms",
    "country",
    "plan",
    "device",
    "customer_id",
    "is_active",
];

const COUNTRIES: [&str; 40] = [
    "US", "DE", "GB", "FR", "IN", "BR", "JP", "CA", "AU", "ES", "IT", "MX", "NL", "SE", "PL", "KR", "TR", "AR", "ZA",
    "NG", "EG", "ID", "PH", "VN", "TH", "MY", "SG", "NZ", "IE", "PT", "CH", "AT", "BE", "DK", "NO", "FI", "CZ", "GR",
    "CL", "CO",
];

/// Plans by cumulative percentage; one value needs quoting.
const PLANS: [(u64, &str); 5] = [
    (40, "free"),
    (70, "basic"),
    (88, "pro"),
    (95, "enterprise"),
    (100, "\"pro, annual\""),
];

/// Exactly SageMaker's categorical limit: `device` still gets a histogram.
const DEVICES: u64 = 120;

/// Percentage of empty fields in `income`, `tenure_days` and `plan`.
const MISSING_PERCENT: u64 = 5;

struct SplitMix64(u64);

impl SplitMix64 {
    fn new(seed: u64) -> Self {
        Self(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1]: never zero, so `1 / u` is finite.
    fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Approximately standard normal (Irwin–Hall: twelve uniforms), exact arithmetic only.
    fn normal(&mut self) -> f64 {
        (0..12).map(|_| self.unit()).sum::<f64>() - 6.0
    }

    fn missing(&mut self) -> bool {
        self.below(100) < MISSING_PERCENT
    }
}

/// Appends one CSV record (no line end) to `line`.
fn write_row(rng: &mut SplitMix64, line: &mut Vec<u8>) {
    let w = line;
    // score: the model's output, in (0, 1].
    let _ = write!(w, "{:.6}", rng.unit());
    // age: integral, roughly normal, clipped to 18..=95.
    let age = (42.0 + 14.0 * rng.normal()).clamp(18.0, 95.0) as i64;
    let _ = write!(w, ",{age}");
    // income: Pareto (alpha 2), heavy-tailed, 5% missing.
    if rng.missing() {
        w.push(b',');
    } else {
        let _ = write!(w, ",{:.2}", 15000.0 / rng.unit().sqrt());
    }
    // balance: fractional, can be negative.
    let _ = write!(w, ",{:.2}", 1200.0 + 3000.0 * rng.normal());
    // purchases: integral, heavy-tailed (discrete Pareto).
    let _ = write!(w, ",{}", (3.0 / rng.unit().sqrt()) as i64 - 3);
    // tenure_days: integral, uniform, 5% missing.
    if rng.missing() {
        w.push(b',');
    } else {
        let _ = write!(w, ",{}", rng.below(3651));
    }
    // latency_ms: Pareto (alpha 1), very heavy-tailed.
    let _ = write!(w, ",{:.3}", 2.5 / rng.unit());
    // country: 40 values, skewed toward the first.
    let u = rng.unit();
    let country = COUNTRIES[((u * u * COUNTRIES.len() as f64) as usize).min(COUNTRIES.len() - 1)];
    let _ = write!(w, ",{country}");
    // plan: 5 values (one quoted, with a comma), 5% missing.
    if rng.missing() {
        w.push(b',');
    } else {
        let p = rng.below(100);
        let plan = PLANS
            .iter()
            .find(|(limit, _)| p < *limit)
            .map_or("free", |(_, plan)| plan);
        let _ = write!(w, ",{plan}");
    }
    // device: exactly 120 values.
    let _ = write!(w, ",device-{:03}", rng.below(DEVICES));
    // customer_id: high cardinality.
    let _ = write!(w, ",c{:016x}", rng.next_u64());
    // is_active: boolean.
    w.extend_from_slice(if rng.below(10) < 7 { b",true" } else { b",false" });
}

fn create(path: &Path) -> Result<BufWriter<File>, String> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    }
    let file = File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(BufWriter::with_capacity(1 << 20, file))
}

fn write_csv(rows: Option<u64>, mb: Option<f64>, out: &Path, seed: u64) -> Result<(), String> {
    let target_bytes = mb.map(|mb| (mb * (1u64 << 20) as f64) as u64);
    let mut writer = create(out)?;
    let io = |e: std::io::Error| format!("{}: {e}", out.display());
    let mut line = Vec::with_capacity(256);
    line.extend_from_slice(COLUMNS.join(",").as_bytes());
    line.push(b'\n');
    writer.write_all(&line).map_err(io)?;
    let mut bytes = line.len() as u64;
    let mut rng = SplitMix64::new(seed);
    let mut written = 0u64;
    loop {
        match (rows, target_bytes) {
            (Some(rows), _) if written >= rows => break,
            (None, Some(target)) if bytes >= target => break,
            _ => {}
        }
        line.clear();
        write_row(&mut rng, &mut line);
        line.push(b'\n');
        writer.write_all(&line).map_err(io)?;
        bytes += line.len() as u64;
        written += 1;
    }
    writer.flush().map_err(io)?;
    eprintln!("bench-gen: {}: {written} rows, {bytes} bytes", out.display());
    Ok(())
}

/// A UUID-shaped (version 4 layout) string from the PRNG.
fn uuid(rng: &mut SplitMix64) -> String {
    let a = rng.next_u64();
    let b = rng.next_u64();
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | ((b >> 48) & 0x3fff),
        b & 0xffff_ffff_ffff
    )
}

/// Appends `text` to `out` as the inside of a JSON string.
fn json_escape(text: &[u8], out: &mut Vec<u8>) {
    for &byte in text {
        match byte {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b if b < 0x20 => {
                let _ = write!(out, "\\u{:04x}", b);
            }
            b => out.push(b),
        }
    }
}

fn write_capture(records: u64, root: &Path, start: &str, seed: u64) -> Result<(), String> {
    let start: DateTime<Utc> = DateTime::parse_from_rfc3339(start)
        .map_err(|e| format!("--start `{start}` is not an RFC 3339 time: {e}"))?
        .with_timezone(&Utc);
    let mut rng = SplitMix64::new(seed);
    let mut row = Vec::with_capacity(256);
    let mut line = Vec::with_capacity(512);
    let mut current: Option<(i64, PathBuf, BufWriter<File>)> = None;
    let (mut files, mut bytes) = (0u64, 0u64);
    let hour_ms: u128 = 3_600_000;
    for i in 0..records {
        let offset_ms = (u128::from(i) * hour_ms / u128::from(records.max(1))) as i64;
        let time = start + Duration::milliseconds(offset_ms);
        let minute = time.timestamp().div_euclid(60);
        if current.as_ref().map(|(m, _, _)| *m) != Some(minute) {
            if let Some((_, path, mut writer)) = current.take() {
                writer.flush().map_err(|e| format!("{}: {e}", path.display()))?;
            }
            // Named after the file's first record, in the hour folder of that record.
            let path = root
                .join(ENDPOINT)
                .join(VARIANT)
                .join(time.format("%Y/%m/%d/%H").to_string())
                .join(format!(
                    "{:02}-{:02}-{:03}-{}.jsonl",
                    time.minute(),
                    time.second(),
                    time.timestamp_subsec_millis(),
                    uuid(&mut rng)
                ));
            let writer = create(&path)?;
            files += 1;
            current = Some((minute, path, writer));
        }
        row.clear();
        write_row(&mut rng, &mut row);
        let comma = row.iter().position(|&b| b == b',').expect("a row has twelve fields");
        let (output, input) = (&row[..comma], &row[comma + 1..]);
        line.clear();
        line.extend_from_slice(
            br#"{"captureData":{"endpointInput":{"observedContentType":"text/csv","mode":"INPUT","data":""#,
        );
        json_escape(input, &mut line);
        line.extend_from_slice(
            br#"","encoding":"CSV"},"endpointOutput":{"observedContentType":"text/csv; charset=utf-8","mode":"OUTPUT","data":""#,
        );
        json_escape(output, &mut line);
        line.extend_from_slice(br#"","encoding":"CSV"}},"eventMetadata":{"eventId":""#);
        line.extend_from_slice(uuid(&mut rng).as_bytes());
        line.extend_from_slice(br#"","inferenceTime":""#);
        line.extend_from_slice(time.format("%Y-%m-%dT%H:%M:%SZ").to_string().as_bytes());
        line.extend_from_slice(b"\"},\"eventVersion\":\"0\"}\n");
        let (_, path, writer) = current.as_mut().expect("a file is open");
        writer
            .write_all(&line)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        bytes += line.len() as u64;
    }
    if let Some((_, path, mut writer)) = current.take() {
        writer.flush().map_err(|e| format!("{}: {e}", path.display()))?;
    }
    eprintln!(
        "bench-gen: {}: {records} capture records in {files} files, {bytes} bytes",
        root.display()
    );
    Ok(())
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Csv { rows, mb, out, seed } => write_csv(rows, mb, &out, seed),
        Command::Capture {
            records,
            out,
            start,
            seed,
        } => write_capture(records, &out, &start, seed),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("bench-gen: error: {message}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_have_every_column_and_are_reproducible() {
        let mut a = SplitMix64::new(1);
        let mut b = SplitMix64::new(1);
        for _ in 0..1000 {
            let (mut x, mut y) = (Vec::new(), Vec::new());
            write_row(&mut a, &mut x);
            write_row(&mut b, &mut y);
            assert_eq!(x, y);
            // The quoted plan holds one comma of its own.
            let commas = x.iter().filter(|&&c| c == b',').count();
            let quoted = x.windows(5).any(|w| w == b"\"pro,");
            assert_eq!(commas, COLUMNS.len() - 1 + usize::from(quoted));
        }
    }

    #[test]
    fn unit_is_never_zero() {
        let mut rng = SplitMix64::new(0);
        assert!((0..100_000).all(|_| {
            let u = rng.unit();
            u > 0.0 && u <= 1.0
        }));
    }
}
